"""The journey's current step: a small state table driven by the last meaningful event.

``advance`` folds one timeline entry into the state. Most events set the step outright; the
follow-up events also keep the open time points of the latest plan, so that after an outcome
the patient is shown waiting for the next time point rather than for nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from painflow_shared.codes import NextStep
from painflow_shared.events.types import (
    AssessmentEvent,
    FollowupEvent,
    ReferralEvent,
    SchedulingEvent,
)

Summary = Mapping[str, Any]


@dataclass(frozen=True)
class JourneyState:
    step: str | None = None  # a code: awaiting-triage, booked, awaiting-outcome, discharged...
    text: str | None = None  # the same for people
    waiting_for: str | None = None
    since: str | None = None  # when this step began (the entry's clinical time)
    event: str | None = None
    open_time_points: tuple[Mapping[str, Any], ...] = ()  # of the latest follow-up plan


Transition = Callable[[JourneyState, Summary], JourneyState]


def advance(state: JourneyState, event_type: str, summary: Summary, at: str) -> JourneyState:
    """The state after one entry; an event the table does not know leaves it unchanged."""
    transition = _TABLE.get(event_type)
    if transition is None:
        return state
    return replace(transition(state, summary), since=at, event=event_type)


def _set(step: str, text: str, waiting_for: str | None = None) -> Transition:
    return lambda state, _summary: replace(state, step=step, text=text, waiting_for=waiting_for)


def _booked(state: JourneyState, summary: Summary) -> JourneyState:
    day = str(summary.get("appointment_start") or "")[:10] or "a date to be confirmed"
    what = summary.get("procedure") or "the procedure"
    return replace(state, step="booked", text=f"Booked for {day}", waiting_for=f"{what} on {day}")


def _not_candidate(state: JourneyState, summary: Summary) -> JourneyState:
    decision = str(summary.get("decision") or "not a candidate now").replace("-", " ")
    return replace(
        state, step="not-candidate", text=f"Pathway decision: {decision}", waiting_for=None
    )


def _scheduled(state: JourneyState, summary: Summary) -> JourneyState:
    points = tuple(p for p in summary.get("time_points") or [] if isinstance(p, Mapping))
    return _awaiting_outcome(replace(state, open_time_points=points))


def _recorded(state: JourneyState, summary: Summary) -> JourneyState:
    points = tuple(p for p in state.open_time_points if not _same_point(p, summary))
    return _awaiting_outcome(replace(state, open_time_points=points))


def _same_point(point: Mapping[str, Any], summary: Summary) -> bool:
    """The plan's time point an outcome or overdue entry is about: by Task, else by id."""
    if point.get("task") and summary.get("task"):
        return bool(point["task"] == summary["task"])
    return point.get("id") is not None and point.get("id") == summary.get("time_point")


def _awaiting_outcome(state: JourneyState) -> JourneyState:
    if not state.open_time_points:
        return replace(
            state,
            step="awaiting-next-step",
            text="Awaiting the next-step decision",
            waiting_for=None,
        )
    point = min(state.open_time_points, key=lambda p: str(p.get("start") or ""))
    label = str(point.get("label") or point.get("id") or "next")
    due = f", due {str(point.get('start'))[:10]} to {str(point.get('end'))[:10]}"
    return replace(
        state,
        step="awaiting-outcome",
        text=f"Awaiting the {label} outcome",
        waiting_for=f"{label} outcome{due if point.get('start') else ''}",
    )


def _overdue(state: JourneyState, summary: Summary) -> JourneyState:
    point = next((p for p in state.open_time_points if _same_point(p, summary)), {})
    label = str(point.get("label") or summary.get("time_point") or "follow-up")
    return replace(
        state,
        step="outcome-overdue",
        text=f"The {label} outcome is overdue",
        waiting_for=f"{label} outcome (a nurse follows up)",
    )


def _next_step(state: JourneyState, summary: Summary) -> JourneyState:
    code = str(summary.get("next_step") or "")
    display = str(summary.get("next_step_display") or code.replace("-", " "))
    if code == NextStep.DISCHARGE:
        return replace(
            state, step="discharged", text="Discharged back to the referrer", waiting_for=None
        )
    return replace(state, step="next-step", text=f"Next step: {display}", waiting_for=display)


_TABLE: dict[str, Transition] = {
    ReferralEvent.RECEIVED: _set("awaiting-triage", "Awaiting triage", "triage by a coordinator"),
    ReferralEvent.ACCEPTED: _set("awaiting-intake", "Referral accepted", "the intake to start"),
    ReferralEvent.REDIRECTED: _set("redirected", "Redirected to urgent care"),
    ReferralEvent.REJECTED: _set("rejected", "Referral rejected"),
    ReferralEvent.CANCELLED: _set("cancelled", "Referral cancelled"),
    AssessmentEvent.STARTED: _set(
        "awaiting-intake-questionnaires",
        "Awaiting the intake questionnaires",
        "the patient's answers to the intake questionnaires",
    ),
    AssessmentEvent.SAFETY_FLAG: _set(
        "urgent-review", "Urgent review: safety flag", "a clinician's urgent review"
    ),
    AssessmentEvent.COMPLETED: _set("awaiting-booking", "Awaiting booking", "a procedure date"),
    AssessmentEvent.NOT_CANDIDATE: _not_candidate,
    AssessmentEvent.PROCEDURE_ORDERED: _set(
        "awaiting-booking", "Awaiting booking", "a procedure date"
    ),
    AssessmentEvent.ORDER_REVOKED: _set(
        "awaiting-pathway-decision", "Order revoked", "a new pathway decision"
    ),
    SchedulingEvent.APPOINTMENT_BOOKED: _booked,
    SchedulingEvent.APPOINTMENT_RESCHEDULED: _booked,
    SchedulingEvent.APPOINTMENT_CANCELLED: _set(
        "awaiting-booking", "Appointment cancelled", "a new procedure date"
    ),
    SchedulingEvent.APPOINTMENT_NOSHOW: _set(
        "awaiting-booking", "Missed appointment", "a new procedure date"
    ),
    SchedulingEvent.PROCEDURE_PERFORMED: _set(
        "awaiting-follow-up-plan", "Procedure performed", "the follow-up plan"
    ),
    SchedulingEvent.PROCEDURE_COMPLICATION: _set(
        "urgent-review", "Urgent review: procedure complication", "a clinician's urgent review"
    ),
    FollowupEvent.FOLLOWUP_SCHEDULED: _scheduled,
    FollowupEvent.OUTCOME_RECORDED: _recorded,
    FollowupEvent.FOLLOWUP_OVERDUE: _overdue,
    FollowupEvent.NEXT_STEP: _next_step,
}

STEP_KIND: dict[str, str] = {
    ReferralEvent.RECEIVED: "referral",
    ReferralEvent.ACCEPTED: "triage",
    ReferralEvent.REDIRECTED: "triage",
    ReferralEvent.REJECTED: "triage",
    ReferralEvent.CANCELLED: "referral",
    AssessmentEvent.STARTED: "intake",
    AssessmentEvent.SAFETY_FLAG: "intake",
    AssessmentEvent.COMPLETED: "decision",
    AssessmentEvent.NOT_CANDIDATE: "decision",
    AssessmentEvent.PROCEDURE_ORDERED: "order",
    AssessmentEvent.ORDER_REVOKED: "order",
    SchedulingEvent.APPOINTMENT_BOOKED: "booking",
    SchedulingEvent.APPOINTMENT_RESCHEDULED: "booking",
    SchedulingEvent.APPOINTMENT_CANCELLED: "booking",
    SchedulingEvent.APPOINTMENT_NOSHOW: "booking",
    SchedulingEvent.PROCEDURE_PERFORMED: "procedure",
    SchedulingEvent.PROCEDURE_COMPLICATION: "procedure",
    FollowupEvent.FOLLOWUP_SCHEDULED: "follow-up",
    FollowupEvent.OUTCOME_RECORDED: "outcome",
    FollowupEvent.FOLLOWUP_OVERDUE: "outcome",
    FollowupEvent.NEXT_STEP: "next-step",
    "painflow.journey.started": "injury",  # journey.JOURNEY_STARTED
}
