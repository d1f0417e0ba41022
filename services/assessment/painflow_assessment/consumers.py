"""What the assessment does with other services' events.

- referral events: keep the patient's record current (and the worklist); ``accepted`` opens the
  intake, ``cancelled``, ``redirected`` and ``rejected`` close it;
- the follow-up's ``next-step``: the next order, a reopened intake or an urgent review;
- scheduling's ``procedure-performed``: the order is completed.

Every effect is keyed by what it is about (the referral, the next-step proposal, the previous
order), so a replay, or the same fact sent again under another event id, changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from painflow_assessment import intakes, ordering, record
from painflow_assessment.context import AssessmentContext
from painflow_assessment.domain.intake import plan_next_step
from painflow_assessment.domain.orders import order_from_service_request
from painflow_assessment.domain.problems import Problem
from painflow_assessment.tables import IntakeItem
from painflow_assessment.tasks import urgent_review_task
from painflow_shared.codes import CodeSystem
from painflow_shared.events.envelope import Envelope, PoisonMessage
from painflow_shared.events.types import FollowupEvent, ReferralEvent, SchedulingEvent
from painflow_shared.fhir.dates import utcnow
from painflow_shared.fhir.ids import new_id
from painflow_shared.unit_of_work import UnitOfWork

WORKLIST_STATUS: dict[str, str] = {
    ReferralEvent.RECEIVED: "awaiting-triage",
    ReferralEvent.ACCEPTED: "ready-for-intake",
    ReferralEvent.REDIRECTED: "closed-redirected",
    ReferralEvent.REJECTED: "closed-rejected",
    ReferralEvent.CANCELLED: "closed-cancelled",
}
CLOSING: dict[str, str] = {
    ReferralEvent.REDIRECTED: "the referral was redirected to urgent care",
    ReferralEvent.REJECTED: "the referral was rejected at triage",
    ReferralEvent.CANCELLED: "the referrer cancelled the referral",
}
NEXT_STEP_REVIEW = "The follow-up asks for an urgent clinician review of this patient."


def on_referral(ctx: AssessmentContext, event: Envelope) -> None:
    referral = event.first("ServiceRequest")
    if referral is None:
        raise PoisonMessage("a referral event without its ServiceRequest")
    _track(ctx, event, referral)
    medications_changed = record.keep_record(ctx, event)
    opened = None
    if event.type == ReferralEvent.ACCEPTED:
        url = full_url(event, referral)
        opened = intakes.open_intake(ctx, referral, url, event.patient_id)
    elif event.type in CLOSING:
        intakes.close_intakes(ctx, referral["id"], CLOSING[event.type])
    if medications_changed and opened is None and intakes.latest_case(ctx, event.patient_id):
        record.refresh_mme(ctx, event.patient_id)


def on_next_step(ctx: AssessmentContext, event: Envelope) -> None:
    for proposal in event.resources("ServiceRequest"):
        code = _next_step_code(proposal)
        if code is None or proposal.get("intent") != "proposal":
            continue
        previous = _previous_order(ctx, proposal)
        plan = plan_next_step(
            code,
            order_from_service_request(previous) if previous else None,
            ctx.policies.intake,
            ctx.policies.pathway.catalogue,
        )
        if isinstance(plan, Problem):
            raise PoisonMessage(f"next-step {code}: {plan.message}")
        if plan.action == "order" and plan.order and previous:
            ordering.next_order(ctx, plan.order, previous)
        elif plan.action == "reopen-intake":
            intakes.reopen_intake(ctx, event.patient_id, full_url(event, proposal))
        elif plan.action == "urgent-review":
            _urgent_review(ctx, event.patient_id, full_url(event, proposal))


def on_procedure_performed(ctx: AssessmentContext, event: Envelope) -> None:
    for procedure in event.resources("Procedure"):
        for based_on in procedure.get("basedOn") or []:
            ref = ctx.local_of(based_on)
            if ref:
                ordering.complete_order(ctx, ref)


def _urgent_review(ctx: AssessmentContext, patient_id: str, proposal_url: str) -> None:
    if ctx.find("Task", ("focus", proposal_url)):
        return  # this next step's review is open (or was)
    task = urgent_review_task(new_id(), patient_id, proposal_url, None, NEXT_STEP_REVIEW, ctx.now())
    # like a safety review, it holds an open intake's decision until a clinician completes it
    ctx.store.create(task, resource_id=task["id"])


def _previous_order(ctx: AssessmentContext, proposal: dict[str, Any]) -> dict[str, Any] | None:
    for based_on in proposal.get("basedOn") or []:
        found = ctx.store.resolve(ctx.local_of(based_on), "ServiceRequest")
        if found is not None:
            return found
    return None


def _next_step_code(proposal: dict[str, Any]) -> str | None:
    for coding in (proposal.get("code") or {}).get("coding") or []:
        if coding.get("system") == CodeSystem.NEXT_STEP and coding.get("code"):
            return str(coding["code"])
    return None


def full_url(event: Envelope, resource: dict[str, Any]) -> str:
    """Where the publisher serves ``resource`` (the entry's fullUrl)."""
    for entry in event.bundle.get("entry") or []:
        found = entry.get("resource") or {}
        if (found.get("resourceType"), found.get("id")) == (
            resource["resourceType"],
            resource["id"],
        ):
            return str(entry.get("fullUrl") or f"{resource['resourceType']}/{resource['id']}")
    return f"{resource['resourceType']}/{resource['id']}"


def _track(ctx: AssessmentContext, event: Envelope, referral: dict[str, Any]) -> None:
    """The convenience worklist (``GET /worklist``): where each referral stands."""
    episode = event.first("EpisodeOfCare")
    # no flush: the events before this one in a consumer's batch keep their rows staged
    item = ctx.uow.get(IntakeItem, referral["id"]) or IntakeItem(
        service_request_id=referral["id"],
        patient_id=event.patient_id,
        status="",
        last_event_id="",
        last_event_type="",
        updated_at=utcnow(),
    )
    item.status = WORKLIST_STATUS[event.type]
    item.priority = referral.get("priority")
    item.episode_id = episode["id"] if episode else item.episode_id
    item.last_event_id, item.last_event_type, item.updated_at = event.id, event.type, utcnow()
    ctx.session.add(item)


def preload(uow: UnitOfWork, events: Sequence[Envelope]) -> None:
    """A polled batch's worklist rows and record copies, one query each (events/batch.py):
    ``_track`` and ``record.keep_record`` then find them without a statement per event."""
    referrals = [e.first("ServiceRequest") for e in events if e.type in WORKLIST_STATUS]
    uow.load(IntakeItem, [r["id"] for r in referrals if r and isinstance(r.get("id"), str)])
    uow.store.load(key for e in events if e.type in WORKLIST_STATUS for key in record.copy_keys(e))


EVENT_HANDLERS: dict[str, Callable[[AssessmentContext, Envelope], None]] = {
    **{event_type: on_referral for event_type in WORKLIST_STATUS},
    FollowupEvent.NEXT_STEP: on_next_step,
    SchedulingEvent.PROCEDURE_PERFORMED: on_procedure_performed,
}
