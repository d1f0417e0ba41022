"""What happens to a referral after intake: coordinator decisions, EHR cancellation, and the
follow-up service's reports closing the loop. Each change and its event commit together."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from painflow_referral import events
from painflow_referral.context import IntakeContext
from painflow_referral.domain.task_flow import (
    EPISODE_STATUS_FOR,
    EVENT_FOR_STATUS,
    TERMINAL,
    check_coordinator_change,
    check_transition,
)
from painflow_referral.reference_rules import check_references
from painflow_referral.tables import ReferralCase
from painflow_shared.events.types import ReferralEvent
from painflow_shared.fhir.dates import fhir_instant, utcnow
from painflow_shared.fhir.errors import NotFound

COORDINATOR_FIELDS = ("status", "statusReason", "businessStatus", "owner", "note")
CANCELLED_REQUEST = frozenset({"revoked", "entered-in-error"})


def case_for_task(ctx: IntakeContext, task_id: str) -> ReferralCase:
    case = ctx.session.exec(select(ReferralCase).where(ReferralCase.task_id == task_id)).first()
    if case is None:
        raise NotFound(f"Task/{task_id} is not a referral's triage Task")
    return case


def coordinator_update(
    ctx: IntakeContext, proposed: dict[str, Any], if_match: int | None
) -> dict[str, Any]:
    """A coordinator's PUT/PATCH of the triage Task: only workflow fields change."""
    case = case_for_task(ctx, proposed["id"])
    current = ctx.store.read("Task", case.task_id)
    target = proposed.get("status", current["status"])
    check_coordinator_change(current["status"], target, bool(proposed.get("statusReason")))
    merged = {**current, **{k: proposed[k] for k in COORDINATOR_FIELDS if k in proposed}}
    if target != current["status"] and "statusReason" not in proposed:
        merged.pop("statusReason", None)  # the old reason described the old status
    # what a coordinator may change must resolve (the owner, a note's author)
    changed = {k: merged[k] for k in ("resourceType", "id", *COORDINATOR_FIELDS) if k in merged}
    check_references(ctx, "Task", changed)
    return _save_task(ctx, case, current, merged, if_match)


def set_task_status(
    ctx: IntakeContext,
    case: ReferralCase,
    target: str,
    reason: str | None = None,
    event_type: ReferralEvent | None = None,
) -> dict[str, Any]:
    """The program moves a Task (redirect, cancellation, follow-up); the rules still apply.

    ``event_type`` names the event when the status alone does not (a rejection that is a
    red-flag redirect publishes ``redirected``).
    """
    current = ctx.store.read("Task", case.task_id)
    check_transition(current["status"], target)
    merged = {**current, "status": target}
    if reason:
        merged["statusReason"] = {"text": reason}
    return _save_task(ctx, case, current, merged, None, event_type)


def record_on_task(
    ctx: IntakeContext, case: ReferralCase, changes: dict[str, Any], status: str | None = None
) -> dict[str, Any]:
    """The program records a step on the Task (businessStatus, output), moving it to ``status``
    when given; the transition rules still apply."""
    current = ctx.store.read("Task", case.task_id)
    target = status or current["status"]
    check_transition(current["status"], target)
    return _save_task(ctx, case, current, {**current, **changes, "status": target}, None)


def _save_task(
    ctx: IntakeContext,
    case: ReferralCase,
    current: dict[str, Any],
    merged: dict[str, Any],
    if_match: int | None,
    event_type: ReferralEvent | None = None,
) -> dict[str, Any]:
    changed = merged["status"] != current["status"]
    merged["lastModified"] = fhir_instant()
    task, _ = ctx.store.update(merged, if_match=if_match)
    if changed:
        _follow_episode(ctx, case, task["status"])
        event_type = event_type or EVENT_FOR_STATUS.get(task["status"])
        if event_type:
            events.publish_referral_event(ctx.uow, event_type, case)
    return task


def _follow_episode(ctx: IntakeContext, case: ReferralCase, task_status: str) -> None:
    episode = ctx.store.read("EpisodeOfCare", case.episode_id)
    status = EPISODE_STATUS_FOR.get(task_status)
    if status and episode["status"] != status:
        if status in ("finished", "cancelled"):
            episode["period"] = {
                **episode.get("period", {}),
                "end": utcnow().date().isoformat(),
            }
        ctx.store.update({**episode, "status": status})


def cancel_if_revoked(ctx: IntakeContext, service_request: dict[str, Any]) -> None:
    """The EHR revoked its referral: cancel the triage Task, which cancels the work downstream."""
    if service_request.get("status") not in CANCELLED_REQUEST:
        return
    case = ctx.session.get(ReferralCase, service_request["id"])
    if case is None:
        return
    task = ctx.store.read("Task", case.task_id)
    if task["status"] not in TERMINAL:
        set_task_status(ctx, case, "cancelled", "the referrer revoked the referral")


def open_cases(ctx: IntakeContext, patient_id: str) -> list[ReferralCase]:
    return list(
        ctx.session.exec(
            select(ReferralCase)
            .where(ReferralCase.patient_id == patient_id)
            .order_by(col(ReferralCase.created_at))
        ).all()
    )
