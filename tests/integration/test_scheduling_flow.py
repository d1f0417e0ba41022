"""Issue 10 end to end over Kafka: an assessment ``completed`` event becomes a scheduling request
at :8003, a booking over HTTP publishes ``appointment-booked``, a recorded Procedure with a
complication publishes ``procedure-performed`` and ``procedure-complication``; each event
validates against contracts/."""

from __future__ import annotations

import pytest

from painflow_shared.events.types import SchedulingEvent
from painflow_shared.testing.fixtures import wait_for

from .api import api
from .scheduling_helpers import (
    booking,
    post,
    publish_completed,
    room_with_slot,
    scheduling_events,
)

pytestmark = pytest.mark.integration


def _get(platform, path):
    response = api.get(f"{platform.fhir('scheduling')}/{path}", timeout=10)
    return response.json() if response.status_code == 200 else None


def _procedure(order):
    return {
        "resourceType": "Procedure",
        "status": "completed",
        "basedOn": [{"reference": f"ServiceRequest/{order['id']}"}],
        "subject": order["subject"],
        "code": order["code"],
        "bodySite": order["bodySite"],
        "performer": [{"actor": {"reference": "Practitioner/dr-okafor"}}],
        "performedPeriod": {"start": "2026-10-12T08:41:00Z", "end": "2026-10-12T08:58:00Z"},
        "contained": [
            {
                "resourceType": "Observation",
                "id": "nrs",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "72514-3"}]},
                "subject": order["subject"],
                "effectiveDateTime": "2026-10-12T08:35:00Z",
                "valueInteger": 7,
            },
            {
                "resourceType": "MedicationAdministration",
                "id": "steroid",
                "status": "completed",
                "medicationCodeableConcept": {"text": "dexamethasone 10 mg"},
                "subject": order["subject"],
                "effectiveDateTime": "2026-10-12T08:45:00Z",
                "dosage": {"dose": {"value": 10, "unit": "mg"}},
            },
        ],
        "complication": [
            {
                "coding": [
                    {
                        "system": "https://painflow.dev/fhir/CodeSystem/procedure-complication",
                        "code": "vasovagal",
                    }
                ]
            }
        ],
    }


def test_order_to_booking_to_procedure_over_kafka(platform, kafka):
    order = publish_completed(platform, kafka)
    patient_id = order["subject"]["reference"].split("/")[1]
    stored = wait_for(lambda: _get(platform, f"ServiceRequest/{order['id']}"), what="order")
    assert stored["id"] == order["id"]
    tasks = _get(platform, f"Task?focus=ServiceRequest/{order['id']}")
    assert "allergy conflict" in str(tasks)

    slot_id = room_with_slot(platform, "2026-10-12T08:30:00Z", "2026-10-12T09:00:00Z")
    refused = post(platform, "Appointment", booking(order, slot_id, override=False))
    assert refused.status_code == 422, refused.text
    issue = refused.json()["issue"][0]
    assert issue["code"] == "business-rule" and issue["expression"] == ["Appointment.basedOn"]
    assert _get(platform, f"Appointment?based-on=ServiceRequest/{order['id']}")["total"] == 0

    booked = post(platform, "Appointment", booking(order, slot_id))
    assert booked.status_code == 201, booked.text
    assert _get(platform, f"Slot/{slot_id}")["status"] == "busy"

    recorded = post(platform, "Procedure", _procedure(order))
    assert recorded.status_code == 201, recorded.text
    wanted = [
        SchedulingEvent.APPOINTMENT_BOOKED,
        SchedulingEvent.PROCEDURE_PERFORMED,
        SchedulingEvent.PROCEDURE_COMPLICATION,
    ]
    events = scheduling_events(platform, patient_id, [str(w) for w in wanted])
    performed = next(v for h, v in events if h["ce_type"] == SchedulingEvent.PROCEDURE_PERFORMED)
    kinds = {e["resource"]["resourceType"] for e in performed["entry"]}
    assert {"Procedure", "ServiceRequest", "Observation", "MedicationAdministration"} <= kinds
