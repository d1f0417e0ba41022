"""Which patient a resource belongs to, for ``patient/`` scopes (pure).

A ``patient/`` token may see only its patient's compartment. The compartment of a resource is
read from the references FHIR's Patient compartment definition uses for the types this platform
holds (subject, patient, beneficiary, for, individual, participant.actor, ...); a resource that
names no patient is outside every compartment, so a patient-limited token never sees it.
"""

from __future__ import annotations

from typing import Any

# Elements whose Reference(Patient) puts a resource in that patient's compartment.
_PATIENT_ELEMENTS = ("subject", "patient", "beneficiary", "for", "individual", "author")
_PATIENT_LISTS = ("participant", "performer", "agent")


def patient_id_of(reference: object) -> str | None:
    """``Patient/123``, ``https://x/fhir/Patient/123`` or ``Patient/123/_history/2`` -> ``123``."""
    if not isinstance(reference, str):
        return None
    parts = reference.split("/")
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    if len(parts) >= 2 and parts[-2] == "Patient" and parts[-1]:
        return parts[-1]
    return None


def patients_of(resource: dict[str, Any]) -> set[str]:
    """Every Patient id whose compartment holds ``resource``."""
    if resource.get("resourceType") == "Patient":
        return {str(resource.get("id"))}
    found: set[str] = set()
    for name in _PATIENT_ELEMENTS:
        found |= _ids(resource.get(name))
    for name in _PATIENT_LISTS:
        for item in _as_list(resource.get(name)):
            if isinstance(item, dict):
                found |= _ids(item.get("actor")) | _ids(item.get("who"))
    return found


def _ids(value: object) -> set[str]:
    ids = set()
    for item in _as_list(value):
        if isinstance(item, dict):
            pid = patient_id_of(item.get("reference"))
            if pid:
                ids.add(pid)
    return ids


def _as_list(value: object) -> list[Any]:
    if isinstance(value, list):
        return value
    return [] if value is None else [value]


def in_compartment(resource: dict[str, Any], patient_id: str) -> bool:
    return patient_id in patients_of(resource)
