"""The triage Task's life: who may move it where, and what each move means downstream.

requested -> received -> accepted | rejected | on-hold -> in-progress -> completed, with
cancellation possible until the work is done. Coordinators accept or reject (a rejection needs
a reason); the follow-up service's reports move an accepted referral to in-progress and, at
discharge, to completed.
"""

from __future__ import annotations

from painflow_shared.events.types import ReferralEvent
from painflow_shared.fhir.errors import BusinessRuleViolation

TERMINAL = frozenset({"rejected", "cancelled", "completed", "failed", "entered-in-error"})
ALLOWED: dict[str, frozenset[str]] = {
    "draft": frozenset({"requested", "received", "cancelled"}),
    "requested": frozenset({"received", "accepted", "rejected", "on-hold", "cancelled"}),
    "received": frozenset({"accepted", "rejected", "on-hold", "cancelled"}),
    "ready": frozenset({"accepted", "rejected", "on-hold", "cancelled"}),
    "on-hold": frozenset({"received", "accepted", "rejected", "cancelled"}),
    "accepted": frozenset({"in-progress", "on-hold", "cancelled", "completed"}),
    "in-progress": frozenset({"completed", "on-hold", "failed", "cancelled"}),
}
COORDINATOR_TARGETS = frozenset({"accepted", "rejected", "on-hold", "received"})

EVENT_FOR_STATUS = {
    "accepted": ReferralEvent.ACCEPTED,
    "rejected": ReferralEvent.REJECTED,
    "cancelled": ReferralEvent.CANCELLED,
}
EPISODE_STATUS_FOR = {
    "accepted": "active",
    "in-progress": "active",
    "rejected": "cancelled",
    "cancelled": "cancelled",
    "completed": "finished",
    "failed": "finished",
    "on-hold": "onhold",
    "received": "waitlist",
}


def check_transition(current: str, target: str) -> None:
    if current == target:
        return
    if target not in ALLOWED.get(current, frozenset()):
        raise BusinessRuleViolation(
            f"a triage Task cannot go from '{current}' to '{target}'", expression="Task.status"
        )


def check_coordinator_change(current: str, target: str, has_reason: bool) -> None:
    """What a coordinator may do through the FHIR API."""
    if target != current and target not in COORDINATOR_TARGETS:
        raise BusinessRuleViolation(
            f"coordinators accept, reject or hold a referral; '{target}' is set by the program",
            expression="Task.status",
        )
    check_transition(current, target)
    if target in ("rejected", "on-hold") and target != current and not has_reason:
        raise BusinessRuleViolation(
            f"a Task moved to '{target}' needs a statusReason", expression="Task.statusReason"
        )
