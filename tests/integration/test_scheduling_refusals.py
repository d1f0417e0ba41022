"""Every booking refusal of issue 10 over real HTTP on PostgreSQL, one row each: the status, the
OperationOutcome issue (business-rule 422, conflict 409) with its expression and the reason text,
and nothing stored or published (no Appointment for the order, the patient's Tasks unchanged,
the slot as it was, no event staged). Then what lifts a refusal: an allergy override (recorded
in Appointment.comment and a Provenance) and a completed prior authorization."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from .api import api
from .scheduling_helpers import (
    FHIR_JSON,
    booking,
    get,
    post,
    received_order,
    resource_of,
    room_with_slot,
    staged_events,
)

pytestmark = pytest.mark.integration

TODAY = datetime.now(UTC).date()
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
TASK_TYPE = "https://painflow.dev/fhir/CodeSystem/task-type"


def at(days: int, hour: int = 8, minute: int = 0) -> str:
    """An instant ``days`` from today (UTC), so the rules judge it against the real clock."""
    return f"{TODAY + timedelta(days=days)}T{hour:02d}:{minute:02d}:00Z"


def patient_of(order: dict[str, Any]) -> str:
    return str(order["subject"]["reference"].split("/")[1])


def free_slot(platform: Any, days: int, minutes: int = 30, modality: str = "RF") -> str:
    return room_with_slot(platform, at(days), at(days, 8, minutes), modality)


def book(platform: Any, order: dict[str, Any], days: int) -> dict[str, Any]:
    response = post(platform, "Appointment", booking(order, free_slot(platform, days)))
    assert response.status_code == 201, response.text
    return dict(response.json())


def perform(platform: Any, order: dict[str, Any], days: int) -> None:
    """Record the order's Procedure as performed ``days`` from today (negative: in the past)."""
    body = {
        "resourceType": "Procedure",
        "status": "completed",
        "basedOn": [{"reference": f"ServiceRequest/{order['id']}"}],
        "subject": order["subject"],
        "code": order["code"],
        "bodySite": order["bodySite"],
        "performer": [{"actor": {"reference": "Practitioner/dr-okafor"}}],
        "performedPeriod": {"start": at(days), "end": at(days, 8, 20)},
    }
    response = post(platform, "Procedure", body)
    assert response.status_code == 201, response.text


# ------------------------------------------------------------------ event edits


def rfa(value: dict[str, Any]) -> None:
    """The order becomes a lumbar facet radiofrequency ablation (CPT 64635)."""
    order = resource_of(value, "ServiceRequest")
    order["code"] = {
        "coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "64635"}],
        "text": "Lumbar facet radiofrequency ablation",
    }


def self_pay(value: dict[str, Any]) -> None:
    resource_of(value, "Coverage")["payor"][0]["display"] = "Self-pay"


def rfa_self_pay(value: dict[str, Any]) -> None:
    rfa(value)
    self_pay(value)


def with_warfarin(last_dose: date) -> Callable[[dict[str, Any]], None]:
    def edit(value: dict[str, Any]) -> None:
        patient = resource_of(value, "Patient")["id"]
        statement = {
            "resourceType": "MedicationStatement",
            "id": str(uuid.uuid4()),
            "status": "completed",
            "medicationCodeableConcept": {
                "coding": [{"system": RXNORM, "code": "11289", "display": "warfarin"}]
            },
            "subject": {"reference": f"Patient/{patient}"},
            "effectiveDateTime": str(last_dose),
        }
        base = value["entry"][-1]["fullUrl"].rsplit("/", 2)[0]
        value["entry"].append(
            {"fullUrl": f"{base}/MedicationStatement/{statement['id']}", "resource": statement}
        )

    return edit


# ------------------------------------------------------------------ the table


@dataclass(frozen=True)
class Arranged:
    order: dict[str, Any]
    appointment: dict[str, Any]
    slot_id: str


Arrange = Callable[[Any, str], Arranged]


def wrong_modality(platform: Any, kafka: str) -> Arranged:
    order = received_order(platform, kafka)
    slot_id = free_slot(platform, 30, modality="US")
    return Arranged(order, booking(order, slot_id), slot_id)


def short_slot(platform: Any, kafka: str) -> Arranged:
    order = received_order(platform, kafka)
    slot_id = free_slot(platform, 30, minutes=15)  # the order takes 30 minutes
    return Arranged(order, booking(order, slot_id), slot_id)


def inside_hold(platform: Any, kafka: str) -> Arranged:
    """Warfarin last taken today (date only: 23:59), held 5 days before an intermediate-risk
    procedure: safe from 23:59 five days on."""
    order = received_order(platform, kafka, edit=with_warfarin(TODAY))
    slot_id = free_slot(platform, 3)
    return Arranged(order, booking(order, slot_id), slot_id)


def allergy_conflict(platform: Any, kafka: str) -> Arranged:
    order = received_order(platform, kafka)  # allergic to iodinated contrast
    slot_id = free_slot(platform, 30)
    return Arranged(order, booking(order, slot_id, override=False), slot_id)


def esi_count(platform: Any, kafka: str) -> Arranged:
    """Two performed and two booked epidural steroid injections (lumbar) in 12 months."""
    first = received_order(platform, kafka)
    patient_id = patient_of(first)
    perform(platform, first, -300)
    perform(platform, received_order(platform, kafka, patient_id=patient_id), -150)
    book(platform, received_order(platform, kafka, patient_id=patient_id), 20)
    book(platform, received_order(platform, kafka, patient_id=patient_id), 40)
    order = received_order(platform, kafka, patient_id=patient_id)
    slot_id = free_slot(platform, 60)
    return Arranged(order, booking(order, slot_id), slot_id)


def esi_interval(platform: Any, kafka: str) -> Arranged:
    first = received_order(platform, kafka)
    book(platform, first, 20)
    order = received_order(platform, kafka, patient_id=patient_of(first))
    slot_id = free_slot(platform, 25)
    return Arranged(order, booking(order, slot_id), slot_id)


def rfa_count(platform: Any, kafka: str) -> Arranged:
    """One performed and one booked RFA of the lumbar region: a third is over the limit."""
    first = received_order(platform, kafka, edit=rfa_self_pay)
    patient_id = patient_of(first)
    perform(platform, first, -60)
    book(platform, received_order(platform, kafka, patient_id=patient_id, edit=rfa_self_pay), 30)
    order = received_order(platform, kafka, patient_id=patient_id, edit=rfa_self_pay)
    slot_id = free_slot(platform, 90)
    return Arranged(order, booking(order, slot_id), slot_id)


def needs_authorization(platform: Any, kafka: str) -> Arranged:
    order = received_order(platform, kafka, edit=rfa)  # the default payer table: RFA needs it
    slot_id = free_slot(platform, 30)
    return Arranged(order, booking(order, slot_id), slot_id)


def slot_taken(platform: Any, kafka: str) -> Arranged:
    slot_id = free_slot(platform, 30)
    winner = post(platform, "Appointment", booking(received_order(platform, kafka), slot_id))
    assert winner.status_code == 201, winner.text
    order = received_order(platform, kafka)
    return Arranged(order, booking(order, slot_id), slot_id)


@dataclass(frozen=True)
class Row:
    arrange: Arrange
    status: int
    code: str
    expression: str
    text: Callable[[Arranged], str]


ROWS = {
    "wrong-modality": Row(
        wrong_modality,
        422,
        "business-rule",
        "Appointment.slot[0]",
        lambda a: f"wrong imaging modality: Slot/{a.slot_id} is in a room with US",
    ),
    "slot-shorter-than-procedure": Row(
        short_slot, 422, "business-rule", "Appointment.slot", lambda a: "too short"
    ),
    "inside-hold-window": Row(
        inside_hold,
        422,
        "business-rule",
        "Appointment.start",
        lambda a: f"safe from {TODAY + timedelta(days=5)}T23:59:00+00:00",
    ),
    "allergy-conflict": Row(
        allergy_conflict, 422, "business-rule", "Appointment.basedOn", lambda a: "allergy conflict"
    ),
    "esi-4-in-12-months": Row(
        esi_count,
        422,
        "business-rule",
        "Appointment.start",
        lambda a: "at most 4 epidural steroid injections per lumbar region in a rolling 12 months",
    ),
    "esi-14-days-apart": Row(
        esi_interval,
        422,
        "business-rule",
        "Appointment.start",
        lambda a: "at least 14 days apart in the lumbar region",
    ),
    "rfa-2-in-12-months": Row(
        rfa_count,
        422,
        "business-rule",
        "Appointment.start",
        lambda a: "at most 2 radiofrequency ablations per lumbar region in a rolling 12 months",
    ),
    "prior-authorization": Row(
        needs_authorization,
        422,
        "business-rule",
        "Appointment.basedOn",
        lambda a: "prior authorization required",
    ),
    "slot-taken": Row(
        slot_taken,
        409,
        "conflict",
        "Appointment.slot[0]",
        lambda a: f"slot taken: Slot/{a.slot_id} is busy",
    ),
}


def snapshot(platform: Any, arranged: Arranged) -> dict[str, Any]:
    """What a refused booking must leave as it was."""
    patient = arranged.order["subject"]["reference"]
    tasks = get(platform, "Task", patient=patient, _count="100")
    return {
        "appointments": get(
            platform, "Appointment", **{"based-on": f"ServiceRequest/{arranged.order['id']}"}
        )["total"],
        "tasks": sorted(
            (e["resource"]["id"], e["resource"]["meta"]["versionId"]) for e in tasks["entry"]
        ),
        "slot": get(platform, f"Slot/{arranged.slot_id}")["status"],
        "events": staged_events(platform, patient_of(arranged.order)),
    }


@pytest.mark.parametrize("name", list(ROWS))
def test_refused_booking_says_why_and_leaves_nothing(platform, kafka, name):
    row = ROWS[name]
    arranged = row.arrange(platform, kafka)
    before = snapshot(platform, arranged)
    response = post(platform, "Appointment", arranged.appointment)
    assert response.status_code == row.status, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    matching = [i for i in outcome["issue"] if row.text(arranged) in i["diagnostics"]]
    assert matching, outcome
    assert matching[0]["code"] == row.code
    assert matching[0]["expression"] == [row.expression]
    assert all(i["severity"] == "error" for i in outcome["issue"])
    after = snapshot(platform, arranged)
    assert after == before
    assert before["appointments"] == 0
    assert before["slot"] == ("busy" if name == "slot-taken" else "free")


def test_an_allergy_override_books_and_is_recorded(platform, kafka):
    arranged = allergy_conflict(platform, kafka)
    body = booking(arranged.order, arranged.slot_id)  # with the documented alternative agent
    response = post(platform, "Appointment", body)
    assert response.status_code == 201, response.text
    appointment = response.json()
    assert "Allergy override" in appointment["comment"]
    assert "alternative-agent: gadolinium-based contrast" in appointment["comment"]
    provenance = get(platform, "Provenance", target=f"Appointment/{appointment['id']}")
    [entry] = provenance["entry"]
    assert entry["resource"]["reason"][0]["text"].startswith("alternative-agent")
    assert entry["resource"]["entity"][0]["what"]["reference"].startswith("AllergyIntolerance/")
    assert get(platform, f"Slot/{arranged.slot_id}")["status"] == "busy"


def authorization_task(platform: Any, order: dict[str, Any]) -> dict[str, Any]:
    found = get(
        platform,
        "Task",
        focus=f"ServiceRequest/{order['id']}",
        code=f"{TASK_TYPE}|prior-authorization",
    )
    [entry] = found["entry"]
    return dict(entry["resource"])


def complete(
    platform: Any, task: dict[str, Any], method: str, number: str | None
) -> httpx.Response:
    output = [{"type": {"text": "authorization-number"}, "valueString": number}] if number else None
    url = f"{platform.fhir('scheduling')}/Task/{task['id']}"
    if method == "PATCH":
        ops: list[dict[str, Any]] = [{"op": "replace", "path": "/status", "value": "completed"}]
        if output:
            ops.append({"op": "add", "path": "/output", "value": output})
        headers = {"content-type": "application/json-patch+json"}
        return api.patch(url, json=ops, headers=headers, timeout=30)
    body = {k: v for k, v in task.items() if k != "meta"}
    body["status"] = "completed"
    if output:
        body["output"] = output
    return api.put(url, json=body, headers=FHIR_JSON, timeout=30)


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_booking_waits_for_the_authorization_number(platform, kafka, method):
    arranged = needs_authorization(platform, kafka)
    refused = post(platform, "Appointment", arranged.appointment)
    assert refused.status_code == 422, refused.text
    task = authorization_task(platform, arranged.order)
    assert task["status"] == "requested"
    no_number = complete(platform, task, method, None)
    assert no_number.status_code == 422, no_number.text
    assert no_number.json()["issue"][0]["expression"] == ["Task.output"]
    assert authorization_task(platform, arranged.order)["status"] == "requested"
    done = complete(platform, task, method, "PA-2026-0042")
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed"
    booked = post(platform, "Appointment", arranged.appointment)
    assert booked.status_code == 201, booked.text
    assert get(platform, f"Slot/{arranged.slot_id}")["status"] == "busy"
