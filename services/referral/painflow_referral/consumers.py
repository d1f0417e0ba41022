"""The other services' events close the loop back to the referrer: every step of the program
after triage shows on the referral's triage Task (``businessStatus`` and ``output``), which the
EHR polls or is notified of. The first step moves an accepted referral to in-progress; a
``next-step`` of ``discharge`` completes it and finishes its episode.

An event reaches the referral its chain of orders leads back to (``referral_order`` learns the
chain from the orders the events carry), never every open referral of the patient; where an
event names no known order, it reaches the patient's one active referral, if there is exactly one.
"""

from __future__ import annotations

import logging
from typing import Any

from painflow_referral.cases import open_cases, record_on_task
from painflow_referral.context import IntakeContext
from painflow_referral.domain.milestones import (
    COMPLETED,
    Milestone,
    milestone_for,
    named_service_requests,
    referral_links,
)
from painflow_referral.domain.task_flow import TERMINAL
from painflow_referral.tables import ReferralCase, ReferralOrder
from painflow_shared.events.envelope import Envelope

log = logging.getLogger(__name__)
ACTIVE = frozenset({"accepted", "in-progress"})


def record_milestone(ctx: IntakeContext, event: Envelope) -> None:
    entries: list[dict[str, Any]] = event.bundle.get("entry") or []
    _learn_orders(ctx, entries)
    milestone = milestone_for(event.type, entries)
    if milestone is None:
        return
    cases = _cases_for(ctx, event.patient_id, entries)
    if not cases:
        log.info("event %s (%s) leads back to no active referral", event.id, event.type)
    for case in cases:
        _record(ctx, case, milestone)


def _learn_orders(ctx: IntakeContext, entries: list[dict[str, Any]]) -> None:
    for order_id, based_on in referral_links(entries):
        referral = _referral_of(ctx, based_on)
        if referral and ctx.session.get(ReferralOrder, order_id) is None:
            ctx.session.add(ReferralOrder(order_id=order_id, service_request_id=referral))
    ctx.session.flush()


def _referral_of(ctx: IntakeContext, service_request_id: str) -> str | None:
    if ctx.session.get(ReferralCase, service_request_id) is not None:
        return service_request_id
    link = ctx.session.get(ReferralOrder, service_request_id)
    return link.service_request_id if link else None


def _cases_for(
    ctx: IntakeContext, patient_id: str, entries: list[dict[str, Any]]
) -> list[ReferralCase]:
    named = {_referral_of(ctx, sr) for sr in named_service_requests(entries)}
    found = [ctx.session.get(ReferralCase, ref) for ref in named if ref]
    chained = [case for case in found if case is not None and case.patient_id == patient_id]
    if chained:
        return chained
    active = [c for c in open_cases(ctx, patient_id) if _status(ctx, c) in ACTIVE]
    return active if len(active) == 1 else []


def _status(ctx: IntakeContext, case: ReferralCase) -> str:
    return str(ctx.store.read("Task", case.task_id)["status"])


def _record(ctx: IntakeContext, case: ReferralCase, milestone: Milestone) -> None:
    task = ctx.store.read("Task", case.task_id)
    if task["status"] in TERMINAL or task["status"] not in ACTIVE:
        return  # a referral not (or no longer) in the program hears nothing more
    outputs = list(task.get("output") or [])
    outputs += [o for o in milestone.outputs if o not in outputs]
    changes = {"businessStatus": milestone.business_status(), "output": outputs}
    status = COMPLETED if milestone.target_status == COMPLETED else "in-progress"
    record_on_task(ctx, case, changes, status)
