"""Events scheduling acts on.

Assessment: ``completed`` and ``procedure-ordered`` bring orders (and the patient's record);
``order-revoked`` cancels the request and any booked Appointment. Referral: every event carries
the patient's current record (a changed statement or allergy recomputes holds and re-checks
bookings); ``cancelled`` cancels the requests that follow from that referral.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlmodel import select

from painflow_scheduling.changes import cancel_for
from painflow_scheduling.context import SchedulingContext
from painflow_scheduling.orders import is_procedure_order, keep_order, open_orders
from painflow_scheduling.recheck import recheck_patient
from painflow_scheduling.records import RECORD_TYPES, keep_record, localise
from painflow_scheduling.tables import FollowedReferral
from painflow_scheduling.tasks import close_tasks, schedule_task
from painflow_shared.codes import TaskType
from painflow_shared.events.envelope import Envelope, PoisonMessage
from painflow_shared.events.types import AssessmentEvent, ReferralEvent
from painflow_shared.fhir.references import reference_of, reference_string
from painflow_shared.unit_of_work import UnitOfWork

ContextHandler = Callable[[SchedulingContext, Envelope], None]
REVOKED = frozenset({"revoked", "entered-in-error"})
ORDER_TASKS = (TaskType.SCHEDULE_PROCEDURE, TaskType.PRIOR_AUTHORIZATION)
CLOSES = {ReferralEvent.REDIRECTED, ReferralEvent.REJECTED, ReferralEvent.CANCELLED}


def receive_orders(ctx: SchedulingContext, event: Envelope) -> None:
    keep_record(ctx, event)
    orders = [
        o for o in event.resources("ServiceRequest") if is_procedure_order(o, event.patient_id)
    ]
    if not orders:
        raise PoisonMessage("an order event without a procedure order for its patient")
    for order in orders:
        keep_order(ctx, order)
    recheck_patient(ctx, event.patient_id)


def revoke_order(ctx: SchedulingContext, event: Envelope) -> None:
    for order in event.resources("ServiceRequest"):
        if order.get("status") in REVOKED and is_procedure_order(order, event.patient_id):
            end_request(ctx, localise(order, ctx.local_bases), "order revoked")


def end_request(ctx: SchedulingContext, order: dict[str, Any], reason: str) -> None:
    """Cancel the scheduling request: the order's status, its Tasks, its booked Appointment."""
    stored = ctx.store.find("ServiceRequest", order["id"])
    content = {k: v for k, v in order.items() if k != "meta"}
    if stored is None or stored.get("status") != content.get("status"):
        ctx.store.update(content)
    ref = reference_string("ServiceRequest", order["id"])
    for appointment in ctx.find("Appointment", based_on=ref, status="booked"):
        cancel_for(ctx, appointment, reason)
    close_tasks(ctx, ref, (TaskType.PRIOR_AUTHORIZATION,), reason)
    task = schedule_task(ctx, ref)
    if task is not None and task.get("status") not in ("completed", "cancelled"):
        ctx.store.update({**task, "status": "cancelled", "statusReason": {"text": reason}})


def follow_referral(ctx: SchedulingContext, event: Envelope) -> None:
    referral = event.first("ServiceRequest")
    if referral is None or not isinstance(referral.get("id"), str):
        raise PoisonMessage("a referral event without its ServiceRequest")
    # no flush: the events before this one in a consumer's batch keep their rows staged
    row = ctx.uow.get(FollowedReferral, referral["id"]) or FollowedReferral(
        referral_id=referral["id"], patient_id=event.patient_id
    )
    row.open = event.type not in CLOSES
    ctx.session.add(row)
    ctx.store.load(_record_keys(event))  # the copies keep_record compares: one query
    if keep_record(ctx, event):
        recheck_patient(ctx, event.patient_id)
    if event.type == ReferralEvent.CANCELLED:
        for order in _orders_from(ctx, event.patient_id, referral["id"]):
            end_request(ctx, {**order, "status": "revoked"}, "referral cancelled")


def preload(uow: UnitOfWork, events: Sequence[Envelope]) -> None:
    """A polled batch's followed referrals and record copies, one query each (events/batch.py):
    ``follow_referral`` then finds them without a statement per event."""
    referral_events = [e for e in events if e.type in REFERRAL_HANDLERS]
    referrals = [e.first("ServiceRequest") for e in referral_events]
    uow.load(FollowedReferral, [r["id"] for r in referrals if r and isinstance(r.get("id"), str)])
    uow.store.load(key for e in referral_events for key in _record_keys(e))


def _record_keys(event: Envelope) -> list[tuple[str, str]]:
    types = {"Patient", *RECORD_TYPES, "Observation"}
    return [
        (r["resourceType"], r["id"])
        for t in types
        for r in event.resources(t)
        if isinstance(r.get("id"), str)
    ]


def _orders_from(ctx: SchedulingContext, patient_id: str, referral_id: str) -> list[dict[str, Any]]:
    """The patient's open orders whose basedOn chain leads to the referral."""
    orders = open_orders(ctx, patient_id)
    chain = {referral_id}
    grew = True
    while grew:
        grew = False
        for order in orders:
            if order["id"] not in chain and any(
                (reference_of(b) or "").rsplit("/", 1)[-1] in chain
                for b in order.get("basedOn") or []
            ):
                chain.add(order["id"])
                grew = True
    return [o for o in orders if o["id"] in chain and o["id"] != referral_id]


def open_referrals(ctx: SchedulingContext, patient_id: str) -> list[str]:
    rows = ctx.session.exec(
        select(FollowedReferral).where(
            FollowedReferral.patient_id == patient_id,
            FollowedReferral.open == True,  # noqa: E712
        )
    ).all()
    return sorted(r.referral_id for r in rows)


ASSESSMENT_HANDLERS: dict[str, ContextHandler] = {
    AssessmentEvent.COMPLETED: receive_orders,
    AssessmentEvent.PROCEDURE_ORDERED: receive_orders,
    AssessmentEvent.ORDER_REVOKED: revoke_order,
}
REFERRAL_HANDLERS: dict[str, ContextHandler] = {t: follow_referral for t in ReferralEvent}
