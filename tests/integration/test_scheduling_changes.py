"""Scheduling over real HTTP on PostgreSQL, beyond the first booking: slots from a weekly
template (``$generate-slots``), booking through ``POST /Slot/{id}/$book``, cancelling with a JSON
Patch and a no-show with PUT, each freeing its slot and publishing its event (read back from
Kafka and validated against contracts/)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from painflow_shared.events.types import SchedulingEvent

from .api import api
from .scheduling_helpers import (
    DCM,
    FHIR_JSON,
    OVERRIDE,
    booking,
    get,
    new_slot,
    post,
    received_order,
    room_with_slot,
    scheduling_events,
    staged_events,
)

pytestmark = pytest.mark.integration

TODAY = datetime.now(UTC).date()
TASK_TYPE = "https://painflow.dev/fhir/CodeSystem/task-type"
JSON_PATCH = {"content-type": "application/json-patch+json"}
CANCEL_REASON = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason",
            "code": "pat",
        }
    ]
}


def at(days: int, hour: int = 8, minute: int = 0) -> str:
    return f"{TODAY + timedelta(days=days)}T{hour:02d}:{minute:02d}:00Z"


def patient_of(order: dict[str, Any]) -> str:
    return str(order["subject"]["reference"].split("/")[1])


def schedule_task(platform: Any, order: dict[str, Any]) -> dict[str, Any]:
    found = get(
        platform,
        "Task",
        focus=f"ServiceRequest/{order['id']}",
        code=f"{TASK_TYPE}|schedule-procedure",
    )
    return dict(found["entry"][0]["resource"])


def booked(platform: Any, kafka: str, days: int = 30) -> tuple[dict[str, Any], dict[str, Any]]:
    order = received_order(platform, kafka)
    slot_id = room_with_slot(platform, at(days), at(days, 8, 30))
    response = post(platform, "Appointment", booking(order, slot_id))
    assert response.status_code == 201, response.text
    return order, response.json()


def generate_parameters(first: str, last: str, minutes: int = 30) -> dict[str, Any]:
    return {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "day", "valueCode": "mon"},
            {"name": "day", "valueCode": "wed"},
            {"name": "start-time", "valueTime": "08:00:00"},
            {"name": "end-time", "valueTime": "10:00:00"},
            {"name": "slot-minutes", "valueInteger": minutes},
            {"name": "from", "valueDate": first},
            {"name": "to", "valueDate": last},
        ],
    }


def test_generate_slots_from_a_weekly_template(platform, kafka):
    monday = TODAY + timedelta(days=14 + (7 - TODAY.weekday()) % 7)
    first, last = str(monday), str(monday + timedelta(days=13))
    schedule = post(
        platform,
        "Schedule",
        {
            "resourceType": "Schedule",
            "actor": [{"reference": "Location/ct-suite"}],
            "serviceType": [{"coding": [{"system": DCM, "code": "RF"}]}],
        },
    ).json()
    path = f"Schedule/{schedule['id']}/$generate-slots"
    response = post(platform, path, generate_parameters(first, last))
    assert response.status_code == 200, response.text
    created = [e["resource"] for e in response.json()["entry"]]
    assert response.json()["total"] == len(created) == 16  # 2 weeks x mon, wed x 4 half-hours
    days = {s["start"][:10] for s in created}
    assert days == {str(monday + timedelta(days=d)) for d in (0, 2, 7, 9)}
    assert {s["start"][11:16] for s in created} == {"08:00", "08:30", "09:00", "09:30"}
    assert all(
        s["status"] == "free" and s["serviceType"] == schedule["serviceType"] for s in created
    )
    search = get(platform, "Slot", schedule=f"Schedule/{schedule['id']}", _count="100")
    assert search["total"] == 16
    again = post(platform, path, generate_parameters(first, last))
    assert again.status_code == 200 and again.json()["total"] == 0  # never made twice
    bad = post(platform, path, generate_parameters(first, last, minutes=0))
    assert bad.status_code == 422, bad.text
    assert bad.json()["issue"][0]["code"] == "business-rule"
    missing = post(platform, path, {"resourceType": "Parameters", "parameter": []})
    assert missing.status_code == 400, missing.text
    order = received_order(platform, kafka)
    slot_id = created[0]["id"]
    assert post(platform, "Appointment", booking(order, slot_id)).status_code == 201
    assert get(platform, f"Slot/{slot_id}")["status"] == "busy"


def book_parameters(order: dict[str, Any], *, override: bool, key: str) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": "order", "valueReference": {"reference": f"ServiceRequest/{order['id']}"}},
        {"name": "identifier", "valueIdentifier": {"system": "urn:ehr:booking", "value": key}},
    ]
    if override:
        parts = [
            {"name": "kind", "valueCode": "premedication"},
            {"name": "text", "valueString": "prednisone 50 mg 13, 7 and 1 h before"},
        ]
        parameters.append({"name": "allergy-override", "part": parts})
    return {"resourceType": "Parameters", "parameter": parameters}


def test_book_operation_books_the_slot_for_the_orders_patient(platform, kafka):
    order = received_order(platform, kafka)
    slot_id = room_with_slot(platform, at(31), at(31, 8, 30))
    path = f"Slot/{slot_id}/$book"
    key = f"b-{order['id']}"
    refused = post(platform, path, book_parameters(order, override=False, key=key))
    assert refused.status_code == 422, refused.text
    issue = refused.json()["issue"][0]
    assert issue["expression"] == ["Parameters.parameter.where(name='order')"]
    assert "allergy conflict" in issue["diagnostics"]
    assert get(platform, f"Slot/{slot_id}")["status"] == "free"

    response = post(platform, path, book_parameters(order, override=True, key=key))
    assert response.status_code == 201, response.text
    appointment = response.json()
    assert (
        response.headers["location"]
        .split("/_history")[0]
        .endswith(f"Appointment/{appointment['id']}")
    )
    actors = [p["actor"]["reference"] for p in appointment["participant"]]
    assert actors[0] == order["subject"]["reference"]
    assert "Location/fluoro-suite-2" in actors
    assert appointment["slot"] == [{"reference": f"Slot/{slot_id}"}]
    assert "premedication: prednisone" in appointment["comment"]
    assert appointment["extension"][0]["url"] == OVERRIDE
    retried = post(platform, path, book_parameters(order, override=True, key=key))
    assert retried.status_code == 200 and retried.json()["id"] == appointment["id"]
    assert get(platform, f"Slot/{slot_id}")["status"] == "busy"
    assert staged_events(platform, patient_of(order)) == [SchedulingEvent.APPOINTMENT_BOOKED]


def patch(platform: Any, appointment_id: str, ops: list[dict[str, Any]]) -> httpx.Response:
    url = f"{platform.fhir('scheduling')}/Appointment/{appointment_id}"
    return api.patch(url, json=ops, headers=JSON_PATCH, timeout=30)


def test_cancel_by_json_patch_frees_the_slot_and_publishes(platform, kafka):
    order, appointment = booked(platform, kafka, days=32)
    slot_id = appointment["slot"][0]["reference"].split("/")[1]
    status = [{"op": "replace", "path": "/status", "value": "cancelled"}]
    no_reason = patch(platform, appointment["id"], status)
    assert no_reason.status_code == 422, no_reason.text
    assert no_reason.json()["issue"][0]["expression"] == ["Appointment.cancelationReason"]
    moved = patch(
        platform, appointment["id"], [{"op": "replace", "path": "/start", "value": at(40)}]
    )
    assert moved.status_code == 422, moved.text
    assert get(platform, f"Appointment/{appointment['id']}")["status"] == "booked"

    ops = [*status, {"op": "add", "path": "/cancelationReason", "value": CANCEL_REASON}]
    cancelled = patch(platform, appointment["id"], ops)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["meta"]["versionId"] == "2"
    assert get(platform, f"Slot/{slot_id}")["status"] == "free"
    assert schedule_task(platform, order)["status"] == "requested"
    events = scheduling_events(
        platform, patient_of(order), [str(SchedulingEvent.APPOINTMENT_CANCELLED)]
    )
    [value] = [v for h, v in events if h["ce_type"] == SchedulingEvent.APPOINTMENT_CANCELLED]
    kinds = {e["resource"]["resourceType"]: e["resource"] for e in value["entry"]}
    assert kinds["Appointment"]["status"] == "cancelled"
    assert kinds["Slot"]["status"] == "free"
    again = post(platform, "Appointment", booking(order, slot_id))
    assert again.status_code == 201, again.text  # the slot and the order are free again


def test_noshow_by_put_frees_the_slot_and_publishes(platform, kafka):
    order, appointment = booked(platform, kafka, days=33)
    slot_id = appointment["slot"][0]["reference"].split("/")[1]
    url = f"{platform.fhir('scheduling')}/Appointment/{appointment['id']}"
    stale = api.put(
        url,
        json={**appointment, "status": "noshow"},
        headers={**FHIR_JSON, "if-match": 'W/"7"'},
        timeout=30,
    )
    assert stale.status_code == 412, stale.text
    response = api.put(url, json={**appointment, "status": "noshow"}, headers=FHIR_JSON)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "noshow"
    assert get(platform, f"Slot/{slot_id}")["status"] == "free"
    events = scheduling_events(
        platform, patient_of(order), [str(SchedulingEvent.APPOINTMENT_NOSHOW)]
    )
    [value] = [v for h, v in events if h["ce_type"] == SchedulingEvent.APPOINTMENT_NOSHOW]
    assert value["entry"][1]["resource"]["status"] == "noshow"
    cancel = api.put(
        url,
        json={**response.json(), "status": "cancelled", "cancelationReason": CANCEL_REASON},
        headers=FHIR_JSON,
    )
    assert cancel.status_code == 422, cancel.text  # a no-show is final


def test_booking_constraints_and_an_atomic_reschedule_over_http(platform, kafka):
    order, appointment = booked(platform, kafka, days=36)
    constraints = get(platform, f"ServiceRequest/{order['id']}/$booking-constraints")
    assert constraints["resourceType"] == "Parameters"
    assert "earliest-start" in {p["name"] for p in constraints["parameter"]}

    old_slot = appointment["slot"][0]["reference"].split("/")[1]
    schedule = get(platform, f"Slot/{old_slot}")["schedule"]["reference"].split("/")[1]
    new = new_slot(platform, schedule, at(39), at(39, 8, 30))
    move = {"resourceType": "Parameters", "parameter": [_slot(new)]}
    url = f"Appointment/{appointment['id']}/$reschedule"
    unknown = post(platform, url, {"resourceType": "Parameters", "parameter": [_slot("nope")]})
    assert unknown.status_code in (404, 422), unknown.text
    assert get(platform, f"Appointment/{appointment['id']}")["slot"] == appointment["slot"]

    moved = post(platform, url, move)
    assert moved.status_code == 200, moved.text
    assert moved.json()["slot"] == [{"reference": f"Slot/{new}"}]
    assert get(platform, f"Slot/{old_slot}")["status"] == "free"
    assert get(platform, f"Slot/{new}")["status"] == "busy"
    events = scheduling_events(
        platform, patient_of(order), [str(SchedulingEvent.APPOINTMENT_RESCHEDULED)]
    )
    assert any(h["ce_type"] == SchedulingEvent.APPOINTMENT_RESCHEDULED for h, _ in events)


def _slot(slot_id: str) -> dict[str, Any]:
    return {"name": "slot", "valueReference": {"reference": f"Slot/{slot_id}"}}
