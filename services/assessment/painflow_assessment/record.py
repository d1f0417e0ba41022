"""The patient's record as the referral events carry it, kept here as copies (same ids as at
the referral service, so ``Patient/{id}`` means the same patient everywhere), and the opioid
load computed from it.

Every referral event carries the patient's current record; a copy changes only when its content
does, and a change in the MedicationStatements recomputes the MME.
"""

from __future__ import annotations

from typing import Any

from painflow_assessment.context import AssessmentContext
from painflow_assessment.domain.mme import compute_mme, mme_observation
from painflow_assessment.search import RECORD_TYPES
from painflow_shared.events.envelope import Envelope
from painflow_shared.fhir.references import reference_string


def keep_record(ctx: AssessmentContext, event: Envelope) -> bool:
    """Store or refresh each copy the event carries; True when a MedicationStatement changed."""
    medications_changed = False
    ctx.store.load(copy_keys(event))  # one query for all copies (none after a batch's preload)
    for resource_type in RECORD_TYPES:
        for resource in event.resources(resource_type):
            if _upsert(ctx, resource) and resource_type == "MedicationStatement":
                medications_changed = True
    return medications_changed


def copy_keys(event: Envelope) -> list[tuple[str, str]]:
    """The record resources an event carries, as store keys."""
    return [
        (t, r["id"])
        for t in RECORD_TYPES
        for r in event.resources(t)
        if isinstance(r.get("id"), str)
    ]


def _upsert(ctx: AssessmentContext, resource: dict[str, Any]) -> bool:
    current = ctx.store.find(resource["resourceType"], resource["id"])
    if current is not None and _content(current) == _content(resource):
        return False
    ctx.store.update(_content(resource))
    return True


def _content(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k != "meta"}


def refresh_mme(ctx: AssessmentContext, patient_id: str) -> dict[str, Any]:
    """The patient's MME Observation, recomputed from their MedicationStatements.

    One Observation per patient (``mme-{patient id}``), a new version at each change: a search
    finds the current load, ``_history`` every earlier one."""
    statements = ctx.patient_record(patient_id, "MedicationStatement")
    result = compute_mme(statements, ctx.policies.mme)
    observation = mme_observation(
        result,
        ctx.policies.mme,
        observation_id=f"mme-{patient_id}",
        patient=reference_string("Patient", patient_id),
        effective=ctx.now(),
    )
    stored, _ = ctx.store.update(observation)
    return stored


def current_mme(ctx: AssessmentContext, patient_id: str) -> dict[str, Any] | None:
    return ctx.store.find("Observation", f"mme-{patient_id}")


def event_record(ctx: AssessmentContext, patient_id: str) -> list[dict[str, Any]]:
    """What an event carries so scheduling needs nothing else: the patient and their
    MedicationStatements, AllergyIntolerances and Coverage."""
    # every assessment event carries exactly one Patient: the copy, or at least its id
    patient = ctx.store.find("Patient", patient_id) or {"resourceType": "Patient", "id": patient_id}
    record = ctx.patient_record(patient_id, "MedicationStatement", "AllergyIntolerance", "Coverage")
    return [patient, *record]
