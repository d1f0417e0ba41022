"""Referral events -> the patient's journey. The first referral starts it at the injury."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from painflow_followup.tables import JourneyEntry
from painflow_shared.events.consumer import Handler
from painflow_shared.events.envelope import Envelope, PoisonMessage
from painflow_shared.events.types import ReferralEvent
from painflow_shared.fhir.dates import utcnow
from painflow_shared.fhir.search_params import parse_date_value
from painflow_shared.unit_of_work import UnitOfWork

REFERRAL_STEPS: dict[str, str] = {
    ReferralEvent.RECEIVED: "referral",
    ReferralEvent.ACCEPTED: "triage",
    ReferralEvent.REDIRECTED: "triage",
    ReferralEvent.REJECTED: "triage",
    ReferralEvent.CANCELLED: "referral",
}


def record_referral_step(uow: UnitOfWork, event: Envelope) -> None:
    session = uow.session
    service_request, task = event.first("ServiceRequest"), event.first("Task")
    episode = event.first("EpisodeOfCare")
    if service_request is None or task is None:
        raise PoisonMessage("a referral event without its ServiceRequest and Task")
    episode_id = episode["id"] if episode else None
    if event.type == ReferralEvent.RECEIVED and not _journey_started(session, event.patient_id):
        _start_journey(session, event, episode)
    session.add(
        JourneyEntry(
            event_id=event.id,
            patient_id=event.patient_id,
            episode_id=episode_id,
            occurred_at=parse_date_value(event.time) or utcnow(),
            kind=REFERRAL_STEPS[event.type],
            event_type=event.type,
            detail=_referral_detail(service_request, task),
        )
    )


def _journey_started(session: Session, patient_id: str) -> bool:
    return (
        session.exec(
            select(JourneyEntry.event_id).where(JourneyEntry.patient_id == patient_id).limit(1)
        ).first()
        is not None
    )


def _start_journey(session: Session, event: Envelope, episode: dict[str, Any] | None) -> None:
    start = parse_date_value(((episode or {}).get("period") or {}).get("start")) or utcnow()
    conditions = [c.get("id") for c in event.resources("Condition")]
    session.add(
        JourneyEntry(
            event_id=f"{event.id}-start",
            patient_id=event.patient_id,
            episode_id=episode["id"] if episode else None,
            occurred_at=start,
            kind="injury",
            event_type="painflow.journey.started",
            detail={"conditions": conditions},
        )
    )


def _referral_detail(service_request: dict[str, Any], task: dict[str, Any]) -> dict[str, Any]:
    business = (task.get("businessStatus") or {}).get("coding") or [{}]
    return {
        "service_request": service_request["id"],
        "priority": service_request.get("priority"),
        "task": task["id"],
        "task_status": task.get("status"),
        "triage": business[0].get("code"),
    }


REFERRAL_HANDLERS: dict[str, Handler] = {t: record_referral_step for t in REFERRAL_STEPS}
