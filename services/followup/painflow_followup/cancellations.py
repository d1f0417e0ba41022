"""A cancelled referral or a revoked order cancels the follow-up Tasks it concerns: those of the
procedures whose chain of orders leads back to it (domain.order_chain)."""

from __future__ import annotations

from sqlmodel import select

from painflow_followup.context import FollowupContext, id_of
from painflow_followup.decisions import cancel_open_tasks
from painflow_followup.domain.order_chain import leads_to
from painflow_followup.tables import ProcedureRecord, ResourceCopy
from painflow_shared.events.envelope import Envelope, PoisonMessage
from painflow_shared.fhir.references import reference_of

REFERRAL_CANCELLED = "the referral was cancelled"
ORDER_REVOKED = "the procedure order was revoked"


def on_referral_cancelled(ctx: FollowupContext, event: Envelope) -> None:
    _cancel_chain(ctx, event, REFERRAL_CANCELLED)


def on_order_revoked(ctx: FollowupContext, event: Envelope) -> None:
    _cancel_chain(ctx, event, ORDER_REVOKED)


def _cancel_chain(ctx: FollowupContext, event: Envelope, reason: str) -> None:
    request = event.first("ServiceRequest")
    if request is None or not request.get("id"):
        raise PoisonMessage("a cancellation without its ServiceRequest")
    parents = _parents(ctx, event.patient_id)
    procedures = ctx.session.exec(
        select(ProcedureRecord).where(ProcedureRecord.patient_id == event.patient_id)
    ).all()
    for record in procedures:
        if leads_to(record.order_id, request["id"], parents):
            cancel_open_tasks(ctx, record.procedure_id, reason)


def _parents(ctx: FollowupContext, patient_id: str) -> dict[str, str | None]:
    """Each known order's ``basedOn`` order (or referral): from procedures and order copies."""
    parents: dict[str, str | None] = {}
    copies = ctx.session.exec(
        select(ResourceCopy).where(
            ResourceCopy.patient_id == patient_id, ResourceCopy.resource_type == "ServiceRequest"
        )
    ).all()
    for copy in copies:
        based_on = (copy.content.get("basedOn") or [{}])[0]
        parents[copy.resource_id] = id_of(reference_of(based_on), "ServiceRequest")
    for record in ctx.session.exec(
        select(ProcedureRecord).where(ProcedureRecord.patient_id == patient_id)
    ).all():
        if record.order_id:
            parents.setdefault(record.order_id, record.previous_order_id)
    return parents
