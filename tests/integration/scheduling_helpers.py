"""Helpers for the scheduling integration tests: a contract-valid assessment ``completed`` event
with fresh ids (from contracts/examples), published as the assessment service's relay would;
rooms, slots and bookings over HTTP; and what the scheduling topic carries."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from kafka import KafkaConsumer, KafkaProducer
from sqlmodel import Session, select

from painflow_shared.events.outbox import OutboxMessage
from painflow_shared.events.types import ASSESSMENT_TOPIC, SCHEDULING_TOPIC
from painflow_shared.testing.fixtures import wait_for
from painflow_shared.testing.infra import kafka_config

from .api import api

FHIR_JSON = {"content-type": "application/fhir+json"}
EXAMPLES = Path(__file__).resolve().parents[2] / "contracts" / "examples"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
OVERRIDE = "https://painflow.dev/fhir/StructureDefinition/allergy-override"


def fresh_completed_event(
    patient_id: str | None = None,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(headers, value, the order) of the example completed event with every id made new (the
    patient's kept as ``patient_id`` when given: another order for the same patient)."""
    message = json.loads((EXAMPLES / "painflow.assessment.completed.json").read_text())
    value = message["value"]
    ids = {value["id"], *(e["resource"]["id"] for e in value["entry"])}
    patient = next(
        e["resource"] for e in value["entry"] if e["resource"]["resourceType"] == "Patient"
    )
    text = json.dumps(message)
    for old in ids:
        new = patient_id if patient_id and old == patient["id"] else str(uuid.uuid4())
        text = text.replace(old, new)
    fresh = json.loads(text)
    fresh["headers"].pop("traceparent", None)
    return fresh["headers"], fresh["value"], resource_of(fresh["value"], "ServiceRequest")


def resource_of(bundle: dict[str, Any], resource_type: str) -> dict[str, Any]:
    return next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type
    )


Edit = Callable[[dict[str, Any]], None]


def publish_completed(
    platform: Any, kafka: str, *, patient_id: str | None = None, edit: Edit | None = None
) -> dict[str, Any]:
    """Publish a fresh completed event (validated first); returns its order. ``edit`` changes the
    event's Bundle in place before it is published (e.g. the order's CPT code, the payer)."""
    headers, value, order = fresh_completed_event(patient_id)
    if edit is not None:
        edit(value)
    platform.runtime("scheduling").contracts.validate(headers, value)
    producer = KafkaProducer(**kafka_config(kafka))
    producer.send(
        platform.settings["scheduling"].topic(ASSESSMENT_TOPIC),
        key=headers["ce_subject"].split("/")[1].encode(),
        value=json.dumps(value).encode(),
        headers=[(k, v.encode()) for k, v in headers.items()],
    ).get(timeout=10)
    producer.close()
    return order


def received_order(platform: Any, kafka: str, **options: Any) -> dict[str, Any]:
    """Publish a completed event and wait until scheduling holds its order and its Tasks."""
    order = publish_completed(platform, kafka, **options)
    focus = f"ServiceRequest/{order['id']}"
    wait_for(lambda: get(platform, "Task", focus=focus)["total"] > 0, what="scheduling request")
    return order


def get(platform: Any, path: str, **params: str) -> dict[str, Any]:
    response = api.get(f"{platform.fhir('scheduling')}/{path}", params=params, timeout=30)
    assert response.status_code == 200, response.text
    return dict(response.json())


def staged_events(platform: Any, patient_id: str) -> list[str]:
    """The event types scheduling staged in its outbox for the patient, oldest first."""
    with Session(platform.runtime("scheduling").engine) as session:
        query = select(OutboxMessage.event_type).where(OutboxMessage.key == patient_id)
        return list(session.exec(query.order_by(OutboxMessage.seq)).all())  # type: ignore[arg-type]


def post(platform: Any, path: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    return api.post(
        f"{platform.fhir('scheduling')}/{path}",
        json=body,
        headers={**FHIR_JSON, **headers},
        timeout=60,
    )


def room_with_slot(platform: Any, start: str, end: str, modality: str = "RF") -> str:
    schedule = post(
        platform,
        "Schedule",
        {
            "resourceType": "Schedule",
            "actor": [{"reference": "Location/fluoro-suite-2"}],
            "serviceType": [{"coding": [{"system": DCM, "code": modality}]}],
        },
    )
    assert schedule.status_code == 201, schedule.text
    return new_slot(platform, schedule.json()["id"], start, end)


def new_slot(platform: Any, schedule_id: str, start: str, end: str) -> str:
    slot = post(
        platform,
        "Slot",
        {
            "resourceType": "Slot",
            "schedule": {"reference": f"Schedule/{schedule_id}"},
            "status": "free",
            "start": start,
            "end": end,
        },
    )
    assert slot.status_code == 201, slot.text
    return str(slot.json()["id"])


def booking(order: dict[str, Any], slot_id: str, *, override: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Appointment",
        "status": "booked",
        "basedOn": [{"reference": f"ServiceRequest/{order['id']}"}],
        "slot": [{"reference": f"Slot/{slot_id}"}],
        "participant": [{"actor": order["subject"], "status": "accepted"}],
    }
    if override:  # the example patient is allergic to iodinated contrast
        parts = [
            {"url": "kind", "valueCode": "alternative-agent"},
            {"url": "text", "valueString": "gadolinium-based contrast"},
        ]
        body["extension"] = [{"url": OVERRIDE, "extension": parts}]
    return body


def scheduling_events(
    platform: Any, patient_id: str, wanted: list[str], timeout: float = 30
) -> list[tuple[dict[str, str], dict[str, Any]]]:
    """Read the scheduling topic until every event type in ``wanted`` arrived for the patient;
    each (headers, value) is validated against contracts/ on the way."""
    consumer = KafkaConsumer(
        platform.settings["scheduling"].topic(SCHEDULING_TOPIC),
        **platform.settings["scheduling"].kafka_client_config(),
        auto_offset_reset="earliest",
        consumer_timeout_ms=1000,
        group_id=None,
    )
    found: list[tuple[dict[str, str], dict[str, Any]]] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            for record in consumer:
                if (record.key or b"").decode() != patient_id:
                    continue
                headers = {k: v.decode() for k, v in record.headers}
                value = json.loads(record.value)
                platform.runtime("scheduling").contracts.validate(headers, value)
                found.append((headers, value))
            types = [h["ce_type"] for h, _ in found]
            if all(types.count(t) >= wanted.count(t) for t in set(wanted)):
                return found
    finally:
        consumer.close()
    raise AssertionError(f"timed out waiting for {wanted}; saw {[h['ce_type'] for h, _ in found]}")
