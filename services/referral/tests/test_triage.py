"""Auto-triage rules over plain data: red flags, missing essentials, the fast track."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from painflow_referral.domain.triage import Code, ReferralFacts, TriageOutcome, triage
from painflow_referral.policies import DEFAULT_POLICY, load_policy, triage_document
from painflow_referral.settings import ReferralSettings

ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
TODAY = date(2026, 11, 23)
POLICY = load_policy()


def facts(
    *codes: str,
    onset_weeks: int | None = 30,
    reason=True,
    contact=True,
    coverage=True,
    priority="routine",
):
    return ReferralFacts(
        codes=tuple(Code(ICD10, c) for c in codes),
        injury_onset=TODAY - timedelta(weeks=onset_weeks) if onset_weeks is not None else None,
        has_reason=reason,
        has_contact=contact,
        has_coverage=coverage,
        priority=priority,
    )


@pytest.mark.parametrize(
    ("code", "flag", "priority"),
    [
        ("G83.4", "cauda-equina", "stat"),
        ("R33.9", "cauda-equina", "stat"),
        ("M46.26", "infection", "stat"),
        ("C79.51", "malignancy", "asap"),
        ("S32.009A", "fracture", "asap"),
        ("M21.371", "progressive-neurological-deficit", "asap"),
    ],
)
def test_red_flags_redirect_to_urgent_care(code, flag, priority):
    decision = triage(facts("M54.16", code), POLICY, TODAY)
    assert decision.outcome is TriageOutcome.REDIRECTED
    assert decision.red_flags == (flag,)
    assert decision.priority == priority
    assert flag in decision.reason


def test_red_flag_wins_over_missing_data_and_fast_track():
    decision = triage(facts("G83.4", onset_weeks=1, reason=False, contact=False), POLICY, TODAY)
    assert decision.outcome is TriageOutcome.REDIRECTED


def test_a_code_from_another_system_is_not_a_red_flag():
    decision = triage(
        ReferralFacts((Code("http://snomed.info/sct", "G83.4"),), None, True, True, True),
        POLICY,
        TODAY,
    )
    assert decision.outcome is TriageOutcome.AWAITING_COORDINATOR


def test_missing_essentials_put_the_referral_on_hold_and_say_what_is_missing():
    decision = triage(facts("M54.16", reason=False, contact=False), POLICY, TODAY)
    assert decision.outcome is TriageOutcome.ON_HOLD
    assert decision.missing == (
        "coded reason for referral (ICD-10-CM or SNOMED CT diagnosis)",
        "patient contact",
    )
    assert "coded reason for referral" in decision.reason


def test_coverage_is_required_only_where_the_site_says_so():
    assert (
        triage(facts("M54.16", coverage=False), POLICY, TODAY).outcome
        is TriageOutcome.AWAITING_COORDINATOR
    )
    strict = load_policy(overrides={"require_coverage": True})
    assert triage(facts("M54.16", coverage=False), strict, TODAY).missing == ("coverage",)


@pytest.mark.parametrize(
    ("weeks", "outcome"),
    [
        (0, TriageOutcome.FAST_TRACK),
        (11, TriageOutcome.FAST_TRACK),
        (12, TriageOutcome.AWAITING_COORDINATOR),
        (52, TriageOutcome.AWAITING_COORDINATOR),
    ],
)
def test_injury_under_twelve_weeks_is_fast_tracked(weeks, outcome):
    decision = triage(facts("M54.16", onset_weeks=weeks), POLICY, TODAY)
    assert decision.outcome is outcome
    if outcome is TriageOutcome.FAST_TRACK:
        assert decision.priority == "urgent"


def test_fast_track_never_lowers_a_more_urgent_priority():
    assert triage(facts("M54.16", onset_weeks=2, priority="asap"), POLICY, TODAY).priority == "asap"


def test_unknown_onset_waits_for_the_coordinator():
    assert (
        triage(facts("M54.16", onset_weeks=None), POLICY, TODAY).outcome
        is TriageOutcome.AWAITING_COORDINATOR
    )


def test_policy_names_its_sources_and_version():
    assert POLICY.version == "painflow-referral-triage|1.0.0"
    assert POLICY.fast_track_weeks == 12


def test_the_served_triage_policy_carries_the_site_s_coverage_override():
    """GET /policies/triage serves the document the triage reads: the file and the override."""
    shipped = json.loads(DEFAULT_POLICY.read_text())
    assert triage_document(ReferralSettings()) == shipped
    strict = triage_document(ReferralSettings(require_coverage=not shipped["require_coverage"]))
    assert strict == {**shipped, "require_coverage": not shipped["require_coverage"]}
