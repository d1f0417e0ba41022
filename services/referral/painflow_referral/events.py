"""Referral events: each carries what a consumer needs to act without calling back, and no more.

Every referral event carries the ServiceRequest and its triage Task (the focus), the Patient,
the EpisodeOfCare, the requester, and the patient's current record here: Conditions,
MedicationStatements, AllergyIntolerances, Coverage and DocumentReferences. The consumers keep
copies of that record for their step (assessment and scheduling check allergies, medications
and coverage), so an event holds each resource's current version, never its history.

An event is bounded. Document content travels by reference: a DocumentReference's
``content[].attachment.data`` is dropped and its ``url`` points at the document here
(``{base}/DocumentReference/{id}``, unless the sender gave one), so a scanned letter never
rides on the topic. And the unit of work refuses an event over the service's
``max_event_bytes`` (413, nothing stored), so what is accepted can always be delivered.
"""

from __future__ import annotations

import binascii
import contextlib
from typing import Any

from painflow_referral.tables import ReferralCase
from painflow_shared.events.types import ReferralEvent
from painflow_shared.fhir.references import reference_of, reference_string
from painflow_shared.fhir.store import ResourceStore
from painflow_shared.unit_of_work import UnitOfWork

_BY_PATIENT = (
    ("Condition", "patient"),
    ("MedicationStatement", "patient"),
    ("AllergyIntolerance", "patient"),
    ("Coverage", "beneficiary"),
    ("DocumentReference", "patient"),
)


def publish_referral_event(uow: UnitOfWork, event_type: ReferralEvent, case: ReferralCase) -> None:
    """Record a referral event on the unit of work; it is staged when the work commits."""
    store = uow.store
    service_request = store.read("ServiceRequest", case.service_request_id)
    task = store.read("Task", case.task_id)
    include = [
        store.read("Patient", case.patient_id),
        task,
        store.read("EpisodeOfCare", case.episode_id),
    ]
    include += _patient_record(store, case.patient_id, uow.source.base_url)
    include += _requesters(store, service_request)
    uow.publish(
        event_type, patient_id=case.patient_id, focus=[service_request, task], include=include
    )


def _patient_record(store: ResourceStore, patient_id: str, base_url: str) -> list[dict[str, Any]]:
    """The patient's record here, in one query (none for a patient new in this transaction:
    the resources written with it are in hand)."""
    found = store.referring(_BY_PATIENT, reference_string("Patient", patient_id))
    return [_by_reference(r, base_url) for r in found]


def _by_reference(resource: dict[str, Any], base_url: str) -> dict[str, Any]:
    """A DocumentReference whose attachments point at their content instead of holding it."""
    if resource.get("resourceType") != "DocumentReference":
        return resource
    url = f"{base_url}/DocumentReference/{resource['id']}"
    content = [
        {**item, "attachment": _attachment_by_reference(item.get("attachment") or {}, url)}
        for item in resource.get("content") or []
    ]
    return {**resource, "content": content}


def _attachment_by_reference(attachment: dict[str, Any], url: str) -> dict[str, Any]:
    data = attachment.get("data")
    if data is None:
        return attachment
    slim = {k: v for k, v in attachment.items() if k != "data"}
    slim.setdefault("url", url)
    if "size" not in slim:  # FHIR's Attachment.size: the content's bytes, so a consumer can plan
        with contextlib.suppress(binascii.Error, ValueError, TypeError):
            slim["size"] = len(binascii.a2b_base64(data))
    return slim


def _requesters(store: ResourceStore, service_request: dict[str, Any]) -> list[dict[str, Any]]:
    found = store.resolve(reference_of(service_request.get("requester")))
    return [found] if found else []
