"""Referral events -> the patient's safety profile for booking (medications, allergies)."""

from __future__ import annotations

from typing import Any

from painflow_scheduling.tables import SafetyProfile
from painflow_shared.events.consumer import Handler
from painflow_shared.events.envelope import Envelope, PoisonMessage
from painflow_shared.events.types import ReferralEvent
from painflow_shared.fhir.dates import utcnow
from painflow_shared.unit_of_work import UnitOfWork

OPENS = {ReferralEvent.RECEIVED, ReferralEvent.ACCEPTED}
CLOSES = {
    ReferralEvent.REDIRECTED,
    ReferralEvent.REJECTED,
    ReferralEvent.CANCELLED,
}


def update_safety_profile(uow: UnitOfWork, event: Envelope) -> None:
    session = uow.session
    service_request = event.first("ServiceRequest")
    if service_request is None:
        raise PoisonMessage("a referral event without its ServiceRequest")
    profile = session.get(SafetyProfile, event.patient_id) or SafetyProfile(
        patient_id=event.patient_id, last_event_id="", updated_at=utcnow()
    )
    profile.medications = [
        _coded(m, "medicationCodeableConcept", "status")
        for m in event.resources("MedicationStatement")
    ]
    profile.allergies = [
        _coded(a, "code", "criticality") for a in event.resources("AllergyIntolerance")
    ]
    referrals = set(profile.open_referrals)
    if event.type in OPENS:
        referrals.add(service_request["id"])
    elif event.type in CLOSES:
        referrals.discard(service_request["id"])
    profile.open_referrals = sorted(referrals)
    profile.last_event_id, profile.updated_at = event.id, utcnow()
    session.add(profile)


def _coded(resource: dict[str, Any], element: str, detail: str) -> dict[str, Any]:
    """Codes only (RxNorm, SNOMED): what the booking rules need, no free text."""
    concept = resource.get(element) or {}
    return {
        "id": resource.get("id"),
        "codes": [
            {"system": c.get("system"), "code": c.get("code")} for c in concept.get("coding") or []
        ],
        detail: resource.get(detail),
    }


REFERRAL_HANDLERS: dict[str, Handler] = {t: update_safety_profile for t in OPENS | CLOSES}
