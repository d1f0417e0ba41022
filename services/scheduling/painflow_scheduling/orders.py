"""Procedure orders become scheduling requests: the ServiceRequest under its own id, a
schedule-procedure Task whose businessStatus says what blocks booking, and a prior-authorization
Task per payer that requires one. Revoked orders and cancelled referrals cancel it all."""

from __future__ import annotations

from typing import Any

from painflow_scheduling.context import SchedulingContext
from painflow_scheduling.domain.authorization import authorization_requirements
from painflow_scheduling.domain.booking import scheduling_blockers
from painflow_scheduling.domain.holds import earliest_safe_start
from painflow_scheduling.domain.instructions import (
    prior_authorization_task,
    schedule_procedure_task,
)
from painflow_scheduling.domain.order import read_order
from painflow_scheduling.facts import ORDER_DONE, order_request, patient_id_of
from painflow_scheduling.records import localise
from painflow_scheduling.tasks import OPEN, order_tasks, schedule_task, set_task
from painflow_shared.codes import System, TaskType
from painflow_shared.fhir.references import reference_string

BOOKED_PREFIX = "booked: "


def is_procedure_order(resource: dict[str, Any], patient_id: str) -> bool:
    codings = (resource.get("code") or {}).get("coding") or []
    return (
        resource.get("intent") == "order"
        and any(c.get("system") == System.CPT for c in codings)
        and patient_id_of(resource) == patient_id
    )


def keep_order(ctx: SchedulingContext, order: dict[str, Any]) -> dict[str, Any]:
    """Store (or update) the order; a new active order gets its Tasks."""
    order = localise(order, ctx.local_bases)
    current = ctx.store.find("ServiceRequest", order["id"])
    content = {k: v for k, v in order.items() if k != "meta"}
    stored = current
    if current is None or {k: v for k, v in current.items() if k != "meta"} != content:
        stored = ctx.store.update(content)[0]
    assert stored is not None
    if current is None and stored.get("status") not in ORDER_DONE:
        _open_request(ctx, stored)
    return stored


def _open_request(ctx: SchedulingContext, order: dict[str, Any]) -> None:
    facts = read_order(order)
    request = order_request(ctx, order)
    now = ctx.now()
    for requirement in authorization_requirements(facts, request.coverages, ctx.policies.payers):
        ctx.store.create(prior_authorization_task(requirement, order=facts, authored=now))
    ctx.store.create(
        schedule_procedure_task(facts, blockers=(), authored=now, site_zone=ctx.site_zone)
    )
    refresh_order(ctx, order)


def refresh_order(ctx: SchedulingContext, order: dict[str, Any]) -> None:
    """Recompute what blocks booking an open order; a booked order keeps its booked status."""
    ref = reference_string("ServiceRequest", order["id"])
    task = schedule_task(ctx, ref)
    if task is None or task.get("status") not in OPEN or task.get("status") == "in-progress":
        return
    _missing_authorizations(ctx, order)
    request = order_request(ctx, order)
    now = ctx.now()
    blockers = scheduling_blockers(request, ctx.policies, booking_time=now, site_zone=ctx.site_zone)
    earliest = earliest_safe_start(request.holds, booking_time=now)
    fresh = schedule_procedure_task(
        request.order,
        blockers=blockers,
        authored=now,
        earliest_start=earliest if earliest > now else None,
        site_zone=ctx.site_zone,
    )
    set_task(ctx, task, businessStatus=fresh["businessStatus"])


def _missing_authorizations(ctx: SchedulingContext, order: dict[str, Any]) -> None:
    """A Coverage that arrived after the order may need its own prior-authorization Task."""
    facts = read_order(order)
    request = order_request(ctx, order)
    have = {
        (i.get("reference") if isinstance(i, dict) else None)
        for t in order_tasks(ctx, str(facts.reference), TaskType.PRIOR_AUTHORIZATION)
        for i in (t.get("insurance") or [None])
    }
    for requirement in authorization_requirements(facts, request.coverages, ctx.policies.payers):
        if requirement.coverage not in have:
            task = prior_authorization_task(requirement, order=facts, authored=ctx.now())
            ctx.store.create(task)


def open_orders(ctx: SchedulingContext, patient_id: str) -> list[dict[str, Any]]:
    patient = reference_string("Patient", patient_id)
    return [
        o for o in ctx.find("ServiceRequest", patient=patient) if o.get("status") not in ORDER_DONE
    ]
