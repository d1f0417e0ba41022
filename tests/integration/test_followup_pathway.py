"""The follow-up service over real Kafka, HTTP and PostgreSQL: a performed procedure gets its
plan, outcomes posted over HTTP are measured, and the next step follows the published rules;
every event on the follow-up topic keeps its contract, and the journey shows it all in order."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from painflow_shared.codes import CodeSystem, NextStep
from painflow_shared.events.types import FollowupEvent
from painflow_shared.fhir.dates import fhir_instant
from painflow_shared.testing.factories import referral_bundle
from painflow_shared.testing.fixtures import wait_for

from .api import api
from .conftest import FHIR_JSON, post_referral
from .followup_events import (
    ESI,
    FollowupTopic,
    next_step_code,
    now,
    of_patient,
    procedure_performed,
    publish_scheduling,
)

pytestmark = pytest.mark.integration
OUTCOME_TASK = f"{CodeSystem.TASK_TYPE}|outcome-collection"


@pytest.fixture
def topic(platform: Any, kafka: str) -> Iterator[FollowupTopic]:
    reader = FollowupTopic(platform, kafka)
    yield reader
    reader.close()


def _referral(platform: Any) -> str:
    """A referral written three hours ago (before the procedures below); the patient's id."""
    bundle = referral_bundle()
    for entry in bundle["entry"]:
        if entry["resource"]["resourceType"] == "ServiceRequest":
            entry["resource"]["authoredOn"] = fhir_instant(now() - timedelta(hours=3))
    return post_referral(platform, bundle)[0]


def _relief(platform: Any, patient_id: str, procedure_id: str, percent: float) -> dict:
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": CodeSystem.OUTCOME, "code": "percent-relief"}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "partOf": [{"reference": f"Procedure/{procedure_id}"}],
        "valueQuantity": {
            "value": percent,
            "unit": "%",
            "system": "http://unitsofmeasure.org",
            "code": "%",
        },
    }
    response = api.post(
        f"{platform.fhir('followup')}/Observation", json=observation, headers=FHIR_JSON
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def _perform(platform: Any, kafka: str, patient_id: str, **options: Any) -> tuple[str, str]:
    headers, value, procedure_id, order_id = procedure_performed(patient_id, end=now(), **options)
    publish_scheduling(platform, kafka, headers, value)
    wait_for(lambda: _tasks(platform, patient_id, procedure_id), what="the follow-up plan's Tasks")
    return procedure_id, order_id


def _tasks(platform: Any, patient_id: str, procedure_id: str, status: str = "requested") -> list:
    params = {"patient": f"Patient/{patient_id}", "status": status, "code": OUTCOME_TASK}
    bundle = api.get(f"{platform.fhir('followup')}/Task", params=params).json()
    return [
        e["resource"]
        for e in bundle.get("entry", [])
        if e["resource"]["focus"]["reference"].endswith(f"Procedure/{procedure_id}")
    ]


def _steps(topic: FollowupTopic, patient_id: str, count: int) -> list[str]:
    def enough(messages: list) -> bool:
        return len(of_patient(messages, patient_id, FollowupEvent.NEXT_STEP)) >= count

    messages = topic.wait(enough, what=f"{count} next-step event(s)")
    return [next_step_code(v) for _, v in of_patient(messages, patient_id, FollowupEvent.NEXT_STEP)]


def _contract_valid(platform: Any, topic: FollowupTopic, patient_id: str) -> set[str]:
    contracts = platform.runtime("followup").contracts
    seen = set()
    for headers, value in topic.messages:
        if headers.get("ce_subject") == f"Patient/{patient_id}":
            contracts.validate(headers, value)  # raises ContractViolation
            seen.add(headers["ce_type"])
    return seen


def test_dual_blocks_at_85_and_90_percent_lead_to_ablation_and_the_journey_shows_it(
    platform, kafka, topic
):
    patient_id = _referral(platform)
    first, first_order = _perform(platform, kafka, patient_id)
    care_plans = api.get(
        f"{platform.fhir('followup')}/CarePlan", params={"patient": f"Patient/{patient_id}"}
    ).json()
    assert care_plans["total"] == 1
    _relief(platform, patient_id, first, 85)
    assert _steps(topic, patient_id, 1) == [NextStep.SECOND_COMPARATIVE_BLOCK]
    assert _tasks(platform, patient_id, first, status="completed")

    second, _ = _perform(platform, kafka, patient_id, previous_order=first_order)
    _relief(platform, patient_id, second, 90)
    assert _steps(topic, patient_id, 2)[1] == NextStep.RADIOFREQUENCY_ABLATION

    proposals = api.get(
        f"{platform.fhir('followup')}/ServiceRequest",
        params={
            "patient": f"Patient/{patient_id}",
            "code": f"{CodeSystem.NEXT_STEP}|radiofrequency-ablation",
        },
    ).json()
    assert proposals["total"] == 1
    assert _contract_valid(platform, topic, patient_id) == {
        FollowupEvent.FOLLOWUP_SCHEDULED,
        FollowupEvent.OUTCOME_RECORDED,
        FollowupEvent.NEXT_STEP,
    }

    def journey() -> dict | None:
        body = api.get(f"{platform.url('followup')}/journeys/{patient_id}").json()
        steps = [e["step"] for e in body.get("events", [])]
        return body if steps.count("next-step") == 2 else None

    body = wait_for(journey, what="the journey with both decisions")
    steps = [e["step"] for e in body["events"]]
    assert steps[:2] == ["injury", "referral"]
    assert steps[2:] == [
        "procedure",
        "follow-up",
        "outcome",
        "next-step",
        "procedure",
        "follow-up",
        "outcome",
        "next-step",
    ]
    assert all(isinstance(e["days_since_injury"], int) for e in body["events"])
    assert all(e["trace_id"] for e in body["events"])
    assert body["current"]["step"] == "next-step"
    moved = api.get(f"{platform.url('followup')}/journey/{patient_id}", follow_redirects=False)
    assert moved.status_code in (307, 308)
    assert moved.headers["location"].endswith(f"/journeys/{patient_id}")


def test_a_second_block_at_40_percent_ends_in_reassessment(platform, kafka, topic):
    patient_id = _referral(platform)
    first, first_order = _perform(platform, kafka, patient_id)
    _relief(platform, patient_id, first, 85)
    second, _ = _perform(platform, kafka, patient_id, previous_order=first_order)
    _relief(platform, patient_id, second, 40)

    assert _steps(topic, patient_id, 2) == [
        NextStep.SECOND_COMPARATIVE_BLOCK,
        NextStep.REASSESSMENT,
    ]
    assert FollowupEvent.NEXT_STEP in _contract_valid(platform, topic, patient_id)


def test_a_complication_leads_to_an_urgent_review(platform, kafka, topic):
    patient_id = _referral(platform)
    procedure, _ = _perform(platform, kafka, patient_id, cpt=ESI, complication="bleeding")
    _relief(platform, patient_id, procedure, 90)

    assert _steps(topic, patient_id, 1) == [NextStep.URGENT_REVIEW]
    assert FollowupEvent.NEXT_STEP in _contract_valid(platform, topic, patient_id)


def test_a_bad_outcome_is_a_422_with_expressions_and_nothing_is_stored(platform, kafka):
    from .conftest import stored_counts

    patient_id = _referral(platform)
    procedure, _ = _perform(platform, kafka, patient_id)
    before = stored_counts(platform, "followup")
    bad = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "72514-3"}]},
        "subject": {"reference": "Group/1"},
        "partOf": [{"reference": "Procedure/not-here"}],
        "valueInteger": 12,
    }
    response = api.post(f"{platform.fhir('followup')}/Observation", json=bad, headers=FHIR_JSON)

    assert response.status_code == 422
    expressions = {e for i in response.json()["issue"] for e in i.get("expression", [])}
    assert expressions == {"Observation.subject", "Observation.partOf", "Observation.valueInteger"}
    assert stored_counts(platform, "followup") == before
    assert procedure not in response.text


def test_the_capability_statement_and_the_outcome_questionnaire(platform):
    base = platform.fhir("followup")
    statement = api.get(f"{base}/metadata").json()
    resources = {r["type"]: r for r in statement["rest"][0]["resource"]}
    assert resources["Patient"]["operation"][0]["name"] == "everything"
    assert "create" in {i["code"] for i in resources["Observation"]["interaction"]}
    assert "create" not in {i["code"] for i in resources["Task"]["interaction"]}
    found = api.get(
        f"{base}/Questionnaire", params={"url": "https://painflow.dev/fhir/Questionnaire/outcome"}
    ).json()
    assert found["total"] == 1 and found["entry"][0]["resource"]["id"] == "outcome"
    assert api.get(f"{base}/Questionnaire", params={"title": "x"}).status_code == 400
    assert (
        api.post(f"{base}/Task", json={"resourceType": "Task"}, headers=FHIR_JSON).status_code
        == 404
    )


def test_everything_links_each_resource_to_its_episode(platform, kafka):
    patient_id = _referral(platform)
    _perform(platform, kafka, patient_id, cpt=ESI)
    url = f"{platform.fhir('followup')}/Patient/{patient_id}/$everything"
    bundle = wait_for(
        lambda: (
            (b := api.get(url).json()).get("type") == "searchset"
            and {"EpisodeOfCare", "Procedure"}
            <= {e["resource"]["resourceType"] for e in b["entry"]}
            and b
        ),
        what="$everything with the referral's episode",
    )
    types = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert {"Patient", "EpisodeOfCare", "ServiceRequest", "Procedure", "CarePlan", "Task"} <= types
    episode = next(e for e in bundle["entry"] if e["resource"]["resourceType"] == "EpisodeOfCare")
    plan = next(e for e in bundle["entry"] if e["resource"]["resourceType"] == "CarePlan")
    assert plan["link"] == [{"relation": "related", "url": episode["fullUrl"]}]
    assert api.get(f"{platform.fhir('followup')}/Patient/nobody/$everything").status_code == 404
