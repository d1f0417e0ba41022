"""The whole platform by itself (issue 11, "The whole platform, end to end"): one acute-injury
patient walked through the pathway with only the HTTP calls an EHR and the clinic's people make,
every hand-off between the four services over real Kafka (the driver is
painflow_shared.testing.journey, which ``make demo`` runs too). At the end, the journey endpoint
and the EHR-facing triage Task say what happened."""

from __future__ import annotations

import time
from typing import Any

import pytest

from painflow_shared.codes import CodeSystem, NextStep, ReferralMilestone
from painflow_shared.testing.journey import Bases, JourneyDriver, JourneyResult, milestone

from .api import api

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
SERVICES = ("referral", "assessment", "scheduling", "followup")
# the decision carries the first order; each later order is its own step
START = ["injury", "referral", "triage", "intake", "decision"]
BLOCK = ["booking", "procedure", "follow-up", "outcome", "next-step"]
ONSET_TO_REFERRAL_DAYS = 21  # injured three weeks before the referral


def _drive(platform: Any, **options: Any) -> JourneyResult:
    bases = Bases(*(platform.url(s) for s in SERVICES))
    driver = JourneyDriver(bases, timeout=20, auth=api.auth)
    started = time.monotonic()
    try:
        result = driver.run(**options)
    finally:
        driver.close()
    took = time.monotonic() - started
    assert took < 60, f"the journey took {took:.0f}s"
    return result


def _steps(result: JourneyResult) -> list[str]:
    return [e["step"] for e in result.journey["events"]]


def _decided(result: JourneyResult) -> list[str]:
    events = result.journey["events"]
    return [e["summary"]["next_step"] for e in events if e["step"] == "next-step"]


def _one_trace_per_step(result: JourneyResult) -> None:
    """Every event has a trace id; what one person's call caused shares it (the acceptance and
    the intake it opened; the procedure and its follow-up plan), and no two calls share one."""
    events = result.journey["events"]
    assert all(e["trace_id"] for e in events), [e["event"] for e in events if not e["trace_id"]]
    trace = {(e["event"], e["at"]): e["trace_id"] for e in events}
    steps = [e["step"] for e in events]
    for before, after in (("triage", "intake"), ("procedure", "follow-up")):
        pairs = [
            (events[i], events[i + 1])
            for i in range(len(steps) - 1)
            if (steps[i], steps[i + 1]) == (before, after)
        ]
        assert pairs and all(a["trace_id"] == b["trace_id"] for a, b in pairs)
    calls = [e for e in events if e["step"] in ("referral", "triage", "decision", "booking")]
    calls += [e for e in events if e["step"] in ("procedure", "outcome")]
    assert len({e["trace_id"] for e in calls}) == len(calls), trace


def _days(result: JourneyResult) -> list[int]:
    return [e["days_since_injury"] for e in result.journey["events"]]


def test_the_whole_journey_ends_in_discharge(platform):
    result = _drive(platform)

    assert result.next_steps == [
        NextStep.SECOND_COMPARATIVE_BLOCK,
        NextStep.RADIOFREQUENCY_ABLATION,
        NextStep.DISCHARGE,
    ]
    ablation = ["order", "booking", "procedure", "follow-up", "outcome", "outcome", "outcome"]
    assert _steps(result) == [*START, *BLOCK, "order", *BLOCK, *ablation, "next-step"]
    assert _decided(result) == result.next_steps
    days = _days(result)
    assert days == sorted(days) and days[:2] == [0, ONSET_TO_REFERRAL_DAYS]
    assert days[-1] >= ONSET_TO_REFERRAL_DAYS + 182  # the ablation's 6-month time point
    _one_trace_per_step(result)
    assert result.journey["current"]["step"] == "discharged"
    task = result.triage_task
    assert task["status"] == "completed"
    assert milestone(task) == ReferralMilestone.DISCHARGED


def test_a_second_block_at_40_percent_ends_in_reassessment(platform):
    result = _drive(platform, second_relief=40)

    assert result.next_steps == [NextStep.SECOND_COMPARATIVE_BLOCK, NextStep.REASSESSMENT]
    # the reassessment opens a fresh intake round at the assessment service
    assert _steps(result) == [*START, *BLOCK, "order", *BLOCK, "intake"]
    assert _decided(result) == result.next_steps
    assert set(_days(result)[1:]) == {ONSET_TO_REFERRAL_DAYS}
    _one_trace_per_step(result)
    assert result.journey["current"]["step"] == "awaiting-intake-questionnaires"
    task = result.triage_task
    assert task["status"] == "in-progress"
    decided = [
        c["code"]
        for o in task["output"]
        for c in (o.get("valueCodeableConcept") or {}).get("coding") or []
        if c.get("system") == CodeSystem.NEXT_STEP
    ]
    assert decided == [NextStep.SECOND_COMPARATIVE_BLOCK, NextStep.REASSESSMENT]
    assert milestone(task) == ReferralMilestone.INTAKE_STARTED  # after the reassessment
