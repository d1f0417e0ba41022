"""Each instrument scored exactly as it is defined, against worked examples and every band edge."""

from __future__ import annotations

from typing import Any

import pytest
from fhir.resources.R4B.observation import Observation

from painflow_assessment.domain.problems import Problem
from painflow_assessment.domain.questionnaires import Answers, validate_response
from painflow_assessment.domain.scoring import (
    InstrumentScore,
    band_of,
    score_observation,
    score_response,
)
from painflow_assessment.policies import AssessmentPolicies

Q = "https://painflow.dev/fhir/Questionnaire"


def score(
    policies: AssessmentPolicies, qr: dict[str, Any]
) -> InstrumentScore | list[Problem] | None:
    answers = validate_response(policies.questionnaires[qr["questionnaire"]], qr)
    assert isinstance(answers, Answers), answers
    return score_response(answers, policies.scoring)


def scored(policies: AssessmentPolicies, qr: dict[str, Any]) -> InstrumentScore:
    result = score(policies, qr)
    assert isinstance(result, InstrumentScore), result
    return result


def test_phq9_worked_example(policies, build) -> None:
    # 1+1+2+1+0+1+0+0+0 = 6: mild; item 9 is 0, so no safety finding
    result = scored(policies, build.phq9(1, 1, 2, 1, 0, 1, 0, 0, 0))

    assert (result.value, result.band, result.safety_finding) == (6, "mild", False)


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "moderately severe"),
        (19, "moderately severe"),
        (20, "severe"),
        (27, "severe"),
    ],
)
def test_phq9_band_edges(policies, build, total: int, band: str) -> None:
    result = scored(policies, build.phq9(*build.spread(total, 9)))

    assert (result.value, result.band) == (total, band)


def test_phq9_item_9_above_0_is_a_safety_finding_whatever_the_total(policies, build) -> None:
    result = scored(policies, build.phq9(0, 0, 0, 0, 0, 0, 0, 0, 1))

    assert (result.value, result.band, result.safety_finding) == (1, "minimal", True)


def test_gad7_worked_example(policies, build) -> None:
    result = scored(policies, build.gad7(1, 1, 1, 1, 0, 1, 2))

    assert (result.value, result.band) == (7, "mild")


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "severe"),
        (21, "severe"),
    ],
)
def test_gad7_band_edges(policies, build, total: int, band: str) -> None:
    result = scored(policies, build.gad7(*build.spread(total, 7)))

    assert (result.value, result.band) == (total, band)


def test_odi_worked_example_with_every_section(policies, build) -> None:
    # 2+1+3+2+2+1+1+0+2+2 = 16 of 50 -> 32 %
    result = scored(policies, build.disability("odi", [2, 1, 3, 2, 2, 1, 1, 0, 2, 2]))

    assert (result.value, result.band, result.skipped) == (32, "moderate disability", ())


def test_odi_with_one_skipped_section_scores_over_the_answered_ones(policies, build) -> None:
    # sex life skipped: 2+1+3+2+2+1+1+2+2 = 16 of 45 -> 35.6 %
    result = scored(policies, build.disability("odi", [2, 1, 3, 2, 2, 1, 1, None, 2, 2]))

    assert (result.value, result.band, result.skipped, result.answered) == (
        35.6,
        "moderate disability",
        ("odi-8",),
        9,
    )


def test_odi_with_two_skipped_sections_has_no_valid_score(policies, build) -> None:
    result = score(policies, build.disability("odi", [2, 1, 3, 2, 2, 1, 1, None, None, 2]))

    assert isinstance(result, list)
    assert [(p.expression, p.rule) for p in result] == [
        ("QuestionnaireResponse.item", "too-many-skipped")
    ]


@pytest.mark.parametrize(
    ("sections", "value", "band"),
    [
        ([1] * 10, 20, "minimal disability"),
        ([1] * 9 + [2], 22, "moderate disability"),
        ([2] * 10, 40, "moderate disability"),
        ([2] * 9 + [3], 42, "severe disability"),
        ([3] * 10, 60, "severe disability"),
        ([3] * 9 + [4], 62, "crippled"),
        ([4] * 10, 80, "crippled"),
        ([4] * 9 + [5], 82, "bed-bound"),
        ([5] * 10, 100, "bed-bound"),
    ],
)
def test_odi_band_edges(policies, build, sections: list[int], value: float, band: str) -> None:
    result = scored(policies, build.disability("odi", sections))

    assert (result.value, result.band) == (value, band)


@pytest.mark.parametrize(
    ("value", "band"),
    [
        (20, "minimal disability"),
        (20.9, "minimal disability"),
        (21, "moderate disability"),
        (40, "moderate disability"),
        (41, "severe disability"),
        (60, "severe disability"),
        (61, "crippled"),
        (80, "crippled"),
        (81, "bed-bound"),
    ],
)
def test_odi_band_bounds(policies, value: float, band: str) -> None:
    assert band_of(value, policies.scoring.instruments[f"{Q}/odi"]) == band


@pytest.mark.parametrize(
    ("sections", "value", "band"),
    [
        ([0] * 6 + [1] * 4, 8, "no disability"),
        ([0] * 5 + [1] * 5, 10, "mild disability"),
        ([1] * 6 + [2] * 4, 28, "mild disability"),
        ([1] * 5 + [2] * 5, 30, "moderate disability"),
        ([2] * 6 + [3] * 4, 48, "moderate disability"),
        ([2] * 5 + [3] * 5, 50, "severe disability"),
        ([3] * 6 + [4] * 4, 68, "severe disability"),
        ([3] * 5 + [4] * 5, 70, "complete disability"),
    ],
)
def test_ndi_band_edges(policies, build, sections: list[int], value: float, band: str) -> None:
    result = scored(policies, build.disability("ndi", sections))

    assert (result.value, result.band) == (value, band)


def test_ndi_with_one_skipped_section_takes_the_lower_band_between_two(policies, build) -> None:
    # 4 of 45 = 8.9 %: between "none" (up to 8) and "mild" (from 10)
    result = scored(policies, build.disability("ndi", [1, 1, 1, 1, 0, 0, 0, 0, None, 0]))

    assert (result.value, result.band) == (8.9, "no disability")


def test_ndi_with_two_skipped_sections_has_no_valid_score(policies, build) -> None:
    assert isinstance(score(policies, build.disability("ndi", [1] * 8 + [None, None])), list)


def test_peg_is_the_mean_of_its_three_items(policies, build) -> None:
    qr = build.response(
        "peg",
        [build.integer("75893-8", 7), build.integer("91145-3", 6), build.integer("91146-1", 7)],
    )

    assert scored(policies, qr).value == 6.7


def test_nrs_is_the_rating_as_given(policies, build) -> None:
    assert scored(policies, build.response("nrs", [build.integer("72514-3", 7)])).value == 7


def test_questionnaires_without_a_score_give_none(policies, build) -> None:
    qr = build.response(
        "medications",
        [
            {"linkId": "opioid-last-3-months", "answer": [{"valueBoolean": False}]},
            {"linkId": "blood-thinner", "answer": [{"valueBoolean": False}]},
        ],
    )

    assert score(policies, qr) is None


def observation(policies, result: InstrumentScore) -> dict[str, Any]:
    built = score_observation(
        result,
        policies.scoring,
        observation_id="o1",
        patient="Patient/p1",
        response="QuestionnaireResponse/qr1",
        effective="2026-09-22T16:10:00Z",
    )
    Observation.model_validate(built)
    return built


def test_the_phq9_observation_is_a_survey_integer_with_its_band(policies, build) -> None:
    built = observation(policies, scored(policies, build.phq9(3, 3, 3, 3, 3, 3, 2, 0, 1)))

    assert built["category"][0]["coding"][0]["code"] == "survey"
    assert built["code"]["coding"][0] == {
        "system": "http://loinc.org",
        "code": "44261-6",
        "display": "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]",
    }
    assert (built["valueInteger"], built["interpretation"]) == (21, [{"text": "severe"}])
    assert built["derivedFrom"] == [{"reference": "QuestionnaireResponse/qr1"}]
    assert (built["subject"], built["effectiveDateTime"]) == (
        {"reference": "Patient/p1"},
        "2026-09-22T16:10:00Z",
    )


def test_the_gad7_observation_uses_70274_6(policies, build) -> None:
    built = observation(policies, scored(policies, build.gad7(3, 3, 3, 3, 3, 0, 0)))

    assert (built["code"]["coding"][0]["code"], built["valueInteger"]) == ("70274-6", 15)
    assert built["interpretation"] == [{"text": "severe"}]


def test_the_odi_observation_is_a_percentage_in_ucum(policies, build) -> None:
    built = observation(
        policies, scored(policies, build.disability("odi", [2, 1, 3, 2, 2, 1, 1, None, 2, 2]))
    )

    assert built["valueQuantity"] == {
        "value": 35.6,
        "unit": "%",
        "system": "http://unitsofmeasure.org",
        "code": "%",
    }
    assert built["interpretation"] == [{"text": "moderate disability"}]
    assert "odi-8" in built["note"][0]["text"]


def test_the_ndi_observation_uses_82237_9(policies, build) -> None:
    built = observation(policies, scored(policies, build.disability("ndi", [2] * 10)))

    assert (built["code"]["coding"][0]["code"], built["valueQuantity"]["value"]) == ("82237-9", 40)


def test_the_peg_and_nrs_observations(policies, build) -> None:
    peg = build.response(
        "peg",
        [build.integer("75893-8", 7), build.integer("91145-3", 6), build.integer("91146-1", 7)],
    )
    built_peg = observation(policies, scored(policies, peg))
    built_nrs = observation(
        policies, scored(policies, build.response("nrs", [build.integer("72514-3", 7)]))
    )

    assert built_peg["code"]["coding"][0]["code"] == "91147-9"
    assert built_peg["valueQuantity"] == {
        "value": 6.7,
        "unit": "{score}",
        "system": "http://unitsofmeasure.org",
        "code": "{score}",
    }
    assert (built_nrs["code"]["coding"][0]["code"], built_nrs["valueInteger"]) == ("72514-3", 7)
    assert "interpretation" not in built_nrs
