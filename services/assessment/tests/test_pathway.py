"""Candidacy and the pathway: each rule with a patient who meets it and one who just misses it,
in precedence order, and explanations that name the rule and its source."""

from __future__ import annotations

from dataclasses import replace

import pytest

from painflow_assessment.domain.pathway import (
    ConditionFact,
    PathwayDecision,
    PathwayFacts,
    decide_pathway,
)
from painflow_assessment.policies import AssessmentPolicies
from painflow_shared.codes import CareActivity, Laterality
from painflow_shared.codes import PathwayDecision as Code

ICD = "http://hl7.org/fhir/sid/icd-10-cm"


def condition(code: str) -> ConditionFact:
    return ConditionFact(f"Condition/{code.replace('.', '-')}", ICD, code)


RADICULAR = PathwayFacts(
    conditions=(condition("M54.16"),),
    region="lumbar",
    side=Laterality.LEFT,
    levels=("L5-S1",),
    pain_type="radicular",
    pt_weeks=6,
    phq9=6,
    gad7=4,
    mme_per_day=22.5,
)


def decide(policies: AssessmentPolicies, facts: PathwayFacts) -> PathwayDecision:
    return decide_pathway(facts, policies.pathway, policies.intake)


def cpts(decision: PathwayDecision) -> list[str]:
    return [order.cpt for order in decision.orders]


def test_one_sided_single_level_radicular_pain_gets_a_transforaminal_esi(policies) -> None:
    decision = decide(policies, RADICULAR)

    assert decision.code == Code.PROCEDURE
    assert cpts(decision) == ["64483"]
    order = decision.orders[0]
    assert (order.region, order.side, order.levels, order.purpose) == (
        "lumbar",
        Laterality.LEFT,
        ("L5-S1",),
        "therapeutic",
    )
    assert decision.diagnosis == condition("M54.16")
    assert "rule radicular-esi" in decision.explanation
    assert "policy painflow-assessment-pathway 1.0.0" in decision.explanation
    assert "source: issue 9 item 5; DOMAIN.md sections 1 and 3" in decision.explanation


def test_two_levels_one_side_is_still_transforaminal(policies) -> None:
    decision = decide(policies, replace(RADICULAR, levels=("L4-L5", "L5-S1")))

    assert cpts(decision) == ["64483"]
    assert decision.orders[0].levels == ("L4-L5", "L5-S1")


@pytest.mark.parametrize(
    "change",
    [{"side": Laterality.BILATERAL}, {"side": None}, {"levels": ("L3-L4", "L4-L5", "L5-S1")}],
    ids=["bilateral", "no-side", "three-levels"],
)
def test_bilateral_or_multilevel_radicular_pain_gets_an_interlaminar_esi(policies, change) -> None:
    decision = decide(policies, replace(RADICULAR, **change))

    assert cpts(decision) == ["62323"]
    assert len(decision.orders[0].levels) == 1  # an interlaminar injection enters at one level


@pytest.mark.parametrize(
    ("side", "cpt"), [(Laterality.RIGHT, "64479"), (Laterality.BILATERAL, "62321")]
)
def test_cervical_radicular_pain(policies, side, cpt: str) -> None:
    facts = replace(
        RADICULAR,
        conditions=(condition("M54.12"),),
        region="cervical",
        side=side,
        levels=("C5-C6",),
    )

    assert cpts(decide(policies, facts)) == [cpt]


def test_radicular_pain_from_the_history_alone_also_leads_to_an_esi(policies) -> None:
    facts = replace(RADICULAR, conditions=(condition("G89.29"),))

    decision = decide(policies, facts)

    assert cpts(decision) == ["64483"]
    assert decision.diagnosis == condition("G89.29")


@pytest.mark.parametrize(
    ("code", "cpt", "region"), [("M47.816", "64493", "lumbar"), ("M47.812", "64490", "cervical")]
)
def test_axial_facet_pain_gets_the_first_medial_branch_block(
    policies, code: str, cpt: str, region: str
) -> None:
    facts = replace(
        RADICULAR,
        conditions=(condition(code),),
        pain_type="axial",
        region=region,
        side=Laterality.RIGHT,
        levels=(),
    )

    decision = decide(policies, facts)

    assert cpts(decision) == [cpt]
    assert decision.orders[0].purpose == "diagnostic"
    assert "rule facet-medial-branch-block" in decision.explanation
    assert decision.orders[0].levels == (policies.pathway.levels_to_confirm[region],)


def test_sacroiliac_pain_gets_an_si_joint_injection_without_waiting_for_therapy(policies) -> None:
    facts = replace(
        RADICULAR,
        conditions=(condition("M53.3"),),
        region="sacroiliac",
        pain_type="axial",
        pt_weeks=0,
    )

    decision = decide(policies, facts)

    assert (decision.code, cpts(decision)) == (Code.PROCEDURE, ["27096"])
    assert decision.orders[0].region == "sacroiliac"


def test_post_laminectomy_syndrome_gets_an_scs_trial_and_a_psychological_evaluation(
    policies,
) -> None:
    facts = replace(
        RADICULAR,
        conditions=(condition("M96.1"),),
        pain_type="neuropathic",
        prior_spine_surgery=True,
        pt_weeks=0,
    )

    decision = decide(policies, facts)

    assert cpts(decision) == ["63650", "90791"]
    trial, evaluation = decision.orders
    assert (trial.purpose, trial.region, trial.levels) == ("trial", "thoracic", ("T8-T10",))
    assert (evaluation.region, evaluation.levels) == (None, ())


@pytest.mark.parametrize(
    ("refractory", "code"), [(True, Code.PROCEDURE), (False, Code.CONSERVATIVE_CARE_FIRST)]
)
def test_neuropathic_pain_leads_to_an_scs_trial_only_when_refractory(
    policies, refractory: bool, code
) -> None:
    facts = replace(
        RADICULAR, conditions=(condition("G89.29"),), pain_type="neuropathic", refractory=refractory
    )

    decision = decide(policies, facts)

    assert decision.code == code
    assert cpts(decision) == (["63650", "90791"] if refractory else [])


@pytest.mark.parametrize(("refractory", "orders"), [(True, ["62323"]), (False, [])])
def test_refractory_cancer_pain_gets_a_single_shot_intrathecal_trial(
    policies, refractory: bool, orders
) -> None:
    facts = replace(
        RADICULAR,
        conditions=(condition("G89.3"),),
        pain_type="cancer",
        refractory=refractory,
        pt_weeks=0,
    )

    decision = decide(policies, facts)

    assert cpts(decision) == orders
    if orders:
        assert (decision.orders[0].purpose, decision.orders[0].levels) == ("trial", ("L3-L4",))


def test_peripheral_nerve_pain_gets_a_peripheral_nerve_block(policies) -> None:
    facts = replace(
        RADICULAR,
        conditions=(condition("G57.1"),),
        region="peripheral",
        pain_type="neuropathic",
        levels=(),
        pt_weeks=0,
    )

    decision = decide(policies, facts)

    assert cpts(decision) == ["64450"]
    assert decision.orders[0].region == "peripheral"


@pytest.mark.parametrize(
    ("weeks", "code"), [(3, Code.CONSERVATIVE_CARE_FIRST), (4, Code.PROCEDURE)]
)
def test_an_esi_needs_4_weeks_of_physical_therapy_first(policies, weeks: int, code) -> None:
    decision = decide(policies, replace(RADICULAR, pt_weeks=weeks))

    assert decision.code == code
    if code == Code.CONSERVATIVE_CARE_FIRST:
        assert decision.orders == ()
        assert "rule conservative-care-first" in decision.explanation
        assert "LCD L33906" in decision.explanation
        assert "3 weeks" in decision.explanation
        assert [a.activity for a in decision.activities] == [CareActivity.PHYSICAL_THERAPY]


def test_facet_blocks_need_physical_therapy_first_too(policies) -> None:
    facts = replace(RADICULAR, conditions=(condition("M47.816"),), pain_type="axial", pt_weeks=3)

    assert decide(policies, facts).code == Code.CONSERVATIVE_CARE_FIRST


@pytest.mark.parametrize(
    ("phq9", "code"), [(19, Code.PROCEDURE), (20, Code.DEFER_BEHAVIOURAL_HEALTH)]
)
def test_phq9_of_20_defers_the_intervention(policies, phq9: int, code) -> None:
    decision = decide(policies, replace(RADICULAR, phq9=phq9))

    assert decision.code == code
    if code == Code.DEFER_BEHAVIOURAL_HEALTH:
        assert "PHQ-9 is 20, at or above 20" in decision.explanation
        assert "rule defer-behavioural-health" in decision.explanation
        assert "DOMAIN.md section 4" in decision.explanation
        assert {a.activity for a in decision.activities} >= {
            CareActivity.COGNITIVE_BEHAVIOURAL_THERAPY,
            CareActivity.MEDICATION_MANAGEMENT,
        }


@pytest.mark.parametrize(
    ("gad7", "code"), [(14, Code.PROCEDURE), (15, Code.DEFER_BEHAVIOURAL_HEALTH)]
)
def test_gad7_of_15_defers_the_intervention(policies, gad7: int, code) -> None:
    decision = decide(policies, replace(RADICULAR, gad7=gad7))

    assert decision.code == code


def test_the_clinicians_psychosocial_finding_defers_the_intervention(policies) -> None:
    decision = decide(policies, replace(RADICULAR, psychosocial_finding=True))

    assert decision.code == Code.DEFER_BEHAVIOURAL_HEALTH
    assert "psychosocial" in decision.explanation


@pytest.mark.parametrize(
    "change",
    [{"red_flags": ("cauda-equina",)}, {"unstable_findings": True}],
    ids=["red-flag", "unstable"],
)
def test_red_flags_or_unstable_findings_send_the_patient_to_the_urgent_route(
    policies, change
) -> None:
    decision = decide(policies, replace(RADICULAR, phq9=25, pt_weeks=0, **change))

    assert decision.code == Code.NOT_CANDIDATE_URGENT  # it wins over every other rule
    assert decision.orders == ()
    assert "rule not-candidate-urgent" in decision.explanation
    assert decision.activities


def test_behavioural_health_wins_over_too_little_physical_therapy(policies) -> None:
    assert (
        decide(policies, replace(RADICULAR, gad7=16, pt_weeks=0)).code
        == Code.DEFER_BEHAVIOURAL_HEALTH
    )


def test_no_procedure_fits_chronic_pain_syndrome_alone(policies) -> None:
    facts = PathwayFacts(conditions=(condition("G89.4"),), pt_weeks=12, phq9=3, gad7=2)

    decision = decide(policies, facts)

    assert decision.code == Code.CONSERVATIVE_CARE_FIRST
    assert "rule no-interventional-target" in decision.explanation
    assert decision.diagnosis == condition("G89.4")


@pytest.mark.parametrize(("mme", "added"), [(89.9, False), (90, True)])
def test_a_high_opioid_load_adds_medication_management(policies, mme: float, added: bool) -> None:
    decision = decide(policies, replace(RADICULAR, mme_per_day=mme))

    activities = [a.activity for a in decision.activities]
    assert (CareActivity.MEDICATION_MANAGEMENT in activities) is added
    assert ("medication management added" in decision.explanation) is added
    assert decision.code == Code.PROCEDURE
