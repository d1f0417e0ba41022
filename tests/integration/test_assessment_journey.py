"""The assessment service over real HTTP, Kafka and PostgreSQL: a referral accepted at the
referral service opens the intake here, the questionnaires answered over HTTP end in a pathway
decision on Kafka that keeps its contract, and a follow-up ``next-step`` becomes the next order,
once however often it is delivered."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from painflow_assessment import samples
from painflow_shared.codes import CodeSystem, NextStep, concept
from painflow_shared.events.envelope import build_event
from painflow_shared.events.types import ASSESSMENT_TOPIC, FOLLOWUP_TOPIC, FollowupEvent
from painflow_shared.testing.factories import referral_bundle
from painflow_shared.testing.fixtures import wait_for
from painflow_shared.testing.infra import kafka_config

from .api import api
from .conftest import FHIR_JSON, post_referral

pytestmark = pytest.mark.integration
PATCH = {"content-type": "application/json-patch+json"}
QUESTIONNAIRE_TASK = f"{CodeSystem.TASK_TYPE}|questionnaire"


def accept_referral(platform: Any, condition_code: str = "M47.816") -> str:
    """A referral posted and accepted at the referral service; returns the patient id."""
    patient_id, request_id = post_referral(platform, referral_bundle(condition_code=condition_code))
    referral = platform.fhir("referral")
    task = api.get(f"{referral}/Task", params={"focus": f"ServiceRequest/{request_id}"}).json()
    task_id = task["entry"][0]["resource"]["id"]
    accepted = api.patch(
        f"{referral}/Task/{task_id}",
        json=[{"op": "replace", "path": "/status", "value": "accepted"}],
        headers=PATCH,
    )
    assert accepted.status_code == 200, accepted.text
    return patient_id


def intake_tasks(platform: Any, patient_id: str) -> list[dict[str, Any]]:
    params = {"patient": f"Patient/{patient_id}", "code": QUESTIONNAIRE_TASK, "status": "requested"}
    bundle = api.get(f"{platform.fhir('assessment')}/Task", params=params).json()
    return [e["resource"] for e in bundle.get("entry", [])]


def answer_intake(platform: Any, patient_id: str, **options: Any) -> None:
    tasks = wait_for(lambda: intake_tasks(platform, patient_id), what="intake Tasks at :8002")
    assert len(tasks) == 7  # six for everyone and the ODI for lumbar pain
    for response in samples.intake(patient_id, **options):
        posted = api.post(
            f"{platform.fhir('assessment')}/QuestionnaireResponse",
            json=response,
            headers=FHIR_JSON,
            timeout=30,
        )
        assert posted.status_code == 201, posted.text


def assessment_events(platform: Any, kafka: str, patient_id: str) -> list[tuple[dict, dict]]:
    """Every (headers, value) on the run's assessment topic keyed by this patient."""
    topic = platform.settings["assessment"].topic(ASSESSMENT_TOPIC)
    consumer = KafkaConsumer(**kafka_config(kafka), enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        found = []
        for records in consumer.poll(timeout_ms=2000, max_records=10000).values():
            for record in records:
                if record.key == patient_id.encode():
                    headers = {k: v.decode() for k, v in record.headers}
                    found.append((headers, json.loads(record.value)))
        return found
    finally:
        consumer.close()


def event_of(platform: Any, kafka: str, patient_id: str, event_type: str) -> list[tuple]:
    def seen() -> list[tuple]:
        events = assessment_events(platform, kafka, patient_id)
        return [e for e in events if e[0]["ce_type"] == event_type]

    return wait_for(seen, what=event_type, timeout=30)


def of_type(bundle: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    entries = [e["resource"] for e in bundle["entry"]]
    return [r for r in entries if r["resourceType"] == resource_type]


def test_an_accepted_referral_answered_over_http_ends_in_a_procedure_order(platform, kafka):
    patient_id = accept_referral(platform)
    answer_intake(platform, patient_id)

    [(headers, bundle)] = event_of(platform, kafka, patient_id, "painflow.assessment.completed")
    platform.runtime("assessment").contracts.validate(headers, bundle)
    [order] = of_type(bundle, "ServiceRequest")
    assert order["code"]["coding"][0]["code"] == "64493"
    started = event_of(platform, kafka, patient_id, "painflow.assessment.started")
    platform.runtime("assessment").contracts.validate(*started[0])
    found = api.get(
        f"{platform.fhir('assessment')}/ServiceRequest", params={"patient": f"Patient/{patient_id}"}
    ).json()
    assert [e["resource"]["id"] for e in found["entry"]] == [order["id"]]


def test_phq9_of_20_defers_to_behavioural_health(platform, kafka):
    patient_id = accept_referral(platform)
    answer_intake(platform, patient_id, phq9_total=20)

    [(headers, bundle)] = event_of(platform, kafka, patient_id, "painflow.assessment.not-candidate")
    platform.runtime("assessment").contracts.validate(headers, bundle)
    [impression] = of_type(bundle, "ClinicalImpression")
    codes = {c["code"] for f in impression["finding"] for c in f["itemCodeableConcept"]["coding"]}
    assert "defer-behavioural-health" in codes
    assert not of_type(bundle, "ServiceRequest")


def test_a_next_step_becomes_the_next_order_once_even_when_replayed(platform, kafka):
    patient_id = accept_referral(platform)
    answer_intake(platform, patient_id)
    [(_, completed)] = event_of(platform, kafka, patient_id, "painflow.assessment.completed")
    [first] = of_type(completed, "ServiceRequest")
    envelope = _next_step(platform, patient_id, first["id"])
    consumers = platform.runtime("assessment").consumers
    duplicates = sum(c.stats.duplicates for c in consumers)
    for _ in range(2):  # the same record twice: the inbox gives it one effect
        _publish(platform, kafka, envelope)

    ordered = event_of(platform, kafka, patient_id, "painflow.assessment.procedure-ordered")
    platform.runtime("assessment").contracts.validate(*ordered[0])
    [second] = of_type(ordered[0][1], "ServiceRequest")
    assert second["basedOn"] == [{"reference": f"ServiceRequest/{first['id']}"}]
    wait_for(
        lambda: sum(c.stats.duplicates for c in consumers) > duplicates, what="the replay seen"
    )
    based = api.get(
        f"{platform.fhir('assessment')}/ServiceRequest",
        params={"based-on": f"ServiceRequest/{first['id']}"},
    ).json()
    assert based["total"] == 1
    assert len(event_of(platform, kafka, patient_id, "painflow.assessment.procedure-ordered")) == 1


def _next_step(platform: Any, patient_id: str, order_id: str) -> Any:
    proposal = {
        "resourceType": "ServiceRequest",
        "id": f"next-{order_id[:8]}",
        "status": "active",
        "intent": "proposal",
        "code": concept(NextStep.SECOND_COMPARATIVE_BLOCK),
        "subject": {"reference": f"Patient/{patient_id}"},
        "basedOn": [{"reference": f"{platform.fhir('assessment')}/ServiceRequest/{order_id}"}],
        "reasonReference": [{"reference": "Observation/relief-1"}],
        "note": [{"text": "85% relief for 4 hours: the second, comparative block (DOMAIN.md 3)."}],
    }
    relief = {
        "resourceType": "Observation",
        "id": "relief-1",
        "status": "final",
        "code": {"coding": [{"system": str(CodeSystem.OUTCOME), "code": "percent-relief"}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "partOf": [{"reference": "Procedure/proc-1"}],
        "valueQuantity": {
            "value": 85,
            "unit": "%",
            "system": "http://unitsofmeasure.org",
            "code": "%",
        },
    }
    return build_event(
        event_type=FollowupEvent.NEXT_STEP,
        service="followup",
        base_url=platform.fhir("followup"),
        patient_id=patient_id,
        focus=[proposal],
        include=[relief, {"resourceType": "Patient", "id": patient_id}],
    )


def _publish(platform: Any, kafka: str, envelope: Any) -> None:
    """Publish as the followup relay would; fails here if the event breaks its contract."""
    platform.runtime("assessment").contracts.validate(envelope.headers(), envelope.bundle)
    producer = KafkaProducer(**kafka_config(kafka))
    producer.send(
        platform.settings["assessment"].topic(FOLLOWUP_TOPIC),
        key=envelope.key.encode(),
        value=envelope.value(),
        headers=[(k, v.encode()) for k, v in envelope.headers().items()],
    ).get(timeout=10)
    producer.close()
