"""The journey timeline: clinical order whatever the arrival order, days since the injury, the
NRS and MME series, and the current step."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from painflow_followup.domain.journey import (
    JOURNEY_STARTED,
    JourneyEntry,
    current_step,
    journey_view,
    ordered_timeline,
)
from painflow_followup.domain.journey_entries import clinical_time, journey_entry
from painflow_shared.contracts import default_contracts_dir

EXAMPLES = default_contracts_dir() / "examples"
# One patient's path through the contract examples (the same synthetic patient throughout).
PATH = [
    "painflow.referral.received",
    "painflow.referral.accepted",
    "painflow.assessment.started",
    "painflow.assessment.completed",
    "painflow.scheduling.appointment-booked",
    "painflow.scheduling.appointment-rescheduled",
    "painflow.scheduling.procedure-performed",
    "painflow.followup.followup-scheduled",
    "painflow.followup.outcome-recorded",
    "painflow.followup.next-step",
]


def example_entry(event_type: str) -> JourneyEntry:
    message: dict[str, Any] = json.loads(Path(EXAMPLES / f"{event_type}.json").read_text("utf-8"))
    headers = message["headers"]
    return journey_entry(
        event_id=headers["ce_id"],
        event_type=headers["ce_type"],
        published_at=datetime.fromisoformat(headers["ce_time"].replace("Z", "+00:00")),
        trace_id=headers["traceparent"].split("-")[1],
        bundle=message["value"],
    )


def started(onset: str = "2026-08-24") -> JourneyEntry:
    return JourneyEntry(
        event_id="start",
        event_type=JOURNEY_STARTED,
        occurred_at=datetime.fromisoformat(f"{onset}T00:00:00+00:00"),
    )


def entry(event_type: str, when: str, event_id: str = "", **summary: Any) -> JourneyEntry:
    return JourneyEntry(
        event_id=event_id or event_type,
        event_type=event_type,
        occurred_at=datetime.fromisoformat(when.replace("Z", "+00:00")),
        summary=summary,
    )


ENTRIES = [started(), *(example_entry(t) for t in PATH)]


@pytest.mark.parametrize("seed", range(5))
def test_any_arrival_order_gives_the_clinical_order(seed):
    shuffled = ENTRIES[:]
    random.Random(seed).shuffle(shuffled)

    assert [e.event_type for e in ordered_timeline(shuffled)] == [JOURNEY_STARTED, *PATH]


def test_a_late_assessment_event_still_sorts_before_the_booking_it_led_to():
    # the scheduling event was published and consumed first; its clinical time is later
    booking = entry("painflow.scheduling.appointment-booked", "2026-10-08T11:04:00Z")
    decision = entry("painflow.assessment.completed", "2026-09-22T16:10:00Z")

    assert ordered_timeline([booking, decision]) == [decision, booking]


def test_a_next_step_comes_after_the_outcome_it_names_even_one_dated_later():
    proposal = {"resourceType": "ServiceRequest", "authoredOn": "2026-12-02T03:47:00Z"}
    outcome = {"resourceType": "Observation", "effectiveDateTime": "2027-06-02T12:00:00Z"}
    late = {"resourceType": "Observation", "effectiveDateTime": "2026-11-30T09:00:00Z"}

    dated_later = clinical_time("painflow.followup.next-step", [proposal, outcome])
    recorded_late = clinical_time("painflow.followup.next-step", [proposal, late])

    assert dated_later == datetime(2027, 6, 2, 12, 0, tzinfo=UTC)
    assert recorded_late == datetime(2026, 12, 2, 3, 47, tzinfo=UTC)  # decided when recorded
    assert clinical_time("painflow.followup.outcome-recorded", [proposal, outcome]) == datetime(
        2027, 6, 2, 12, 0, tzinfo=UTC
    )


def test_ties_on_the_same_instant_follow_the_pathway_then_the_event_id():
    same = "2026-11-02T17:20:00Z"
    decision = entry("painflow.followup.next-step", same, "a")
    outcome = entry("painflow.followup.outcome-recorded", same, "z")
    other_outcome = entry("painflow.followup.outcome-recorded", same, "b")

    assert ordered_timeline([decision, outcome, other_outcome]) == [
        other_outcome,
        outcome,
        decision,
    ]


def test_clinical_times_come_from_the_resources_not_the_publish_time():
    by_type = {e.event_type: e for e in ENTRIES}

    performed = by_type["painflow.scheduling.procedure-performed"]
    assert performed.occurred_at == datetime(2026, 10, 13, 8, 58, tzinfo=UTC)
    assert by_type["painflow.referral.received"].occurred_at == datetime(
        2026, 9, 14, 13, 58, 2, tzinfo=UTC
    )


def test_view_has_days_since_injury_trace_ids_and_series():
    view = journey_view("1f54b9d2-f0a0-5ba8-abe5-5a0b7dc7d528", reversed(ENTRIES))

    assert view["injury_onset"] == "2026-08-24"
    events = view["events"]
    assert events[0]["event"] == JOURNEY_STARTED and events[0]["days_since_injury"] == 0
    received = events[1]
    assert received["days_since_injury"] == 21  # 2026-08-24 -> 2026-09-14
    assert received["trace_id"] and received["step"] == "referral"
    assert "Patient/" not in " ".join(received["resources"])
    assert [p["value"] for p in view["series"]["nrs"]] == [7, 7, 3]  # intake, pre-block, outcome
    assert [p["days_since_injury"] for p in view["series"]["nrs"]] == [29, 50, 70]
    assert [p["value"] for p in view["series"]["mme"]] == [22.5]
    json.dumps(view)  # plain JSON


def test_an_explicit_onset_wins_and_without_one_days_are_unknown():
    entries = [e for e in ENTRIES if e.event_type != JOURNEY_STARTED]

    assert journey_view("p", entries)["events"][0]["days_since_injury"] is None
    explicit = journey_view("p", entries, injury_onset=date(2026, 9, 1))
    assert explicit["events"][0]["days_since_injury"] == 13


def test_current_step_after_the_example_path():
    current = journey_view("p", ENTRIES)["current"]

    assert current["step"] == "next-step"
    assert current["text"] == "Next step: Repeat the procedure when the pain returns"
    assert current["event"] == "painflow.followup.next-step"


@pytest.mark.parametrize(
    ("upto", "step", "waiting_for"),
    [
        (1, "awaiting-triage", "triage by a coordinator"),
        (3, "awaiting-intake-questionnaires", "the patient's answers to the intake questionnaires"),
        (4, "awaiting-booking", "a procedure date"),
        (
            6,
            "booked",
            "Left L5-S1 transforaminal epidural steroid injection, fluoroscopic guidance "
            "on 2026-10-13",
        ),
        (8, "awaiting-outcome", "2-week outcome, due 2026-10-27 to 2026-10-30"),
        (9, "awaiting-outcome", "6-week outcome, due 2026-11-24 to 2026-11-27"),
    ],
)
def test_current_step_along_the_path(upto, step, waiting_for):
    timeline = ordered_timeline([started(), *(example_entry(t) for t in PATH[:upto])])
    current = current_step(timeline)

    assert current is not None
    assert (current["step"], current["waiting_for"]) == (step, waiting_for)


def test_discharge_redirect_and_overdue_states():
    discharge = entry("painflow.followup.next-step", "2027-04-20T10:00:00Z", next_step="discharge")
    redirected = entry("painflow.referral.redirected", "2026-09-15T10:00:00Z")
    plan = entry(
        "painflow.followup.followup-scheduled",
        "2026-10-13T10:00:00Z",
        time_points=[{"id": "2w", "label": "2-week", "start": "2026-10-27", "end": "2026-10-30"}],
    )
    late = entry("painflow.followup.followup-overdue", "2026-10-30T23:59:59Z", time_point="2w")

    assert (current_step([discharge]) or {}).get("step") == "discharged"
    assert (current_step([redirected]) or {}).get("step") == "redirected"
    overdue = current_step(ordered_timeline([late, plan]))
    assert overdue is not None and overdue["text"] == "The 2-week outcome is overdue"


def test_after_the_last_outcome_the_patient_waits_for_the_decision():
    plan = entry(
        "painflow.followup.followup-scheduled",
        "2026-10-13T09:00:00Z",
        time_points=[{"id": "block-duration", "label": "Post-block", "start": "x", "end": "y"}],
    )
    outcome = entry(
        "painflow.followup.outcome-recorded", "2026-10-13T12:00:00Z", time_point="block-duration"
    )

    current = current_step(ordered_timeline([outcome, plan]))
    assert current is not None and current["step"] == "awaiting-next-step"


def test_no_meaningful_event_means_no_current_step():
    assert current_step([started()]) is None
