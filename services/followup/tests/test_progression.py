"""Progression rules (issue 11 item 3) at their boundaries, with their precedence."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from painflow_followup.domain.progression import OutcomeFacts, decide_next_step
from painflow_followup.policies import PolicyError, load_policies
from painflow_shared.codes import NextStep

POLICY = load_policies().progression
SITE_50 = load_policies(mbb_threshold=50).progression

MBB = OutcomeFacts(cpt_codes=("64493",), block_number=1, time_point="block-duration")
ESI = OutcomeFacts(cpt_codes=("64483",), time_point="2w")
RFA = OutcomeFacts(cpt_codes=("64635",), time_point="6m")
SCS_TRIAL = OutcomeFacts(cpt_codes=("63650",), procedure_purpose="trial", time_point="trial-end")
DISCHARGE = OutcomeFacts(
    cpt_codes=("64483",),
    time_point="6m",
    nrs_baseline=10,
    nrs_now=7,
    function_measure="odi",
    function_baseline=40,
    function_now=30,
)


def decide(facts: OutcomeFacts, **changes: Any) -> NextStep | None:
    decision = decide_next_step(replace(facts, **changes), POLICY)
    return decision.code if decision else None


@pytest.mark.parametrize(
    ("relief", "expected"),
    [
        (80, NextStep.SECOND_COMPARATIVE_BLOCK),
        (79, NextStep.REASSESSMENT),
        (79.9, NextStep.REASSESSMENT),
        (100, NextStep.SECOND_COMPARATIVE_BLOCK),
    ],
)
def test_first_medial_branch_block_at_the_80_percent_threshold(relief, expected):
    assert decide(MBB, relief_percent=relief) is expected


@pytest.mark.parametrize(
    ("relief", "expected"),
    [(80, NextStep.RADIOFREQUENCY_ABLATION), (79, NextStep.REASSESSMENT)],
)
def test_second_block_also_at_the_threshold_leads_to_ablation(relief, expected):
    second = replace(MBB, block_number=2, first_block_relief_percent=85)
    assert decide(second, relief_percent=relief) is expected


def test_second_block_after_a_first_block_below_the_threshold_is_reassessment():
    second = replace(MBB, block_number=2, first_block_relief_percent=70)
    decision = decide_next_step(replace(second, relief_percent=95), POLICY)

    assert decision is not None and decision.code is NextStep.REASSESSMENT
    assert "first block gave 70%" in decision.explanation


@pytest.mark.parametrize(
    ("relief", "block", "expected"),
    [
        (50, 1, NextStep.SECOND_COMPARATIVE_BLOCK),
        (49, 1, NextStep.REASSESSMENT),
        (50, 2, NextStep.RADIOFREQUENCY_ABLATION),
        (49, 2, NextStep.REASSESSMENT),
    ],
)
def test_a_site_that_picks_50_percent_uses_it_for_both_blocks(relief, block, expected):
    facts = replace(MBB, block_number=block, relief_percent=relief)
    decision = decide_next_step(facts, SITE_50)

    assert decision is not None and decision.code is expected
    assert "Cohen 2020" in decision.explanation
    assert "this site's 50% threshold" in decision.explanation


def test_the_default_site_cites_the_lcds_and_the_80_percent_threshold():
    decision = decide_next_step(replace(MBB, relief_percent=85), POLICY)

    assert decision is not None
    assert "Medicare facet LCDs" in decision.explanation
    assert "this site's 80% threshold" in decision.explanation
    assert decision.rule_id == "mbb-first-block"
    assert decision.uncertain


def test_a_threshold_the_policy_does_not_offer_is_refused_at_start():
    with pytest.raises(PolicyError, match="one of 80, 50"):
        load_policies(mbb_threshold=60)


@pytest.mark.parametrize(
    ("relief", "expected"),
    [(50, NextStep.PERMANENT_IMPLANT), (49, NextStep.REASSESSMENT)],
)
def test_stimulator_trial(relief, expected):
    assert decide(SCS_TRIAL, relief_percent=relief) is expected


def test_63650_without_the_trial_purpose_is_an_implant_not_a_trial():
    assert decide(SCS_TRIAL, procedure_purpose="therapeutic", relief_percent=90) is None


@pytest.mark.parametrize(
    ("relief", "expected"),
    [(50, NextStep.REPEAT_WHEN_PAIN_RETURNS), (49, NextStep.REASSESSMENT)],
)
def test_epidural_steroid_injection_at_two_weeks(relief, expected):
    assert decide(ESI, relief_percent=relief) is expected


def test_esi_explanation_names_policy_rule_source_and_numbers():
    decision = decide_next_step(replace(ESI, relief_percent=57.1), POLICY)

    assert decision is not None
    assert decision.explanation.startswith(
        "Policy painflow-progression 1.0.0, rule esi-repeat (LCD L33906; eviCore CMM-200): "
        "57.1% relief at the 2-week time point, at least 50%."
    )
    assert decision.display == "Repeat the procedure when the pain returns"
    assert "L33906" in decision.source


@pytest.mark.parametrize(
    ("relief", "earlier", "expected"),
    [
        (50, (60, 55), NextStep.REPEAT_WHEN_PAIN_RETURNS),
        (49, (60, 55), NextStep.REASSESSMENT),
        (70, (60, 49), NextStep.REASSESSMENT),  # not sustained for 6 months
    ],
)
def test_ablation_relief_sustained_for_six_months(relief, earlier, expected):
    assert decide(RFA, relief_percent=relief, earlier_relief_percents=earlier) is expected


def test_ablation_before_six_months_decides_nothing_yet():
    assert decide(RFA, time_point="3m", relief_percent=90) is None


def test_no_relief_computable_decides_nothing():
    assert decide(ESI, relief_percent=None) is None


@pytest.mark.parametrize("facts", [MBB, ESI, RFA, SCS_TRIAL, DISCHARGE])
def test_a_complication_comes_before_every_other_rule(facts):
    decision = decide_next_step(
        replace(facts, relief_percent=95, complications=("dural-puncture",)), POLICY
    )

    assert decision is not None and decision.code is NextStep.URGENT_REVIEW
    assert "dural puncture" in decision.explanation


def test_a_complication_decides_even_without_any_outcome_value():
    facts = OutcomeFacts(cpt_codes=("99999",), complications=("recorded",))
    assert decide(facts) is NextStep.URGENT_REVIEW


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, NextStep.DISCHARGE),  # NRS exactly 30% lower, ODI exactly 10 points better
        ({"nrs_now": 7.1}, None),  # 29% lower
        ({"function_now": 31}, None),  # 9 points better
        ({"pending": True}, None),
        ({"time_point": "3m"}, None),
        ({"function_now": None}, None),  # function not measured: cannot discharge
        ({"nrs_baseline": 0, "nrs_now": 0}, None),  # no reduction computable
    ],
)
def test_discharge_on_sustained_improvement_at_six_months(changes, expected):
    assert decide(DISCHARGE, **changes) is expected


def test_discharge_comes_before_the_ablation_repeat_rule():
    facts = replace(DISCHARGE, cpt_codes=("64635",), relief_percent=60)
    decision = decide_next_step(facts, POLICY)

    assert decision is not None and decision.code is NextStep.DISCHARGE
    assert "30% below the intake baseline 10" in decision.explanation
    assert "ODI is 10 points better" in decision.explanation


def test_without_discharge_the_ablation_rule_still_decides_at_six_months():
    facts = replace(DISCHARGE, cpt_codes=("64635",), relief_percent=60, pending=True)
    assert decide(facts) is NextStep.REPEAT_WHEN_PAIN_RETURNS


def test_unknown_procedure_and_time_point_decide_nothing():
    assert decide(OutcomeFacts(cpt_codes=("99213",), time_point="2w", relief_percent=90)) is None
    assert decide(ESI, time_point="6w", relief_percent=90) is None
