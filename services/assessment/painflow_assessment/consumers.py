"""Referral events -> the assessment worklist.

A referral waits for triage (received), is ready for intake questionnaires (accepted), or
leaves the worklist (redirected, rejected, cancelled).
"""

from __future__ import annotations

from painflow_assessment.tables import IntakeItem
from painflow_shared.events.consumer import Handler
from painflow_shared.events.envelope import Envelope, PoisonMessage
from painflow_shared.events.types import ReferralEvent
from painflow_shared.fhir.dates import utcnow
from painflow_shared.unit_of_work import UnitOfWork

INTAKE_STATUS: dict[str, str] = {
    ReferralEvent.RECEIVED: "awaiting-triage",
    ReferralEvent.ACCEPTED: "ready-for-intake",
    ReferralEvent.REDIRECTED: "closed-redirected",
    ReferralEvent.REJECTED: "closed-rejected",
    ReferralEvent.CANCELLED: "closed-cancelled",
}


def track_referral(uow: UnitOfWork, event: Envelope) -> None:
    session = uow.session
    service_request = event.first("ServiceRequest")
    episode = event.first("EpisodeOfCare")
    if service_request is None:
        raise PoisonMessage("a referral event without its ServiceRequest")
    item = session.get(IntakeItem, service_request["id"]) or IntakeItem(
        service_request_id=service_request["id"],
        patient_id=event.patient_id,
        status="",
        last_event_id="",
        last_event_type="",
        updated_at=utcnow(),
    )
    item.status = INTAKE_STATUS[event.type]
    item.priority = service_request.get("priority")
    item.episode_id = episode["id"] if episode else item.episode_id
    item.last_event_id, item.last_event_type, item.updated_at = event.id, event.type, utcnow()
    session.add(item)


REFERRAL_HANDLERS: dict[str, Handler] = {event_type: track_referral for event_type in INTAKE_STATUS}
