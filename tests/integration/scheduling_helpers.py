"""Helpers for the scheduling integration tests: a contract-valid assessment ``completed`` event
with fresh ids (from contracts/examples), published as the assessment service's relay would;
rooms, slots and bookings over HTTP; and what the scheduling topic carries."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from kafka import KafkaConsumer, KafkaProducer

from painflow_shared.events.types import ASSESSMENT_TOPIC, SCHEDULING_TOPIC

FHIR_JSON = {"content-type": "application/fhir+json"}
EXAMPLES = Path(__file__).resolve().parents[2] / "contracts" / "examples"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
OVERRIDE = "https://painflow.dev/fhir/StructureDefinition/allergy-override"


def fresh_completed_event() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(headers, value, the order) of the example completed event with every id made new."""
    message = json.loads((EXAMPLES / "painflow.assessment.completed.json").read_text())
    value = message["value"]
    ids = {value["id"], *(e["resource"]["id"] for e in value["entry"])}
    text = json.dumps(message)
    for old in ids:
        text = text.replace(old, str(uuid.uuid4()))
    fresh = json.loads(text)
    fresh["headers"].pop("traceparent", None)
    order = next(
        e["resource"]
        for e in fresh["value"]["entry"]
        if e["resource"]["resourceType"] == "ServiceRequest"
    )
    return fresh["headers"], fresh["value"], order


def publish_completed(platform: Any, kafka: str) -> dict[str, Any]:
    """Publish a fresh completed event (validated first); returns its order."""
    headers, value, order = fresh_completed_event()
    platform.runtime("scheduling").contracts.validate(headers, value)
    producer = KafkaProducer(bootstrap_servers=kafka)
    producer.send(
        platform.settings["scheduling"].topic(ASSESSMENT_TOPIC),
        key=headers["ce_subject"].split("/")[1].encode(),
        value=json.dumps(value).encode(),
        headers=[(k, v.encode()) for k, v in headers.items()],
    ).get(timeout=10)
    producer.close()
    return order


def post(platform: Any, path: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    return httpx.post(
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
        bootstrap_servers=platform.settings["scheduling"].kafka_bootstrap_servers,
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
