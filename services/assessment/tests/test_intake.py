"""Which questionnaires an intake needs, what the pain history says, and what a follow-up
next step becomes."""

from __future__ import annotations

import pytest

from painflow_assessment.domain.intake import (
    IntakeHistory,
    NextStepPlan,
    intake_history,
    intake_questionnaires,
    plan_next_step,
    region_for_code,
    revise_for_region,
)
from painflow_assessment.domain.orders import ProcedureOrder
from painflow_assessment.domain.problems import Problem
from painflow_assessment.domain.questionnaires import Answers, validate_response
from painflow_assessment.policies import AssessmentPolicies
from painflow_shared.codes import Laterality
from painflow_shared.codes import Questionnaire as Url

ICD = "http://hl7.org/fhir/sid/icd-10-cm"
ALWAYS = [Url.NRS, Url.PEG, Url.PHQ_9, Url.GAD_7, Url.INTAKE_HISTORY, Url.MEDICATIONS]


@pytest.mark.parametrize(
    ("code", "extra"),
    [
        ("M54.16", [Url.ODI]),
        ("M54.50", [Url.ODI]),
        ("M53.3", [Url.ODI]),
        ("M47.814", [Url.ODI]),
        ("M47.812", [Url.NDI]),
        ("M54.12", [Url.NDI]),
        ("G57.1", []),
        ("G89.4", []),
    ],
)
def test_the_intake_questionnaires_follow_the_region(
    policies: AssessmentPolicies, code: str, extra
) -> None:
    assert list(intake_questionnaires([(ICD, code)], policies.intake)) == [*ALWAYS, *extra]


def test_the_longest_prefix_wins_and_other_systems_do_not_match(
    policies: AssessmentPolicies,
) -> None:
    assert region_for_code(ICD, "M54.14", policies.intake) == "thoracic"
    assert region_for_code("http://snomed.info/sct", "M54.16", policies.intake) is None


def test_the_history_can_say_otherwise(policies: AssessmentPolicies) -> None:
    current = intake_questionnaires([(ICD, "M54.16")], policies.intake)

    revision = revise_for_region(current, "cervical", policies.intake)

    assert (revision.add, revision.cancel) == ((Url.NDI,), (Url.ODI,))
    assert revise_for_region(current, "sacroiliac", policies.intake).add == ()
    assert revise_for_region(current, "peripheral", policies.intake).cancel == (Url.ODI,)


def test_the_pain_history_is_read_with_the_clinicians_findings(
    policies: AssessmentPolicies, build
) -> None:
    qr = build.response(
        "intake-history",
        [
            build.integer("pt-weeks", 3),
            {
                "linkId": "pain-region",
                "answer": [
                    {
                        "valueCoding": {
                            "system": "https://painflow.dev/fhir/CodeSystem/body-region",
                            "code": "cervical",
                        }
                    }
                ],
            },
            {
                "linkId": "pain-side",
                "answer": [
                    {"valueCoding": {"system": "http://snomed.info/sct", "code": "24028007"}}
                ],
            },
            {
                "linkId": "pain-type",
                "answer": [
                    {
                        "valueCoding": {
                            "system": "https://painflow.dev/fhir/CodeSystem/pain-type",
                            "code": "radicular",
                        }
                    }
                ],
            },
            {"linkId": "prior-spine-surgery", "answer": [{"valueBoolean": True}]},
            {
                "linkId": "clinician",
                "item": [
                    {"linkId": "psychosocial-driven", "answer": [{"valueBoolean": True}]},
                    {
                        "linkId": "spinal-levels",
                        "answer": [{"valueString": "C5-C6"}, {"valueString": "C6-C7"}],
                    },
                ],
            },
        ],
    )
    answers = validate_response(policies.questionnaires[Url.INTAKE_HISTORY], qr)
    assert isinstance(answers, Answers)

    assert intake_history(answers) == IntakeHistory(
        region="cervical",
        side=Laterality.RIGHT,
        pain_type="radicular",
        pt_weeks=3,
        prior_spine_surgery=True,
        psychosocial_finding=True,
        levels=("C5-C6", "C6-C7"),
    )


def previous(cpt: str, region: str = "lumbar") -> ProcedureOrder:
    return ProcedureOrder(
        cpt, "diagnostic", "facet-medial-branch-block", region, Laterality.RIGHT, ("L4-L5",)
    )


def plan(
    policies: AssessmentPolicies, step: str, before: ProcedureOrder | None
) -> NextStepPlan | Problem:
    return plan_next_step(step, before, policies.intake, policies.pathway.catalogue)


@pytest.mark.parametrize(
    ("step", "before", "after"),
    [
        ("second-comparative-block", "64493", "64493"),
        ("second-comparative-block", "64490", "64490"),
        ("radiofrequency-ablation", "64493", "64635"),
        ("radiofrequency-ablation", "64490", "64633"),
        ("permanent-implant", "63650", "63685"),
    ],
)
def test_a_next_step_becomes_the_next_order_at_the_same_site(
    policies, step: str, before: str, after: str
) -> None:
    result = plan(policies, step, previous(before))

    assert isinstance(result, NextStepPlan) and result.action == "order" and result.order
    order = result.order
    assert (order.cpt, order.region, order.side, order.levels, order.rule) == (
        after,
        "lumbar",
        Laterality.RIGHT,
        ("L4-L5",),
        step,
    )


@pytest.mark.parametrize(
    ("step", "action"),
    [("reassessment", "reopen-intake"), ("urgent-review", "urgent-review"), ("discharge", "none")],
)
def test_other_next_steps_are_not_orders(policies, step: str, action: str) -> None:
    result = plan(policies, step, None)

    assert isinstance(result, NextStepPlan) and (result.action, result.order) == (action, None)


def test_an_rfa_after_an_esi_is_refused(policies) -> None:
    result = plan(policies, "radiofrequency-ablation", previous("64483"))

    assert isinstance(result, Problem) and result.expression == "ServiceRequest.basedOn"


def test_an_unknown_next_step_is_refused(policies) -> None:
    assert isinstance(plan(policies, "something-else", previous("64493")), Problem)
