"""Scheduling's handlers on an in-memory SQLite unit of work: orders from events, booking with
every rule, changes, procedures; every staged event checked against contracts/."""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from painflow_scheduling.app import MIGRATIONS
from painflow_scheduling.handlers import SchedulingHandlers
from painflow_scheduling.policies import load_scheduling_policies
from painflow_scheduling.search import scheduling_registry
from painflow_shared.contracts import EventContracts
from painflow_shared.events.envelope import Envelope, build_event
from painflow_shared.events.outbox import OutboxMessage
from painflow_shared.events.types import AssessmentEvent, ReferralEvent, SchedulingEvent
from painflow_shared.fhir.errors import BusinessRuleViolation, Conflict, InvalidRequest
from painflow_shared.unit_of_work import EventSource, in_memory_units

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "contracts" / "examples" / "painflow.assessment.completed.json"
NOW = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
AFTER = datetime(2026, 10, 12, 10, 0, tzinfo=UTC)  # procedure_body's block is over
DCM = "http://dicom.nema.org/resources/ontology/DCM"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
OVERRIDE = "https://painflow.dev/fhir/StructureDefinition/allergy-override"


@pytest.fixture
def handlers() -> SchedulingHandlers:
    registry = scheduling_registry("UTC")
    units = in_memory_units(MIGRATIONS, registry, EventSource("scheduling", "http://sched/fhir"))
    return SchedulingHandlers(
        units=units,
        policies=load_scheduling_policies("asra-2018"),
        site_zone=ZoneInfo("UTC"),
        now=lambda: NOW,
    )


@pytest.fixture(scope="module")
def contracts() -> EventContracts:
    return EventContracts(REPO / "contracts")


def completed_event(**changes: Any) -> tuple[Envelope, dict[str, Any]]:
    """The contract example's completed event, its resources edited by ``changes``."""
    value = copy.deepcopy(json.loads(EXAMPLE.read_text())["value"])
    resources = [e["resource"] for e in value["entry"][1:]]
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    drop = changes.get("drop", ())
    kept = [r for r in resources if r["resourceType"] not in drop]
    kept += changes.get("add", [])
    order = next(r for r in kept if r["resourceType"] == "ServiceRequest")
    envelope = build_event(
        event_type=AssessmentEvent.COMPLETED,
        service="assessment",
        base_url="http://assess/fhir",
        patient_id=patient["id"],
        focus=[r for r in kept if r["resourceType"] in ("ClinicalImpression", "ServiceRequest")],
        include=kept,
    )
    return envelope, order


def deliver(handlers: SchedulingHandlers, event: Envelope) -> None:
    table = handlers.subscriptions()
    for topic_handlers in table.values():
        if event.type in topic_handlers:
            with handlers.units.begin() as uow:
                topic_handlers[event.type](uow, event)
            return
    raise AssertionError(f"no handler for {event.type}")


def room(handlers: SchedulingHandlers, modality: str = "RF") -> dict[str, Any]:
    return handlers.create_schedule(
        {
            "resourceType": "Schedule",
            "actor": [{"reference": "Location/suite-2"}],
            "serviceType": [{"coding": [{"system": DCM, "code": modality}]}],
        }
    )


def slot(handlers: SchedulingHandlers, schedule: dict[str, Any], start: str, end: str) -> str:
    created = handlers.create_slot(
        {
            "resourceType": "Slot",
            "schedule": {"reference": f"Schedule/{schedule['id']}"},
            "status": "free",
            "start": start,
            "end": end,
        }
    )
    return str(created["id"])


def appointment(order: dict[str, Any], *slots: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Appointment",
        "status": "booked",
        "basedOn": [{"reference": f"ServiceRequest/{order['id']}"}],
        "slot": [{"reference": f"Slot/{s}"} for s in slots],
        "participant": [{"actor": order["subject"], "status": "accepted"}],
        **extra,
    }


def with_override(body: dict[str, Any]) -> dict[str, Any]:
    parts = [
        {"url": "kind", "valueCode": "alternative-agent"},
        {"url": "text", "valueString": "gadolinium-based contrast"},
    ]
    return {**body, "extension": [{"url": OVERRIDE, "extension": parts}]}


def staged(handlers: SchedulingHandlers, contracts: EventContracts) -> list[str]:
    """Event types staged in the outbox, each validated against contracts/."""
    with Session(handlers.units.engine) as session:
        rows = session.exec(select(OutboxMessage).order_by(OutboxMessage.seq)).all()  # type: ignore[arg-type]
    for row in rows:
        contracts.validate(row.headers, json.loads(row.payload))
    return [row.event_type for row in rows]


def find(handlers: SchedulingHandlers, kind: str, **params: str) -> list[dict[str, Any]]:
    return handlers.run(lambda ctx: ctx.find(kind, **params))


def test_completed_event_becomes_a_scheduling_request(handlers):
    event, order = completed_event()
    deliver(handlers, event)
    stored = handlers.run(lambda ctx: ctx.store.read("ServiceRequest", order["id"]))
    assert stored["id"] == order["id"]
    tasks = find(handlers, "Task", focus=f"ServiceRequest/{order['id']}")
    [task] = [t for t in tasks if t["code"]["coding"][0]["code"] == "schedule-procedure"]
    assert task["status"] == "requested"
    assert "allergy conflict" in task["businessStatus"]["text"]


def test_allergy_conflict_refused_without_override_and_nothing_stored(handlers, contracts):
    event, order = completed_event()
    deliver(handlers, event)
    schedule = room(handlers)
    slot_id = slot(handlers, schedule, "2026-10-12T08:30:00Z", "2026-10-12T09:00:00Z")
    with pytest.raises(BusinessRuleViolation) as refused:
        handlers.book(appointment(order, slot_id), None)
    assert refused.value.issues[0].expression == ("Appointment.basedOn",)
    assert "allergy conflict" in refused.value.diagnostics
    assert find(handlers, "Appointment") == []
    assert staged(handlers, contracts) == []


def test_booking_with_override_records_comment_provenance_and_event(handlers, contracts):
    event, order = completed_event()
    deliver(handlers, event)
    schedule = room(handlers)
    slot_id = slot(handlers, schedule, "2026-10-12T08:30:00Z", "2026-10-12T09:00:00Z")
    booked, status = handlers.book(with_override(appointment(order, slot_id)), None)
    assert status == 201
    assert "gadolinium" in booked["comment"]
    actors = [p["actor"]["reference"] for p in booked["participant"]]
    assert "Location/suite-2" in actors
    assert find(handlers, "Provenance", target=f"Appointment/{booked['id']}")
    assert find(handlers, "Slot", status="busy")[0]["id"] == slot_id
    assert staged(handlers, contracts) == [SchedulingEvent.APPOINTMENT_BOOKED]
    with pytest.raises(Conflict) as taken:
        handlers.book(with_override(appointment(order, slot_id)), None)
    assert taken.value.issues[0].code == "conflict"


def test_if_none_exist_returns_the_clients_own_appointment(handlers):
    event, order = completed_event()
    deliver(handlers, event)
    slot_id = slot(handlers, room(handlers), "2026-10-12T08:30:00Z", "2026-10-12T09:00:00Z")
    body = with_override(
        appointment(order, slot_id, identifier=[{"system": "urn:ehr", "value": "a-1"}])
    )
    first, status = handlers.book(body, "identifier=urn:ehr|a-1")
    again, status_again = handlers.book(body, "identifier=urn:ehr|a-1")
    assert (status, status_again) == (201, 200)
    assert again["id"] == first["id"]


def test_wrong_modality_and_short_slot_refused(handlers):
    event, order = completed_event()
    deliver(handlers, event)
    ultrasound = slot(
        handlers, room(handlers, "US"), "2026-10-12T08:30:00Z", "2026-10-12T09:00:00Z"
    )
    short = slot(handlers, room(handlers), "2026-10-12T08:30:00Z", "2026-10-12T08:45:00Z")
    with pytest.raises(BusinessRuleViolation) as modality:
        handlers.book(with_override(appointment(order, ultrasound)), None)
    assert "wrong imaging modality" in modality.value.diagnostics
    with pytest.raises(BusinessRuleViolation) as duration:
        handlers.book(with_override(appointment(order, short)), None)
    assert "too short" in duration.value.diagnostics


def warfarin(patient: dict[str, Any], taken: str) -> dict[str, Any]:
    return {
        "resourceType": "MedicationStatement",
        "id": "ms-warfarin",
        "status": "completed",
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "11289"}]},
        "subject": {"reference": f"Patient/{patient['id']}"},
        "effectiveDateTime": taken,
    }


def test_warfarin_hold_refuses_inside_the_window_and_says_from_when(handlers):
    event, order = completed_event()
    patient_ref = order["subject"]["reference"].split("/")[1]
    event, order = completed_event(add=[warfarin({"id": patient_ref}, "2026-10-08")])
    deliver(handlers, event)
    schedule = room(handlers)
    inside = slot(handlers, schedule, "2026-10-13T08:00:00Z", "2026-10-13T08:30:00Z")
    outside = slot(handlers, schedule, "2026-10-14T08:00:00Z", "2026-10-14T08:30:00Z")
    with pytest.raises(BusinessRuleViolation) as hold:
        handlers.book(with_override(appointment(order, inside)), None)
    assert "safe from 2026-10-13T23:59:00+00:00" in hold.value.diagnostics
    booked, _ = handlers.book(with_override(appointment(order, outside)), None)
    labs = find(
        handlers, "Task", code="https://painflow.dev/fhir/CodeSystem/task-type|pre-procedure-lab"
    )
    assert len(labs) == 1  # warfarin: a normal INR before the procedure
    recon = find(handlers, "Task", focus=f"Appointment/{booked['id']}")
    assert recon and recon[0]["status"] == "requested"


def test_cancel_frees_the_slot_and_publishes(handlers, contracts):
    event, order = completed_event()
    deliver(handlers, event)
    slot_id = slot(handlers, room(handlers), "2026-10-12T08:30:00Z", "2026-10-12T09:00:00Z")
    booked, _ = handlers.book(with_override(appointment(order, slot_id)), None)
    with pytest.raises(BusinessRuleViolation):
        handlers.update_appointment({**booked, "status": "cancelled"}, None)
    reason = {
        "coding": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason",
                "code": "pat",
            }
        ]
    }
    handlers.update_appointment(
        {**booked, "status": "cancelled", "cancelationReason": reason}, None
    )
    assert find(handlers, "Slot", status="free")[0]["id"] == slot_id
    assert staged(handlers, contracts)[-1] == SchedulingEvent.APPOINTMENT_CANCELLED
    _, status = handlers.book(with_override(appointment(order, slot_id)), None)
    assert status == 201


def test_reschedule_moves_slots_atomically(handlers, contracts):
    event, order = completed_event()
    deliver(handlers, event)
    schedule = room(handlers)
    first = slot(handlers, schedule, "2026-10-12T08:30:00Z", "2026-10-12T09:00:00Z")
    second = slot(handlers, schedule, "2026-10-13T08:30:00Z", "2026-10-13T09:00:00Z")
    booked, _ = handlers.book(with_override(appointment(order, first)), None)
    params = {
        "resourceType": "Parameters",
        "parameter": [{"name": "slot", "valueReference": {"reference": f"Slot/{second}"}}],
    }
    moved = handlers.reschedule(booked["id"], params)
    assert moved["slot"] == [{"reference": f"Slot/{second}"}]
    assert [s["id"] for s in find(handlers, "Slot", status="free")] == [first]
    assert staged(handlers, contracts)[-1] == SchedulingEvent.APPOINTMENT_RESCHEDULED


def test_procedure_with_complication_publishes_both_events(handlers, contracts):
    event, order = completed_event()
    deliver(handlers, event)
    slot_id = slot(handlers, room(handlers), "2026-10-12T08:30:00Z", "2026-10-12T09:00:00Z")
    handlers.book(with_override(appointment(order, slot_id)), None)
    procedure = procedure_body(order)
    stored = after(handlers).record_procedure(procedure)
    assert stored["complicationDetail"]
    assert find(handlers, "Observation", part_of=f"Procedure/{stored['id']}")
    assert find(handlers, "Appointment", status="fulfilled")
    assert staged(handlers, contracts)[-2:] == [
        SchedulingEvent.PROCEDURE_PERFORMED,
        SchedulingEvent.PROCEDURE_COMPLICATION,
    ]


def after(handlers: SchedulingHandlers) -> SchedulingHandlers:
    """The same service once procedure_body's block is over: a Procedure is recorded then."""
    return dataclasses.replace(handlers, now=lambda: AFTER)


def test_procedure_for_unknown_or_revoked_order_is_refused(handlers):
    event, order = completed_event()
    with pytest.raises(BusinessRuleViolation, match="basedOn"):
        after(handlers).record_procedure(procedure_body(order))
    deliver(handlers, event)
    revoked = build_event(
        event_type=AssessmentEvent.ORDER_REVOKED,
        service="assessment",
        base_url="http://assess/fhir",
        patient_id=order["subject"]["reference"].split("/")[1],
        focus=[{**order, "status": "revoked"}],
        include=[],
    )
    deliver(handlers, revoked)
    with pytest.raises(BusinessRuleViolation, match="revoked"):
        after(handlers).record_procedure(procedure_body(order))


def test_instants_without_a_zone_are_a_400(handlers):
    with pytest.raises(InvalidRequest):
        handlers.create_slot(
            {
                "resourceType": "Slot",
                "schedule": {"reference": f"Schedule/{room(handlers)['id']}"},
                "status": "free",
                "start": "2026-10-12T08:30:00",
                "end": "2026-10-12T09:00:00Z",
            }
        )


def test_a_new_anticoagulant_flags_a_booking_that_became_unsafe(handlers):
    event, order = completed_event()
    deliver(handlers, event)
    slot_id = slot(handlers, room(handlers), "2026-10-02T08:30:00Z", "2026-10-02T09:00:00Z")
    handlers.book(with_override(appointment(order, slot_id)), None)
    patient_id = order["subject"]["reference"].split("/")[1]
    statement = {**warfarin({"id": patient_id}, "2026-09-30"), "status": "active"}
    statement.pop("effectiveDateTime")
    referral = build_event(
        event_type=ReferralEvent.ACCEPTED,
        service="referral",
        base_url="http://ref/fhir",
        patient_id=patient_id,
        focus=[{"resourceType": "ServiceRequest", "id": "ref-1", "status": "active"}],
        include=[statement],
    )
    deliver(handlers, referral)
    [task] = [
        t
        for t in find(handlers, "Task", focus=f"ServiceRequest/{order['id']}")
        if t["code"]["coding"][0]["code"] == "schedule-procedure"
    ]
    assert task["priority"] == "urgent"
    assert task["businessStatus"]["text"].startswith("unsafe booking")


def procedure_body(order: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Procedure",
        "status": "completed",
        "basedOn": [{"reference": f"ServiceRequest/{order['id']}"}],
        "subject": order["subject"],
        "code": order["code"],
        "bodySite": order["bodySite"],
        "performer": [{"actor": {"reference": "Practitioner/dr-1"}}],
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
            }
        ],
        "complication": [{"text": "vasovagal episode"}],
    }


def test_search_dates_are_read_in_the_site_zone():
    zone = "America/New_York"
    units = in_memory_units(
        MIGRATIONS, scheduling_registry(zone), EventSource("scheduling", "http://sched/fhir")
    )
    local = SchedulingHandlers(
        units=units,
        policies=load_scheduling_policies("asra-2018"),
        site_zone=ZoneInfo(zone),
        now=lambda: NOW,
    )
    late = slot(local, room(local), "2026-10-12T23:30:00-04:00", "2026-10-13T00:00:00-04:00")
    assert [s["id"] for s in find(local, "Slot", start="2026-10-12")] == [late]
    assert find(local, "Slot", start="2026-10-13") == []
