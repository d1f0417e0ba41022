"""The EHR hears every milestone: the assessment, scheduling and follow-up services' events show
on the referral's triage Task (businessStatus, output), and a discharge completes only the
referral its chain of orders leads back to (issue 11 point 7).

The events are the contract examples themselves, given this test's patient, referral and fresh
ids, and published as the other services' relays would."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from kafka import KafkaProducer

from painflow_shared.codes import CodeSystem, NextStep, concept
from painflow_shared.contracts import default_contracts_dir
from painflow_shared.events.envelope import Envelope, parse_record
from painflow_shared.events.types import topic_of
from painflow_shared.testing.factories import referral_bundle
from painflow_shared.testing.fixtures import wait_for
from painflow_shared.testing.infra import kafka_config

from .api import api
from .conftest import FHIR_JSON, post_referral

pytestmark = pytest.mark.integration
EXAMPLES = default_contracts_dir() / "examples"


def _example(name: str, patient_id: str, referral_id: str, swaps: dict[str, str]) -> Envelope:
    """A contract example as this test's own event: its patient and referral, and new ids,
    the same new id for the same example id across the examples (``swaps``), so the chain of
    orders holds from one event to the next."""
    example = json.loads((EXAMPLES / f"{name}.json").read_text("utf-8"))
    text = json.dumps(example)
    value = example["value"]
    referral_ids = {
        ref.rsplit("/", 1)[1]
        for ref in _references(value)
        if "/fhir/ServiceRequest/" in ref and ":8001/" in ref
    }
    swaps |= {example["key"]: patient_id, **dict.fromkeys(referral_ids, referral_id)}
    ids = {e["resource"]["id"] for e in value["entry"]} | {value["id"]} | _ids(_references(value))
    swaps |= {old: str(uuid.uuid4()) for old in ids if old not in swaps}
    for old, new in swaps.items():
        text = text.replace(old, new)
    fresh = json.loads(text)
    headers = [(k, v.encode()) for k, v in fresh["headers"].items()]
    return parse_record(fresh["key"].encode(), json.dumps(fresh["value"]).encode(), headers)


def _ids(references: list[str]) -> set[str]:
    return {ref.rstrip("/").rsplit("/", 1)[-1] for ref in references if "/" in ref}


def _references(node: Any) -> list[str]:
    if isinstance(node, list):
        return [r for item in node for r in _references(item)]
    if not isinstance(node, dict):
        return []
    own = [node["reference"]] if isinstance(node.get("reference"), str) else []
    return own + [r for value in node.values() for r in _references(value)]


def _publish(platform: Any, kafka: str, envelope: Envelope) -> None:
    platform.runtime("referral").contracts.validate(envelope.headers(), envelope.bundle)
    producer = KafkaProducer(**kafka_config(kafka))
    producer.send(
        platform.settings["referral"].topic(topic_of(envelope.type)),
        key=envelope.key.encode(),
        value=envelope.value(),
        headers=[(k, v.encode()) for k, v in envelope.headers().items()],
    ).get(timeout=10)
    producer.close()


def _task(platform: Any, request_id: str) -> dict[str, Any]:
    bundle = api.get(
        f"{platform.fhir('referral')}/Task", params={"focus": f"ServiceRequest/{request_id}"}
    ).json()
    return dict(bundle["entry"][0]["resource"])


def _milestone(task: dict[str, Any]) -> str | None:
    for coding in (task.get("businessStatus") or {}).get("coding") or []:
        if coding.get("system") == CodeSystem.REFERRAL_MILESTONE:
            return str(coding["code"])
    return None


def _accept(platform: Any, request_id: str) -> None:
    task = _task(platform, request_id)
    response = api.put(
        f"{platform.fhir('referral')}/Task/{task['id']}",
        json={**task, "status": "accepted"},
        headers=FHIR_JSON,
    )
    assert response.status_code == 200, response.text


def _shows(platform: Any, request_id: str, milestone: str) -> dict[str, Any]:
    """The first version of the triage Task that shows ``milestone``. The real services answer
    this test's events too (the follow-up schedules its plan on procedure-performed and
    publishes followup-scheduled), so a later milestone may already have replaced it."""

    def shown() -> dict[str, Any] | None:
        task_id = _task(platform, request_id)["id"]
        history = api.get(f"{platform.fhir('referral')}/Task/{task_id}/_history").json()
        versions = [e["resource"] for e in history.get("entry") or [] if "resource" in e]
        return next((v for v in reversed(versions) if _milestone(v) == milestone), None)

    return dict(wait_for(shown, what=f"the triage Task to show {milestone}"))


def test_each_step_shows_on_the_task_and_discharge_completes_only_its_referral(platform, kafka):
    mrn = uuid.uuid4().hex[:12]
    patient_id, first = post_referral(platform, referral_bundle(mrn=mrn))
    same_patient, second = post_referral(platform, referral_bundle(mrn=mrn))
    assert same_patient == patient_id
    _accept(platform, first)
    _accept(platform, second)

    swaps: dict[str, str] = {}

    def step(name: str) -> None:
        _publish(platform, kafka, _example(name, patient_id, first, swaps))

    step("painflow.assessment.started")
    task = _shows(platform, first, "intake-started")
    assert task["status"] == "in-progress"

    step("painflow.assessment.completed")
    task = _shows(platform, first, "pathway-decision")
    decisions = [o["valueCodeableConcept"] for o in task["output"] if "valueCodeableConcept" in o]
    assert decisions[0]["coding"][0]["system"] == CodeSystem.PATHWAY_DECISION
    assert decisions[0]["text"], "the decision's explanation reaches the EHR"

    for name, milestone in [
        ("painflow.scheduling.appointment-booked", "procedure-booked"),
        ("painflow.scheduling.procedure-performed", "procedure-performed"),
        ("painflow.followup.followup-scheduled", "followup-scheduled"),
    ]:
        step(name)
        _shows(platform, first, milestone)

    discharge = _example("painflow.followup.next-step", patient_id, first, swaps)
    for entry in discharge.bundle["entry"]:
        if entry["resource"]["resourceType"] == "ServiceRequest":
            entry["resource"]["code"] = concept(NextStep.DISCHARGE)
    _publish(platform, kafka, discharge)
    task = _shows(platform, first, "discharged")
    assert task["status"] == "completed"
    outputs = {o["type"]["coding"][0]["code"] for o in task["output"]}
    assert {"intake-started", "pathway-decision", "procedure-booked", "discharged"} <= outputs
    other = _task(platform, second)  # the real assessment service opened its intake too
    assert other["status"] in ("accepted", "in-progress")
    assert _milestone(other) in (None, "intake-started")
