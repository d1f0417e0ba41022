"""Relief from NRS, clinically important change, reading an outcome QuestionnaireResponse and
the outcome Observations (DOMAIN.md section 4, issue 11 item 2)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.questionnaire import Questionnaire

from painflow_followup.domain.observations import (
    ObservationContext,
    function_observation,
    nrs_observation,
    percent_relief_observation,
    pgic_observation,
)
from painflow_followup.domain.outcome_response import (
    OutcomeAnswers,
    Problems,
    read_outcome_response,
)
from painflow_followup.domain.outcomes import (
    function_measure_for,
    pgic_change,
    relief_band,
    relief_change,
    relief_from_nrs,
    score_change,
    stored_value,
)
from painflow_followup.domain.plan_policy import Baseline
from painflow_followup.policies import OUTCOME_QUESTIONNAIRE_FILE, load_policies

POLICIES = load_policies()
MEASURES = POLICIES.measures
ODI = MEASURES.functions["odi"]


# ------------------------------------------------------------------ relief from NRS


def test_relief_of_a_diagnostic_block_is_against_the_same_day_pre_procedure_nrs():
    relief = relief_from_nrs(now=1, baseline=8, kind=Baseline.PRE_PROCEDURE)

    assert relief.percent == 87.5
    assert relief.note == "Derived from NRS 1 against the same day's pre-procedure NRS 8."


def test_relief_otherwise_is_against_the_intake_baseline_rounded_down():
    relief = relief_from_nrs(now=3, baseline=7, kind=Baseline.INTAKE)

    assert relief.percent == 57.1  # 57.14...: one decimal, never rounded up
    assert relief.note == "Derived from NRS 3 against the intake baseline NRS 7."


@pytest.mark.parametrize(
    ("now", "baseline", "expected"),
    [(9, 6, 0.0), (0, 6, 100.0), (6, 6, 0.0), (2, 10, 80.0), (5, 10, 50.0)],
)
def test_relief_is_bounded_to_0_100_and_exact_at_thresholds(now, baseline, expected):
    assert relief_from_nrs(now, baseline, Baseline.INTAKE).percent == expected


@pytest.mark.parametrize(
    ("baseline", "says"),
    [(0, "the intake baseline NRS is 0"), (None, "no intake baseline NRS is recorded")],
)
def test_no_relief_is_computable_without_pain_at_baseline(baseline, says):
    relief = relief_from_nrs(now=0, baseline=baseline, kind=Baseline.INTAKE)

    assert relief.percent is None
    assert relief.note.startswith("No relief computable")
    assert says in relief.note


def test_stored_values_never_round_up_into_a_threshold():
    assert stored_value(79.96) == 79.9
    assert stored_value(49.99) == 49.9


# ------------------------------------------------------------------ clinically important change


@pytest.mark.parametrize(
    ("baseline", "now", "important", "direction"),
    [
        (7, 5, True, "better"),  # 2 points
        (7, 6, False, "better"),  # 1 point, 14%
        (10, 7, True, "better"),  # 3 points, exactly 30%
        (3, 2, True, "better"),  # 1 point but 33%
        (5, 7, True, "worse"),  # 2 points worse
        (4, 4, False, "same"),
        (0, 1, False, "worse"),  # 1 point worse, no percent of 0
        (0, 2, True, "worse"),
    ],
)
def test_nrs_change_is_important_at_2_points_or_30_percent(baseline, now, important, direction):
    change = score_change(baseline, now, MEASURES.nrs_change, "pain")

    assert (change.important, change.direction) == (important, direction)


def test_important_change_text_names_threshold_and_source():
    change = score_change(7, 3, MEASURES.nrs_change, "pain")

    assert change.text == (
        "Clinically important improvement in pain: at least 2 points or 30% "
        "(DOMAIN.md section 4, Farrar 2001)"
    )


@pytest.mark.parametrize(
    ("baseline", "now", "important"),
    [(40, 30, True), (40, 31, False), (20, 14, True), (20, 15, False)],
)
def test_odi_change_is_important_at_10_points_or_30_percent(baseline, now, important):
    assert score_change(baseline, now, ODI.change, "ODI").important is important


@pytest.mark.parametrize(("relief", "important"), [(30, True), (29.9, False), (0, False)])
def test_percent_relief_is_important_from_30_percent(relief, important):
    assert relief_change(relief, MEASURES).important is important


@pytest.mark.parametrize(
    ("relief", "band"),
    [(50, "substantial"), (49.9, "moderate"), (30, "moderate"), (10, "minimal"), (9.9, None)],
)
def test_immpact_bands(relief, band):
    assert relief_band(relief, MEASURES) == band


@pytest.mark.parametrize(("value", "important"), [(7, True), (6, True), (5, False), (1, False)])
def test_pgic_is_important_from_much_improved(value, important):
    assert pgic_change(value, MEASURES).important is important


@pytest.mark.parametrize(
    ("region", "measure"), [("lumbar", "odi"), ("cervical", "ndi"), ("peripheral", None)]
)
def test_function_measure_follows_the_body_region(region, measure):
    found = function_measure_for(MEASURES, region)
    assert (found.name if found else None) == measure


# ------------------------------------------------------------------ the outcome Questionnaire


def test_the_shipped_questionnaire_is_r4_with_ordinal_answer_options():
    resource = json.loads(OUTCOME_QUESTIONNAIRE_FILE.read_text("utf-8"))
    questionnaire = Questionnaire.model_validate(resource)

    assert questionnaire.url == "https://painflow.dev/fhir/Questionnaire/outcome"
    pgic = next(i for i in resource["item"] if i["linkId"] == "pgic")
    ordinals = [o["extension"][0] for o in pgic["answerOption"]]
    assert {e["url"] for e in ordinals} == {"http://hl7.org/fhir/StructureDefinition/ordinalValue"}
    assert [e["valueDecimal"] for e in ordinals] == [1, 2, 3, 4, 5, 6, 7]
    odi = next(i for i in resource["item"] if i["linkId"] == "odi")
    assert len(odi["item"]) == 10


def response(*items: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": "https://painflow.dev/fhir/Questionnaire/outcome",
        "status": "completed",
        "item": list(items),
        **fields,
    }


def answer(link_id: str, **value: Any) -> dict[str, Any]:
    return {"linkId": link_id, "answer": [value]}


def odi_group(scores: list[int | None]) -> dict[str, Any]:
    sections = [
        answer(f"odi-{i}", valueInteger=s) for i, s in enumerate(scores, 1) if s is not None
    ]
    return {"linkId": "odi", "item": sections}


def read(qr: dict[str, Any], **kwargs: Any) -> OutcomeAnswers | Problems:
    return read_outcome_response(qr, POLICIES.questionnaire, MEASURES, **kwargs)


def test_a_valid_response_gives_its_answers_scored():
    result = read(
        response(
            answer("nrs-now", valueInteger=3),
            answer("percent-relief", valueDecimal=60),
            answer("pgic", valueInteger=6),
            odi_group([2, 1, 2, 1, 2, 1, None, 2, 1, 2]),
        ),
        require_function="odi",
    )

    assert isinstance(result, OutcomeAnswers)
    assert (result.nrs_now, result.percent_relief, result.pgic) == (3, 60.0, 6)
    assert result.function == {"odi": 31.1}  # 14 / (5 x 9) x 100, the skipped section left out


def test_the_contract_example_response_is_valid():
    example = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": "https://painflow.dev/fhir/Questionnaire/outcome",
        "status": "completed",
        "item": [
            {"linkId": "nrs-now", "answer": [{"valueInteger": 3}]},
            {"linkId": "percent-relief", "answer": [{"valueDecimal": 60}]},
            {"linkId": "pgic", "answer": [{"valueInteger": 6}]},
        ],
    }
    assert isinstance(read(example), OutcomeAnswers)


@pytest.mark.parametrize(
    ("qr", "expression", "rule"),
    [
        (
            response(answer("nrs-now", valueInteger=11)),
            "QuestionnaireResponse.item[0].answer[0].valueInteger",
            "must be one of the answer options (0 to 10)",
        ),
        (
            response(answer("nrs-now", valueInteger=4), answer("percent-relief", valueDecimal=101)),
            "QuestionnaireResponse.item[1].answer[0].valueDecimal",
            "must be from 0 to 100",
        ),
        (
            response(answer("nrs-now", valueInteger=4), answer("pgic", valueInteger=0)),
            "QuestionnaireResponse.item[1].answer[0].valueInteger",
            "must be one of the answer options (1 to 7)",
        ),
        (
            response(answer("nrs-now", valueString="seven")),
            "QuestionnaireResponse.item[0].answer[0]",
            "must hold one valueInteger",
        ),
        (
            response(answer("nrs-now", valueInteger=True)),
            "QuestionnaireResponse.item[0].answer[0]",
            "must hold one valueInteger",
        ),
        (
            response(answer("mood", valueInteger=3), answer("nrs-now", valueInteger=3)),
            "QuestionnaireResponse.item[0].linkId",
            "is not an item of the outcome Questionnaire",
        ),
        (
            response(answer("nrs-now", valueInteger=3), answer("nrs-now", valueInteger=4)),
            "QuestionnaireResponse.item[1].linkId",
            "appears more than once",
        ),
        (
            response(answer("odi-1", valueInteger=3), answer("nrs-now", valueInteger=3)),
            "QuestionnaireResponse.item[0].linkId",
            "belongs in the group odi",
        ),
        (
            response({"linkId": "nrs-now"}, answer("pgic", valueInteger=5)),
            "QuestionnaireResponse.item",
            "needs the pain now (nrs-now) or the percent relief (percent-relief)",
        ),
        (
            response(answer("nrs-now", valueInteger=3), odi_group([1, 1, 1, 1, 1, 1, 1])),
            "QuestionnaireResponse.item",
            "the ODI needs at least 8 of 10 sections answered",
        ),
        (
            response(answer("nrs-now", valueInteger=3), status="in-progress"),
            "QuestionnaireResponse.status",
            "must be completed or amended for an outcome",
        ),
        (
            response(answer("nrs-now", valueInteger=3), questionnaire="https://x.example/Q/pain"),
            "QuestionnaireResponse.questionnaire",
            "must be https://painflow.dev/fhir/Questionnaire/outcome",
        ),
        (
            response({"linkId": "nrs-now", "answer": [{"valueInteger": 3}, {"valueInteger": 4}]}),
            "QuestionnaireResponse.item[0].answer",
            "takes exactly one answer",
        ),
    ],
)
def test_problems_name_the_element_and_the_rule_never_the_value(qr, expression, rule):
    result = read(qr)

    assert isinstance(result, Problems)
    assert [i.expression for i in result.issues] == [(expression,)]
    assert result.issues[0].diagnostics == f"{expression}: {rule}"


def test_a_required_function_measure_must_be_there():
    result = read(response(answer("nrs-now", valueInteger=3)), require_function="odi")

    assert isinstance(result, Problems)
    assert "the ODI needs at least 8 of 10" in result.issues[0].diagnostics


def test_every_problem_is_reported_at_once():
    result = read(
        response(answer("nrs-now", valueInteger=-1), answer("pgic", valueInteger=9), status="x")
    )
    assert isinstance(result, Problems)
    assert len(result.issues) == 3  # the status and both values


# ------------------------------------------------------------------ the Observations

CTX = ObservationContext(
    patient_id="p-1",
    procedure_reference="http://127.0.0.1:8003/fhir/Procedure/proc-1",
    effective=datetime(2026, 11, 2, 17, 20, tzinfo=UTC),
    derived_from=("QuestionnaireResponse/qr-1",),
)


def test_percent_relief_observation_matches_the_contract_shape():
    relief = relief_from_nrs(3, 7, Baseline.INTAKE)
    assert relief.percent is not None
    observation = percent_relief_observation(
        CTX,
        "obs-2",
        relief.percent,
        relief_change(relief.percent, MEASURES),
        relief=relief,
        baseline_reference="http://127.0.0.1:8002/fhir/Observation/intake-nrs",
    )

    Observation.model_validate(observation)
    assert observation["code"]["coding"][0] == {
        "system": "https://painflow.dev/fhir/CodeSystem/outcome",
        "code": "percent-relief",
        "display": "Pain relief from baseline (percent)",
    }
    assert observation["valueQuantity"] == {
        "value": 57.1,
        "unit": "%",
        "system": "http://unitsofmeasure.org",
        "code": "%",
    }
    assert observation["partOf"] == [{"reference": CTX.procedure_reference}]
    assert observation["subject"] == {"reference": "Patient/p-1"}
    assert observation["interpretation"][0]["coding"][0]["code"] == "B"
    assert observation["interpretation"][0]["text"] == (
        "Clinically important improvement: at least 30% less pain "
        "(DOMAIN.md section 4, Farrar 2001)"
    )
    assert observation["derivedFrom"][0]["reference"].endswith("Observation/intake-nrs")
    assert observation["note"] == [{"text": relief.note}]


def test_no_interpretation_without_an_important_change():
    observation = percent_relief_observation(CTX, "obs-2", 20, relief_change(20, MEASURES))
    assert "interpretation" not in observation


def test_nrs_pgic_and_odi_observations_parse_as_r4():
    worse = score_change(4, 7, MEASURES.nrs_change, "pain")
    nrs = nrs_observation(CTX, "obs-1", 7, MEASURES, worse)
    pgic = pgic_observation(CTX, "obs-3", 6, pgic_change(6, MEASURES))
    odi = function_observation(CTX, "obs-4", ODI, 22.0, score_change(40, 22, ODI.change, "ODI"))

    for resource in (nrs, pgic, odi):
        Observation.model_validate(resource)
    assert nrs["code"]["coding"][0]["code"] == "72514-3"
    assert nrs["valueInteger"] == 7
    assert nrs["interpretation"][0]["coding"][0]["code"] == "W"
    assert pgic["code"]["coding"][0]["code"] == "pgic"
    assert odi["valueQuantity"]["value"] == 22.0
    assert odi["interpretation"][0]["coding"][0]["code"] == "B"
