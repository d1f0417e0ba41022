"""A QuestionnaireResponse against its Questionnaire: every kind of problem, each with its
expression and rule and never the submitted value; or the validated answers."""

from __future__ import annotations

from typing import Any

import pytest

from painflow_assessment.domain.policy import Coding
from painflow_assessment.domain.problems import Problem, as_business_rule_violation
from painflow_assessment.domain.questionnaires import Answers, validate_response
from painflow_assessment.policies import AssessmentPolicies
from painflow_shared.codes import Questionnaire as Url

REGION = "https://painflow.dev/fhir/CodeSystem/body-region"
SNOMED = "http://snomed.info/sct"


def history(**overrides: Any) -> list[dict[str, Any]]:
    items = {
        "pt-weeks": {"linkId": "pt-weeks", "answer": [{"valueInteger": 6}]},
        "pain-region": {
            "linkId": "pain-region",
            "answer": [{"valueCoding": {"system": REGION, "code": "lumbar"}}],
        },
        "pain-side": {
            "linkId": "pain-side",
            "answer": [{"valueCoding": {"system": SNOMED, "code": "7771000"}}],
        },
        "pain-type": {
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
        "prior-spine-surgery": {
            "linkId": "prior-spine-surgery",
            "answer": [{"valueBoolean": False}],
        },
    }
    items.update(overrides)
    return [item for item in items.values() if item is not None]


def check(policies: AssessmentPolicies, url: str, qr: dict[str, Any]) -> list[Problem] | Answers:
    return validate_response(policies.questionnaires[url], qr)


def problems_of(result: list[Problem] | Answers) -> list[tuple[str, str]]:
    assert isinstance(result, list), "expected problems"
    return [(p.expression, p.rule) for p in result]


def test_a_complete_history_gives_its_answers_by_link_id(policies, build) -> None:
    result = check(policies, Url.INTAKE_HISTORY, build.response("intake-history", history()))

    assert isinstance(result, Answers)
    assert result.score("pt-weeks") == 6
    region = result.first("pain-region")
    assert region is not None and region.value == Coding(REGION, "lumbar", "Lower back (lumbar)")
    assert result.first("prior-spine-surgery").value is False  # type: ignore[union-attr]


def test_a_choice_answer_scores_its_ordinal_value(policies, build) -> None:
    result = check(policies, Url.PHQ_9, build.phq9(0, 1, 2, 3, 0, 1, 2, 3, 1))

    assert isinstance(result, Answers)
    assert [result.score(a.link_id) for a in result.items] == [0, 1, 2, 3, 0, 1, 2, 3, 1]


def test_an_unknown_link_id_is_named_by_its_path_not_its_value(policies, build) -> None:
    qr = build.response("intake-history", [*history(), {"linkId": "secret-4471", "answer": []}])

    result = check(policies, Url.INTAKE_HISTORY, qr)

    assert problems_of(result) == [("QuestionnaireResponse.item[5].linkId", "unknown-item")]
    assert "secret-4471" not in result[0].message  # type: ignore[index]


def test_a_wrong_answer_type_is_refused(policies, build) -> None:
    weeks = {"linkId": "pt-weeks", "answer": [{"valueString": "six weeks"}]}

    result = check(
        policies,
        Url.INTAKE_HISTORY,
        build.response("intake-history", history(**{"pt-weeks": weeks})),
    )

    assert problems_of(result) == [("QuestionnaireResponse.item[0].answer[0]", "answer-type")]
    assert "valueInteger" in result[0].message and "six" not in result[0].message  # type: ignore[index]


def test_a_boolean_is_not_an_integer(policies, build) -> None:
    weeks = {"linkId": "pt-weeks", "answer": [{"valueInteger": True}]}

    result = check(
        policies,
        Url.INTAKE_HISTORY,
        build.response("intake-history", history(**{"pt-weeks": weeks})),
    )

    assert problems_of(result) == [("QuestionnaireResponse.item[0].answer[0]", "answer-type")]


@pytest.mark.parametrize(("value", "ok"), [(-1, False), (0, True), (26, True), (27, False)])
def test_pt_weeks_is_within_0_and_26(policies, build, value: int, ok: bool) -> None:
    weeks = {"linkId": "pt-weeks", "answer": [{"valueInteger": value}]}

    result = check(
        policies,
        Url.INTAKE_HISTORY,
        build.response("intake-history", history(**{"pt-weeks": weeks})),
    )

    if ok:
        assert isinstance(result, Answers)
    else:
        assert problems_of(result) == [("QuestionnaireResponse.item[0].answer[0]", "out-of-range")]
        assert str(value) not in result[0].message.replace("26", "")  # type: ignore[index]


def test_an_nrs_above_10_is_out_of_range(policies, build) -> None:
    result = check(policies, Url.NRS, build.response("nrs", [build.integer("72514-3", 11)]))

    assert problems_of(result) == [("QuestionnaireResponse.item[0].answer[0]", "out-of-range")]


def test_an_answer_not_among_the_options_is_refused(policies, build) -> None:
    qr = build.phq9(0, 0, 0, 0, 0, 0, 0, 0, 0)
    qr["item"][3]["answer"][0]["valueCoding"]["code"] = "LA9999-9"

    result = check(policies, Url.PHQ_9, qr)

    assert problems_of(result) == [("QuestionnaireResponse.item[3].answer[0]", "not-an-option")]
    assert "LA9999" not in result[0].message  # type: ignore[index]


def test_a_missing_required_item_is_named(policies, build) -> None:
    qr = build.phq9(0, 0, 0, 0, 0, 0, 0, 0, 0)
    del qr["item"][8]

    result = check(policies, Url.PHQ_9, qr)

    assert problems_of(result) == [("QuestionnaireResponse.item", "required")]
    assert "44260-8" in result[0].message  # type: ignore[index]


def test_a_required_item_without_an_answer_is_refused(policies, build) -> None:
    region = {"linkId": "pain-region", "answer": []}

    result = check(
        policies,
        Url.INTAKE_HISTORY,
        build.response("intake-history", history(**{"pain-region": region})),
    )

    assert problems_of(result) == [("QuestionnaireResponse.item[1].answer", "required")]


def test_two_answers_to_an_item_that_does_not_repeat_are_refused(policies, build) -> None:
    qr = build.response(
        "nrs", [{"linkId": "72514-3", "answer": [{"valueInteger": 3}, {"valueInteger": 4}]}]
    )

    assert problems_of(check(policies, Url.NRS, qr)) == [
        ("QuestionnaireResponse.item[0].answer[1]", "repeats")
    ]


def test_a_clinician_level_must_look_like_a_spinal_level(policies, build) -> None:
    clinician = {
        "linkId": "clinician",
        "item": [
            {
                "linkId": "spinal-levels",
                "answer": [{"valueString": "L5-S1"}, {"valueString": "low back"}],
            },
            {"linkId": "psychosocial-driven", "answer": [{"valueBoolean": True}]},
        ],
    }

    result = check(
        policies, Url.INTAKE_HISTORY, build.response("intake-history", history(clinician=clinician))
    )

    assert problems_of(result) == [("QuestionnaireResponse.item[5].item[0].answer[1]", "pattern")]


def test_a_group_takes_no_answer_and_its_children_are_checked(policies, build) -> None:
    clinician = {
        "linkId": "clinician",
        "answer": [{"valueBoolean": True}],
        "item": [{"linkId": "nope"}],
    }

    result = check(
        policies, Url.INTAKE_HISTORY, build.response("intake-history", history(clinician=clinician))
    )

    assert problems_of(result) == [
        ("QuestionnaireResponse.item[5].answer", "answer-type"),
        ("QuestionnaireResponse.item[5].item[0].linkId", "unknown-item"),
    ]


def test_a_response_to_another_questionnaire_or_not_completed_is_refused(policies, build) -> None:
    qr = build.response("gad-7", [build.integer("72514-3", 4)])
    qr["status"] = "in-progress"

    assert problems_of(check(policies, Url.NRS, qr)) == [
        ("QuestionnaireResponse.questionnaire", "questionnaire"),
        ("QuestionnaireResponse.status", "status"),
    ]


def test_the_version_may_be_named_in_the_canonical(policies, build) -> None:
    qr = build.response("nrs", [build.integer("72514-3", 4)])
    qr["questionnaire"] += "|1.0.0"

    assert isinstance(check(policies, Url.NRS, qr), Answers)


def test_repeated_medication_groups_are_accepted(policies, build) -> None:
    medication = {
        "linkId": "medication",
        "item": [{"linkId": "medication-name", "answer": [{"valueString": "x"}]}],
    }
    qr = build.response(
        "medications",
        [
            {"linkId": "opioid-last-3-months", "answer": [{"valueBoolean": True}]},
            {"linkId": "blood-thinner", "answer": [{"valueBoolean": False}]},
            medication,
            medication,
        ],
    )

    result = check(policies, Url.MEDICATIONS, qr)

    assert isinstance(result, Answers) and len(result.all("medication-name")) == 2


def test_problems_become_one_422_with_an_issue_per_expression() -> None:
    problems = [
        Problem("QuestionnaireResponse.item[0]", "x", "m1"),
        Problem("QuestionnaireResponse.item", "y", "m2"),
    ]

    error = as_business_rule_violation(problems)

    assert error.status == 422
    assert [i.expression for i in error.issues] == [
        ("QuestionnaireResponse.item[0]",),
        ("QuestionnaireResponse.item",),
    ]
