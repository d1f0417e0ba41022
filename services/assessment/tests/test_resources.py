"""The resources the domain builds keep the event contracts: a `completed` and a
`not-candidate` message from worked examples validate against contracts/, and every resource
parses as FHIR R4B."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

from painflow_assessment.domain.intake import NextStepPlan, plan_next_step
from painflow_assessment.domain.mme import compute_mme, mme_observation
from painflow_assessment.domain.orders import order_from_service_request, service_request
from painflow_assessment.domain.pathway import (
    ConditionFact,
    PathwayDecision,
    PathwayFacts,
    decide_pathway,
)
from painflow_assessment.domain.pathway_resources import care_plan, clinical_impression
from painflow_assessment.domain.questionnaires import Answers, validate_response
from painflow_assessment.domain.scoring import InstrumentScore, score_observation, score_response
from painflow_assessment.policies import AssessmentPolicies
from painflow_shared.codes import Laterality
from painflow_shared.contracts import EventContracts, default_contracts_dir
from painflow_shared.events.envelope import build_event

BASE = "http://127.0.0.1:8002/fhir"
REFERRAL_BASE = "http://127.0.0.1:8001/fhir"
PATIENT_ID = "1f54b9d2-f0a0-5ba8-abe5-5a0b7dc7d528"
PATIENT = f"Patient/{PATIENT_ID}"
REFERRAL = f"{REFERRAL_BASE}/ServiceRequest/ebc9fef9-e921-509e-8450-c25f53db5e08"
CONDITION = f"{REFERRAL_BASE}/Condition/f6b7238a-af72-57e0-ab9f-78c7dd4e2c23"
NOW = "2026-09-22T16:10:00Z"


@pytest.fixture(scope="module")
def contracts() -> EventContracts:
    return EventContracts(default_contracts_dir())


@pytest.fixture(scope="module")
def example() -> dict[str, Any]:
    path = default_contracts_dir() / "examples" / "painflow.assessment.completed.json"
    return json.loads(path.read_text("utf-8"))["value"]


def of_type(example: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [
        e["resource"] for e in example["entry"] if e["resource"]["resourceType"] == resource_type
    ]


def scores(policies: AssessmentPolicies, build) -> list[dict[str, Any]]:
    responses = [
        build.response("nrs", [build.integer("72514-3", 7)]),
        build.response(
            "peg",
            [build.integer("75893-8", 7), build.integer("91145-3", 6), build.integer("91146-1", 7)],
        ),
        build.phq9(1, 1, 2, 1, 0, 1, 0, 0, 0),
        build.gad7(1, 1, 1, 1, 0, 0, 0),
        build.disability("odi", [2, 1, 3, 2, 2, 1, 1, None, 2, 2]),
    ]
    built = []
    for n, qr in enumerate(responses):
        answers = validate_response(policies.questionnaires[qr["questionnaire"]], qr)
        assert isinstance(answers, Answers)
        result = score_response(answers, policies.scoring)
        assert isinstance(result, InstrumentScore)
        built.append(
            score_observation(
                result,
                policies.scoring,
                observation_id=f"obs-{n}",
                patient=PATIENT,
                response=f"QuestionnaireResponse/qr-{n}",
                effective=NOW,
            )
        )
    return built


def decision_for(policies: AssessmentPolicies, **facts: Any) -> PathwayDecision:
    base = PathwayFacts(
        conditions=(
            ConditionFact(
                CONDITION,
                "http://hl7.org/fhir/sid/icd-10-cm",
                "M54.16",
                "Radiculopathy, lumbar region",
            ),
        ),
        region="lumbar",
        side=Laterality.LEFT,
        levels=("L5-S1",),
        pain_type="radicular",
        pt_weeks=6,
        phq9=6,
        gad7=4,
        mme_per_day=22.5,
    )
    return decide_pathway(
        PathwayFacts(**{**base.__dict__, **facts}), policies.pathway, policies.intake
    )


def message(policies, build, example, decision: PathwayDecision, event_type: str):
    observations = scores(policies, build)
    mme = compute_mme(of_type(example, "MedicationStatement"), policies.mme)
    observations.append(
        mme_observation(mme, policies.mme, observation_id="obs-mme", patient=PATIENT, effective=NOW)
    )
    orders = [
        service_request(
            order,
            policies.pathway.catalogue,
            order_id=f"order-{n}",
            patient=PATIENT,
            condition=CONDITION,
            based_on=REFERRAL,
            authored=NOW,
        )
        for n, order in enumerate(decision.orders)
    ]
    plan = care_plan(
        decision,
        care_plan_id="plan-1",
        patient=PATIENT,
        orders=[f"ServiceRequest/{o['id']}" for o in orders],
        created=NOW,
    )
    impression = clinical_impression(
        decision,
        policies.pathway,
        impression_id="ci-1",
        patient=PATIENT,
        referral=REFERRAL,
        investigations=[f"Observation/{o['id']}" for o in observations],
        effective=NOW,
    )
    focus = [impression, *orders] if orders else [impression, plan]
    include = [
        plan,
        *observations,
        *of_type(example, "Condition"),
        *of_type(example, "MedicationStatement"),
        *of_type(example, "AllergyIntolerance"),
        *of_type(example, "Coverage"),
        *of_type(example, "Patient"),
    ]
    envelope = build_event(
        event_type=event_type,
        service="assessment",
        base_url=BASE,
        patient_id=PATIENT_ID,
        focus=focus,
        include=include,
    )
    return envelope, [impression, plan, *orders, *observations]


def parses_as_r4b(resources: list[dict[str, Any]]) -> None:
    for resource in resources:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def test_a_procedure_decision_makes_a_completed_message_that_keeps_its_contract(
    policies, build, example, contracts
) -> None:
    decision = decision_for(policies)
    envelope, built = message(policies, build, example, decision, "painflow.assessment.completed")

    contracts.validate(envelope.headers(), envelope.bundle)
    parses_as_r4b(built)
    order = built[2]
    assert order["code"]["coding"][0]["code"] == "64483"
    assert order["bodySite"][0]["extension"][0] == {
        "url": "https://painflow.dev/fhir/StructureDefinition/spinal-level",
        "valueString": "L5-S1",
    }
    assert order["category"][0]["coding"][0]["code"] == "387713003"
    assert order["basedOn"] == [{"reference": REFERRAL}] and order["reasonReference"] == [
        {"reference": CONDITION}
    ]
    impression = built[0]
    assert impression["finding"][0]["itemCodeableConcept"]["coding"][0]["code"] == "M54.16"
    assert impression["finding"][1]["itemCodeableConcept"]["coding"][0]["code"] == "procedure"
    assert "rule radicular-esi" in impression["summary"]


def test_an_scs_trial_with_its_office_visit_keeps_the_contract(
    policies, build, example, contracts
) -> None:
    decision = decision_for(
        policies,
        conditions=(ConditionFact(CONDITION, "http://hl7.org/fhir/sid/icd-10-cm", "M96.1"),),
        pain_type="neuropathic",
        prior_spine_surgery=True,
    )
    envelope, built = message(policies, build, example, decision, "painflow.assessment.completed")

    contracts.validate(envelope.headers(), envelope.bundle)
    parses_as_r4b(built)
    evaluation = built[3]
    assert evaluation["code"]["coding"][0]["code"] == "90791"
    assert evaluation["category"][0]["coding"][0]["code"] == "409063005"
    assert "bodySite" not in evaluation
    assert {e["url"].rsplit("/", 1)[1] for e in evaluation["extension"]} == {
        "expected-duration",
        "procedure-purpose",
    }


@pytest.mark.parametrize("facts", [{"phq9": 21}, {"pt_weeks": 2}, {"red_flags": ("cauda-equina",)}])
def test_other_decisions_make_a_not_candidate_message_that_keeps_its_contract(
    policies, build, example, contracts, facts
) -> None:
    decision = decision_for(policies, **facts)
    envelope, built = message(
        policies, build, example, decision, "painflow.assessment.not-candidate"
    )

    contracts.validate(envelope.headers(), envelope.bundle)
    parses_as_r4b(built)
    assert built[1]["activity"] and "reference" not in built[1]["activity"][0]


def test_a_next_step_order_is_based_on_the_previous_order_and_keeps_the_contract(
    policies, build, example, contracts
) -> None:
    facts = {
        "conditions": (ConditionFact(CONDITION, "http://hl7.org/fhir/sid/icd-10-cm", "M47.816"),),
        "pain_type": "axial",
        "side": Laterality.RIGHT,
    }
    first = service_request(
        decision_for(policies, **facts).orders[0],
        policies.pathway.catalogue,
        order_id="order-1",
        patient=PATIENT,
        condition=CONDITION,
        based_on=REFERRAL,
        authored=NOW,
    )
    plan = plan_next_step(
        "radiofrequency-ablation",
        order_from_service_request(first),
        policies.intake,
        policies.pathway.catalogue,
    )
    assert isinstance(plan, NextStepPlan) and plan.order is not None

    second = service_request(
        plan.order,
        policies.pathway.catalogue,
        order_id="order-2",
        patient=PATIENT,
        condition=CONDITION,
        based_on="ServiceRequest/order-1",
        authored=NOW,
    )
    envelope = build_event(
        event_type="painflow.assessment.procedure-ordered",
        service="assessment",
        base_url=BASE,
        patient_id=PATIENT_ID,
        focus=[second],
        include=of_type(example, "Patient"),
    )

    contracts.validate(envelope.headers(), envelope.bundle)
    parses_as_r4b([first, second])
    assert (second["code"]["coding"][0]["code"], second["basedOn"]) == (
        "64635",
        [{"reference": "ServiceRequest/order-1"}],
    )
    assert second["bodySite"] == first["bodySite"]


def test_a_stored_order_is_read_back(policies) -> None:
    decision = decision_for(policies, levels=("L4-L5", "L5-S1"))
    stored = service_request(
        decision.orders[0],
        policies.pathway.catalogue,
        order_id="o",
        patient=PATIENT,
        condition=CONDITION,
        based_on=REFERRAL,
        authored=NOW,
    )

    order = order_from_service_request(stored)

    assert order is not None
    assert (order.cpt, order.region, order.side, order.levels, order.purpose) == (
        "64483",
        "lumbar",
        Laterality.LEFT,
        ("L4-L5", "L5-S1"),
        "therapeutic",
    )
