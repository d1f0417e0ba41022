"""The journey for people: a patient's timeline from the injury, whatever order events arrive in.

Events come from four topics, so they may arrive out of order (a scheduling event before the
assessment event that led to it). Each entry therefore carries the *clinical* time of its step
(``journey_entries.clinical_time``), and the timeline sorts by that time, then by the step's
place in the pathway, then by event id: the same entries always give the same timeline.

``journey_view`` returns the body of ``GET /journeys/{patient-id}``::

    {
      "patient": "Patient/{id}",
      "injury_onset": "2026-08-24" | null,
      "events": [
        {"at": "2026-09-14T13:58:02Z", "days_since_injury": 21,
         "event": "painflow.referral.received", "step": "referral",
         "trace_id": "4bf9..." | null, "resources": ["ServiceRequest/..."],
         "summary": {...}}                               # the entry's summary fields, as given
      ],
      "series": {
        "nrs": [{"at": ..., "days_since_injury": 29, "value": 7, "event": ..., "trace_id": ...}],
        "mme": [{"at": ..., "days_since_injury": 22, "value": 22.5, "event": ..., "trace_id": ...}]
      },
      "current": {"step": "awaiting-outcome", "text": "Awaiting the 6-week outcome",
                  "waiting_for": "6-week outcome, due 2026-11-24 to 2026-11-27",
                  "since": "2026-11-02T17:20:00Z", "event": "painflow.followup.outcome-recorded"}
                 | null
    }
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from painflow_followup.domain.journey_states import STEP_KIND, JourneyState, advance
from painflow_shared.events.types import (
    AssessmentEvent,
    FollowupEvent,
    ReferralEvent,
    SchedulingEvent,
)
from painflow_shared.fhir.dates import fhir_instant

JOURNEY_STARTED = "painflow.journey.started"  # the injury onset, recorded with the first referral
SERIES = ("nrs", "mme")


@dataclass(frozen=True)
class JourneyEntry:
    """One step of a patient's journey, as the journey projection stores it."""

    event_id: str
    event_type: str
    occurred_at: datetime  # the clinical time of the step (aware)
    trace_id: str | None = None
    resources: tuple[str, ...] = ()  # "Type/id" of what the event carried
    summary: Mapping[str, Any] = field(default_factory=dict)  # nrs, mme, next_step, ...


def ordered_timeline(entries: Iterable[JourneyEntry]) -> list[JourneyEntry]:
    """Entries by clinical time, then pathway order, then event id (arrival order never counts)."""
    return sorted(entries, key=_order_key)


def _order_key(entry: JourneyEntry) -> tuple[datetime, int, str]:
    return (entry.occurred_at.astimezone(UTC), _RANK.get(entry.event_type, 99), entry.event_id)


def days_since(onset: date | None, moment: datetime) -> int | None:
    """Whole days from the injury onset to ``moment`` (its own calendar day); None if unknown."""
    return None if onset is None else (moment.date() - onset).days


def injury_onset_of(entries: Iterable[JourneyEntry]) -> date | None:
    """The onset recorded by the journey's start entry, or None."""
    starts = [e.occurred_at for e in entries if e.event_type == JOURNEY_STARTED]
    return min(starts).date() if starts else None


def journey_view(
    patient_id: str, entries: Iterable[JourneyEntry], injury_onset: date | None = None
) -> dict[str, Any]:
    """The JSON body of ``GET /journeys/{patient-id}`` (shape in the module docstring)."""
    timeline = ordered_timeline(entries)
    onset = injury_onset or injury_onset_of(timeline)
    return {
        "patient": f"Patient/{patient_id}",
        "injury_onset": onset.isoformat() if onset else None,
        "events": [_event_view(e, onset) for e in timeline],
        "series": {name: _series(timeline, name, onset) for name in SERIES},
        "current": current_step(timeline),
    }


def current_step(timeline: list[JourneyEntry]) -> dict[str, Any] | None:
    """Where the patient is and what they wait for, from the ordered timeline."""
    state = JourneyState()
    for entry in timeline:
        state = advance(state, entry.event_type, entry.summary, fhir_instant(entry.occurred_at))
    if state.step is None:
        return None
    return {
        "step": state.step,
        "text": state.text,
        "waiting_for": state.waiting_for,
        "since": state.since,
        "event": state.event,
    }


def _event_view(entry: JourneyEntry, onset: date | None) -> dict[str, Any]:
    return {
        "at": fhir_instant(entry.occurred_at),
        "days_since_injury": days_since(onset, entry.occurred_at),
        "event": entry.event_type,
        "step": STEP_KIND.get(entry.event_type, "other"),
        "trace_id": entry.trace_id,
        "resources": list(entry.resources),
        "summary": dict(entry.summary),
    }


def _series(timeline: list[JourneyEntry], name: str, onset: date | None) -> list[dict[str, Any]]:
    return [
        {
            "at": fhir_instant(e.occurred_at),
            "days_since_injury": days_since(onset, e.occurred_at),
            "value": e.summary[name],
            "event": e.event_type,
            "trace_id": e.trace_id,
        }
        for e in timeline
        if isinstance(e.summary.get(name), int | float)
    ]


# A step's place in the pathway: breaks ties between entries stamped with the same instant.
_RANK: dict[str, int] = {
    JOURNEY_STARTED: 0,
    ReferralEvent.RECEIVED: 10,
    ReferralEvent.ACCEPTED: 20,
    ReferralEvent.REDIRECTED: 20,
    ReferralEvent.REJECTED: 20,
    AssessmentEvent.STARTED: 30,
    AssessmentEvent.SAFETY_FLAG: 35,
    AssessmentEvent.COMPLETED: 40,
    AssessmentEvent.NOT_CANDIDATE: 40,
    AssessmentEvent.PROCEDURE_ORDERED: 45,
    AssessmentEvent.ORDER_REVOKED: 46,
    SchedulingEvent.APPOINTMENT_BOOKED: 50,
    SchedulingEvent.APPOINTMENT_RESCHEDULED: 51,
    SchedulingEvent.APPOINTMENT_CANCELLED: 52,
    SchedulingEvent.APPOINTMENT_NOSHOW: 53,
    SchedulingEvent.PROCEDURE_PERFORMED: 60,
    SchedulingEvent.PROCEDURE_COMPLICATION: 61,
    FollowupEvent.FOLLOWUP_SCHEDULED: 70,
    FollowupEvent.OUTCOME_RECORDED: 80,
    FollowupEvent.FOLLOWUP_OVERDUE: 81,
    FollowupEvent.NEXT_STEP: 85,
    ReferralEvent.CANCELLED: 95,
}
