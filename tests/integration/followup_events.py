"""Scheduling events published as the scheduling service's relay would, and the follow-up
topic read back from Kafka (tests only). Events are built from the contract's example with
fresh ids, so each test has its own procedure, order and patient."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from painflow_shared.codes import CodeSystem
from painflow_shared.contracts import default_contracts_dir
from painflow_shared.events.types import FOLLOWUP_TOPIC, SCHEDULING_TOPIC, SchedulingEvent
from painflow_shared.fhir.dates import fhir_instant
from painflow_shared.fhir.ids import new_id
from painflow_shared.testing.infra import kafka_config

EXAMPLE = default_contracts_dir() / "examples" / f"{SchedulingEvent.PROCEDURE_PERFORMED}.json"
MBB, ESI = "64493", "64483"
Message = tuple[dict[str, str], dict[str, Any]]  # headers, value


def procedure_performed(
    patient_id: str,
    *,
    cpt: str = MBB,
    end: datetime,
    previous_order: str | None = None,
    pre_nrs: int = 8,
    complication: str | None = None,
) -> tuple[dict[str, str], dict[str, Any], str, str]:
    """(headers, value, procedure id, order id) of a contract-valid procedure-performed."""
    example = json.loads(EXAMPLE.read_text("utf-8"))
    message = json.loads(json.dumps(example).replace(example["key"], patient_id))
    ids = {e["resource"]["id"]: new_id() for e in message["value"]["entry"][1:]}
    ids.pop(patient_id, None)
    text = json.dumps(message)
    for old, new in ids.items():
        text = text.replace(old, new)
    message = json.loads(text)
    value = message["value"]
    procedure = _entry(value, "Procedure")
    order = _entry(value, "ServiceRequest")
    procedure["code"]["coding"][0]["code"] = order["code"]["coding"][0]["code"] = cpt
    procedure["performedPeriod"] = {"start": fhir_instant(end), "end": fhir_instant(end)}
    _entry(value, "Observation")["valueInteger"] = pre_nrs
    if previous_order:
        order["basedOn"] = [{"reference": f"ServiceRequest/{previous_order}"}]
    if complication:
        coding = {"system": CodeSystem.PROCEDURE_COMPLICATION, "code": complication}
        procedure["complication"] = [{"coding": [coding]}]
    event_id = new_id()
    value["id"] = event_id
    headers = {
        **message["headers"],
        "ce_id": event_id,
        "ce_time": fhir_instant(),
        "traceparent": f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01",
    }
    return headers, value, procedure["id"], order["id"]


def _entry(value: dict[str, Any], resource_type: str) -> dict[str, Any]:
    return next(
        e["resource"] for e in value["entry"] if e["resource"]["resourceType"] == resource_type
    )


def publish_scheduling(platform: Any, kafka: str, headers: dict[str, str], value: dict) -> None:
    """Publish as the scheduling relay would; fails here if the event breaks its contract."""
    platform.runtime("followup").contracts.validate(headers, value)
    producer = KafkaProducer(**kafka_config(kafka))
    producer.send(
        platform.settings["followup"].topic(SCHEDULING_TOPIC),
        key=headers["ce_subject"].split("/")[1].encode(),
        value=json.dumps(value).encode(),
        headers=[(k, v.encode()) for k, v in headers.items()],
    ).get(timeout=10)
    producer.close()


class FollowupTopic:
    """Reads ``painflow.followup.v1`` (this run's) from the beginning, without a group."""

    def __init__(self, platform: Any, kafka: str) -> None:
        topic = platform.settings["followup"].topic(FOLLOWUP_TOPIC)
        self.consumer = KafkaConsumer(**kafka_config(kafka), enable_auto_commit=False)
        deadline = time.monotonic() + 30
        while not self.consumer.partitions_for_topic(topic) and time.monotonic() < deadline:
            time.sleep(0.2)
        partitions = [TopicPartition(topic, p) for p in self.consumer.partitions_for_topic(topic)]
        self.consumer.assign(partitions)
        self.consumer.seek_to_beginning(*partitions)
        self.messages: list[Message] = []

    def wait(
        self, done: Callable[[list[Message]], bool], timeout: float = 30, what: str = "events"
    ) -> list[Message]:
        deadline = time.monotonic() + timeout
        while not done(self.messages):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what} on the follow-up topic")
            for records in self.consumer.poll(timeout_ms=300).values():
                for record in records:
                    headers = {k: (v or b"").decode() for k, v in record.headers}
                    self.messages.append((headers, json.loads(record.value)))
        return self.messages

    def close(self) -> None:
        self.consumer.close()


def of_patient(messages: list[Message], patient_id: str, event_type: str) -> list[Message]:
    return [
        (h, v)
        for h, v in messages
        if h.get("ce_type") == event_type and h.get("ce_subject") == f"Patient/{patient_id}"
    ]


def next_step_code(value: dict[str, Any]) -> str:
    request = _entry(value, "ServiceRequest")
    return str(request["code"]["coding"][0]["code"])


def now() -> datetime:
    return datetime.now(UTC)
