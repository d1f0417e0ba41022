"""The patient's record as the events carry it: Patient, MedicationStatements,
AllergyIntolerances, Coverage and eGFR Observations, kept under their own ids.

Nothing is fetched at booking time. A resource an event carries replaces the copy of the same id
(a changed statement arrives with its id); a resource no longer carried is kept, because an
event from one source never proves another source's statement wrong, and dropping an
anticoagulant is the unsafe side. Patient references are stored relative (``Patient/{id}``).
"""

from __future__ import annotations

from typing import Any

from painflow_scheduling.context import SchedulingContext
from painflow_shared.codes import System
from painflow_shared.events.envelope import Envelope
from painflow_shared.fhir.references import local_reference, reference_string

RECORD_TYPES = ("MedicationStatement", "AllergyIntolerance", "Coverage")
SAFETY_TYPES = frozenset({"MedicationStatement", "AllergyIntolerance"})  # holds and conflicts
PATIENT_ELEMENTS = ("subject", "patient", "beneficiary", "for")


def localise(resource: dict[str, Any], bases: tuple[str, ...]) -> dict[str, Any]:
    """The resource with its patient reference relative when it names a local base."""
    copy = dict(resource)
    for element in PATIENT_ELEMENTS:
        value = copy.get(element)
        if isinstance(value, dict) and isinstance(value.get("reference"), str):
            copy[element] = {**value, "reference": local_reference(value["reference"], bases)}
    return copy


def keep_record(ctx: SchedulingContext, event: Envelope) -> bool:
    """Store what the event carries of the patient's record; True when a MedicationStatement or
    AllergyIntolerance changed (the holds and conflicts must then be recomputed)."""
    keep_patient(ctx, event)
    changed = False
    wanted = [*RECORD_TYPES, "Observation"]
    for resource_type in wanted:
        for resource in event.resources(resource_type):
            if resource_type == "Observation" and not _is_egfr(ctx, resource):
                continue
            if _upsert(ctx, localise(resource, ctx.local_bases), event.patient_id):
                changed = changed or resource_type in SAFETY_TYPES
    return changed


def keep_patient(ctx: SchedulingContext, event: Envelope) -> None:
    patient = next((p for p in event.resources("Patient") if p.get("id") == event.patient_id), None)
    if patient is not None:
        _upsert(ctx, patient, event.patient_id)


def patient_resource(ctx: SchedulingContext, patient_id: str) -> dict[str, Any]:
    """The Patient every scheduling event carries (the copy an event brought, else a stub)."""
    return ctx.store.find("Patient", patient_id) or {"resourceType": "Patient", "id": patient_id}


def _upsert(ctx: SchedulingContext, resource: dict[str, Any], patient_id: str) -> bool:
    if not isinstance(resource.get("id"), str) or not _belongs(resource, patient_id):
        return False
    current = ctx.store.find(resource["resourceType"], resource["id"])
    if current is not None and _content(current) == _content(resource):
        return False
    ctx.store.update(_content(resource))
    return True


def _belongs(resource: dict[str, Any], patient_id: str) -> bool:
    if resource["resourceType"] == "Patient":
        return bool(resource["id"] == patient_id)
    patient = reference_string("Patient", patient_id)
    return any(
        (resource.get(e) or {}).get("reference") == patient
        for e in PATIENT_ELEMENTS
        if isinstance(resource.get(e), dict)
    )


def _content(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k != "meta"}


def _is_egfr(ctx: SchedulingContext, observation: dict[str, Any]) -> bool:
    codes = set(ctx.policies.holds.selected.renal.egfr_loinc) | set(
        ctx.policies.holds.fallback.renal.egfr_loinc
    )
    codings = (observation.get("code") or {}).get("coding") or []
    return any(c.get("system") == System.LOINC and c.get("code") in codes for c in codings)


def patient_record(ctx: SchedulingContext, patient_id: str) -> dict[str, list[dict[str, Any]]]:
    patient = reference_string("Patient", patient_id)
    return {
        "MedicationStatement": ctx.find("MedicationStatement", patient=patient),
        "AllergyIntolerance": ctx.find("AllergyIntolerance", patient=patient),
        "Coverage": ctx.find("Coverage", beneficiary=patient),
        "Observation": [o for o in ctx.find("Observation", patient=patient) if _is_egfr(ctx, o)],
    }
