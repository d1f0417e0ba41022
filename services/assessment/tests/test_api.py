"""The FHIR interface over HTTP (in-process ASGI, SQLite, no broker): every refusal of a
QuestionnaireResponse or an order is a 422 OperationOutcome naming the element, and nothing is
stored or staged; the Questionnaires are served from the data files; metadata lists what works."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, select

from painflow_assessment import samples
from painflow_assessment.app import create_app
from painflow_assessment.settings import AssessmentSettings
from painflow_shared.codes import Questionnaire as Q
from painflow_shared.events.envelope import build_event
from painflow_shared.events.outbox import OutboxMessage
from painflow_shared.events.types import ReferralEvent, topic_of
from painflow_shared.fhir.store import StoredResource

PATIENT = "pat-9"
FHIR = {"content-type": "application/fhir+json"}


@pytest.fixture
def client(tmp_path) -> Iterator[TestClient]:
    settings = AssessmentSettings(
        database_url=f"sqlite:///{tmp_path}/assessment.db",
        start_background_workers=False,
        trace_console=False,
        auth_disabled=True,  # the handlers' HTTP shape; authorization: tests/integration
    )
    app = create_app(settings)
    with TestClient(app) as client:
        _accept(app)
        yield client


def _accept(app: Any) -> None:
    referral = {
        "resourceType": "ServiceRequest",
        "id": "ref-9",
        "status": "active",
        "intent": "order",
        "subject": {"reference": f"Patient/{PATIENT}"},
        "reasonReference": [{"reference": "Condition/c-9"}],
    }
    condition = {
        "resourceType": "Condition",
        "id": "c-9",
        "subject": {"reference": f"Patient/{PATIENT}"},
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "M47.816"}]},
    }
    event = build_event(
        event_type=ReferralEvent.ACCEPTED,
        service="referral",
        base_url="http://127.0.0.1:8001/fhir",
        patient_id=PATIENT,
        focus=[referral, {"resourceType": "Task", "id": "t-9", "status": "accepted"}],
        include=[{"resourceType": "Patient", "id": PATIENT}, condition],
    )
    handle = app.state.assessment.subscriptions()[topic_of(event.type)][event.type]
    with app.state.runtime.units.begin() as uow:
        handle(uow, event)


def _counts(client: TestClient) -> tuple[int, int]:
    engine = client.app.state.runtime.engine  # type: ignore[attr-defined]
    with Session(engine) as session:
        resources = session.exec(select(func.count()).select_from(StoredResource)).one()
        events = session.exec(select(func.count()).select_from(OutboxMessage)).one()
    return int(resources), int(events)


def _post(client: TestClient, path: str, body: dict[str, Any], **headers: str) -> Any:
    return client.post(f"/fhir/{path}", content=json.dumps(body), headers={**FHIR, **headers})


def _odi(scores: list[int | None]) -> dict[str, Any]:
    return samples.disability(Q.ODI, PATIENT, scores)


def _with(response: dict[str, Any], index: int, answer: dict[str, Any]) -> dict[str, Any]:
    items = [dict(item) for item in response["item"]]
    items[index] = {**items[index], "answer": [answer]}
    return {**response, "item": items}


REFUSED_RESPONSES = [
    pytest.param(
        {**samples.nrs(PATIENT), "subject": {"reference": "Patient/nobody"}},
        "QuestionnaireResponse.subject",
        id="unknown-patient",
    ),
    pytest.param(
        {**samples.nrs(PATIENT), "questionnaire": "https://example.org/Questionnaire/x"},
        "QuestionnaireResponse.questionnaire",
        id="unknown-questionnaire",
    ),
    pytest.param(
        samples.disability(Q.NDI, PATIENT), "QuestionnaireResponse.questionnaire", id="not-asked"
    ),
    pytest.param(
        {**samples.nrs(PATIENT), "item": [{"linkId": "nope", "answer": [{"valueInteger": 1}]}]},
        "QuestionnaireResponse.item[0].linkId",
        id="unknown-linkId",
    ),
    pytest.param(
        _with(samples.nrs(PATIENT), 0, {"valueString": "7"}),
        "QuestionnaireResponse.item[0].answer[0]",
        id="wrong-type",
    ),
    pytest.param(
        _with(samples.nrs(PATIENT), 0, {"valueInteger": 11}),
        "QuestionnaireResponse.item[0].answer[0]",
        id="out-of-range",
    ),
    pytest.param(
        {**samples.peg(PATIENT), "item": samples.peg(PATIENT)["item"][:2]},
        "QuestionnaireResponse.item",
        id="missing-required",
    ),
    pytest.param(
        _odi([2, 2, 2, 2, 2, 2, 2, 2, None, None]),
        "QuestionnaireResponse.item",
        id="two-odi-sections-skipped",
    ),
]


@pytest.mark.parametrize(("body", "expression"), REFUSED_RESPONSES)
def test_a_refused_response_is_a_422_naming_the_item_and_nothing_is_stored(
    client, body, expression
):
    before = _counts(client)
    response = _post(client, "QuestionnaireResponse", body)

    assert response.status_code == 422, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert expression in [e for issue in outcome["issue"] for e in issue.get("expression", [])]
    assert _counts(client) == before


def test_one_skipped_odi_section_is_scored_over_the_answered_ones(client):
    created = _post(client, "QuestionnaireResponse", _odi([2] * 9 + [None]))
    assert created.status_code == 201, created.text
    derived = f"QuestionnaireResponse/{created.json()['id']}"
    found = client.get("/fhir/Observation", params={"derived-from": derived}).json()
    assert found["entry"][0]["resource"]["valueQuantity"]["value"] == 40


def test_a_response_to_a_closed_intake_is_refused(client):
    for response in samples.intake(PATIENT):
        assert _post(client, "QuestionnaireResponse", response).status_code == 201
    before = _counts(client)
    again = _post(client, "QuestionnaireResponse", samples.nrs(PATIENT))
    assert again.status_code == 422
    assert _counts(client) == before


def order(cpt: str = "64493", **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "subject": {"reference": f"Patient/{PATIENT}"},
        "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": cpt}]},
        **extra,
    }


@pytest.mark.parametrize(
    ("body", "expression"),
    [
        (order("12345"), "ServiceRequest.code"),
        (order(code={"text": "a block"}), "ServiceRequest.code"),
        (order(subject={"reference": "Patient/nobody"}), "ServiceRequest.subject"),
        (order(intent="plan"), "ServiceRequest.intent"),
        (order(status="draft"), "ServiceRequest.status"),
        (order("64490"), "ServiceRequest.bodySite"),
    ],
)
def test_a_refused_order_is_a_422_naming_the_element_and_nothing_is_stored(
    client, body, expression
):
    before = _counts(client)
    response = _post(client, "ServiceRequest", body)

    assert response.status_code == 422, response.text
    assert response.json()["issue"][0]["expression"] == [expression]
    assert _counts(client) == before


def test_an_override_needs_a_provenance_and_records_it(client):
    created = _post(client, "ServiceRequest", order()).json()
    changed = {**created, "note": [{"text": "two levels"}]}
    url = f"/fhir/ServiceRequest/{created['id']}"
    before = _counts(client)
    refused = client.put(url, content=json.dumps(changed), headers=FHIR)
    assert refused.status_code == 422
    assert refused.json()["issue"][0]["expression"] == ["X-Provenance"]
    no_reason = {"resourceType": "Provenance", "agent": [{"who": {"reference": "Practitioner/1"}}]}
    refused = client.put(
        url, content=json.dumps(changed), headers={**FHIR, "x-provenance": json.dumps(no_reason)}
    )
    assert refused.json()["issue"][0]["expression"] == ["Provenance.reason"]
    assert _counts(client) == before

    provenance = {**no_reason, "reason": [{"text": "clinical judgement"}]}
    headers = {**FHIR, "x-provenance": json.dumps(provenance), "if-match": 'W/"1"'}
    assert client.put(url, content=json.dumps(changed), headers=headers).status_code == 200
    found = client.get("/fhir/Provenance", params={"target": f"ServiceRequest/{created['id']}"})
    assert found.json()["total"] == 1


def test_questionnaires_are_served_by_url_name_and_id(client):
    by_url = client.get("/fhir/Questionnaire", params={"url": str(Q.PHQ_9)}).json()
    assert [e["resource"]["id"] for e in by_url["entry"]] == ["phq-9"]
    by_name = client.get("/fhir/Questionnaire", params={"name": "PHQ9"}).json()
    assert by_name["total"] == 1
    assert client.get("/fhir/Questionnaire/odi").json()["url"] == str(Q.ODI)
    assert client.get("/fhir/Questionnaire").json()["total"] == 8


def test_metadata_lists_the_writes_that_work(client):
    statement = client.get("/fhir/metadata").json()
    kinds = {
        r["type"]: {i["code"] for i in r["interaction"]} for r in statement["rest"][0]["resource"]
    }
    assert {"create"} <= kinds["QuestionnaireResponse"]
    assert {"create", "update"} <= kinds["ServiceRequest"]
    assert {"update", "patch"} <= kinds["Task"]
    assert "create" not in kinds["Observation"]
    assert client.post("/fhir/Observation", content="{}", headers=FHIR).status_code == 404
