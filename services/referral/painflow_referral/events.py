"""Referral events: each carries what a consumer needs to act without calling back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from painflow_referral.tables import ReferralCase
from painflow_shared.events.envelope import build_event
from painflow_shared.events.outbox import record_event
from painflow_shared.fhir.references import parse_relative, reference_of, reference_string
from painflow_shared.fhir.search import find_resources
from painflow_shared.fhir.store import ResourceStore

RECEIVED = "painflow.referral.received"
ACCEPTED = "painflow.referral.accepted"
REDIRECTED = "painflow.referral.redirected"
REJECTED = "painflow.referral.rejected"
CANCELLED = "painflow.referral.cancelled"

_BY_PATIENT = (
    ("Condition", "patient"),
    ("MedicationStatement", "patient"),
    ("AllergyIntolerance", "patient"),
    ("Coverage", "beneficiary"),
    ("DocumentReference", "patient"),
)


@dataclass(frozen=True)
class EventTarget:
    topic: str
    base_url: str


def publish_referral_event(
    session: Session, store: ResourceStore, target: EventTarget, event_type: str, case: ReferralCase
) -> None:
    service_request = store.read("ServiceRequest", case.service_request_id)
    task = store.read("Task", case.task_id)
    include = [
        store.read("Patient", case.patient_id),
        task,
        store.read("EpisodeOfCare", case.episode_id),
    ]
    include += _patient_record(session, store, case.patient_id)
    include += _requesters(store, service_request)
    envelope = build_event(
        event_type=event_type,
        service="referral",
        base_url=target.base_url,
        patient_id=case.patient_id,
        focus=[service_request, task],
        include=include,
    )
    record_event(session, target.topic, envelope)


def _patient_record(
    session: Session, store: ResourceStore, patient_id: str
) -> list[dict[str, Any]]:
    patient_ref = reference_string("Patient", patient_id)
    found: list[dict[str, Any]] = []
    for resource_type, param in _BY_PATIENT:
        found += find_resources(session, store.registry, resource_type, [(param, patient_ref)])
    return found


def _requesters(store: ResourceStore, service_request: dict[str, Any]) -> list[dict[str, Any]]:
    ref = reference_of(service_request.get("requester"))
    if not ref or "/" not in ref or ref.startswith("http"):
        return []
    resource_type, resource_id = parse_relative(ref)
    found = store.find(resource_type, resource_id)
    return [found] if found else []
