"""Scheduling's handlers on an in-memory unit of work, where HTTP is not the point: one active
booking per order, no-show, a cancelled referral, the ASIPP hold table, the reconciliation Task
kept once per Appointment, and a Procedure's period."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from painflow_scheduling.tables import OrderBooking
from painflow_shared.events.envelope import build_event
from painflow_shared.events.types import ReferralEvent, SchedulingEvent
from painflow_shared.fhir.dates import parse_fhir_date
from painflow_shared.fhir.errors import BusinessRuleViolation
from painflow_shared.testing.fixtures import production_settings

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
TASK_TYPE = "https://painflow.dev/fhir/CodeSystem/task-type"
RECONCILIATION = f"{TASK_TYPE}|med-reconciliation"


def order_rows(handlers: Any) -> list[tuple[str, str]]:
    with Session(handlers.units.engine) as session:
        rows = session.exec(select(OrderBooking)).all()
    return [(r.order_id, r.appointment_id) for r in rows]


def schedule_task(kit: Any, handlers: Any, order: dict[str, Any]) -> dict[str, Any]:
    code = f"{TASK_TYPE}|schedule-procedure"
    [task] = kit.find(handlers, "Task", focus=f"ServiceRequest/{order['id']}", code=code)
    return task  # type: ignore[no-any-return]


def test_an_order_has_one_active_booking_until_it_is_cancelled(kit):
    handlers = kit.handlers()
    event, order = kit.completed_event()
    kit.deliver(handlers, event)
    first = kit.slot(handlers, "2026-10-12T08:30:00Z", "2026-10-12T09:00:00Z")
    second = kit.slot(handlers, "2026-11-20T08:30:00Z", "2026-11-20T09:00:00Z")
    booked, _ = handlers.book(kit.appointment(order, first), None)
    assert order_rows(handlers) == [(order["id"], booked["id"])]
    with pytest.raises(BusinessRuleViolation) as twice:
        handlers.book(kit.appointment(order, second), None)
    assert f"already booked (Appointment/{booked['id']})" in twice.value.diagnostics
    assert twice.value.issues[0].expression == ("Appointment.basedOn",)
    assert [s["id"] for s in kit.find(handlers, "Slot", status="free")] == [second]
    cancelled = {**booked, "status": "cancelled", "cancelationReason": kit.CANCEL_REASON}
    handlers.update_appointment(cancelled, None)
    assert order_rows(handlers) == []
    again, status = handlers.book(kit.appointment(order, second), None)
    assert status == 201 and order_rows(handlers) == [(order["id"], again["id"])]


def test_noshow_frees_the_slot_reopens_the_order_and_publishes(kit):
    handlers = kit.handlers()
    event, order = kit.completed_event()
    kit.deliver(handlers, event)
    slot_id = kit.slot(handlers, "2026-10-12T08:30:00Z", "2026-10-12T09:00:00Z")
    booked, _ = handlers.book(kit.appointment(order, slot_id), None)
    assert schedule_task(kit, handlers, order)["status"] == "in-progress"
    stored = handlers.update_appointment({**booked, "status": "noshow"}, None)
    assert stored["status"] == "noshow"
    assert kit.find(handlers, "Slot", status="free")[0]["id"] == slot_id
    assert schedule_task(kit, handlers, order)["status"] == "requested"
    assert order_rows(handlers) == []
    recon = kit.find(handlers, "Task", focus=f"Appointment/{booked['id']}")
    assert [t["status"] for t in recon] == ["cancelled"]
    assert kit.staged(handlers)[-1] == SchedulingEvent.APPOINTMENT_NOSHOW
    with pytest.raises(BusinessRuleViolation):  # a no-show is final: no cancel after it
        handlers.update_appointment(
            {**stored, "status": "cancelled", "cancelationReason": kit.CANCEL_REASON}, None
        )


def referral_cancelled(order: dict[str, Any]) -> Any:
    referral_id = order["basedOn"][0]["reference"].rsplit("/", 1)[1]
    patient_id = order["subject"]["reference"].split("/")[1]
    referral = {
        "resourceType": "ServiceRequest",
        "id": referral_id,
        "status": "revoked",
        "intent": "order",
        "subject": {"reference": f"Patient/{patient_id}"},
    }
    return build_event(
        event_type=ReferralEvent.CANCELLED,
        service="referral",
        base_url="http://ref/fhir",
        patient_id=patient_id,
        focus=[referral],
        include=[],
    )


def test_a_cancelled_referral_cancels_the_request_and_its_booking(kit):
    handlers = kit.handlers()
    event, order = kit.completed_event()
    kit.deliver(handlers, event)
    slot_id = kit.slot(handlers, "2026-10-12T08:30:00Z", "2026-10-12T09:00:00Z")
    booked, _ = handlers.book(kit.appointment(order, slot_id), None)
    before = len(kit.staged(handlers))
    kit.deliver(handlers, referral_cancelled(order))
    [appointment] = kit.find(handlers, "Appointment", based_on=f"ServiceRequest/{order['id']}")
    assert appointment["id"] == booked["id"] and appointment["status"] == "cancelled"
    assert appointment["cancelationReason"]["text"] == "referral cancelled"
    assert kit.find(handlers, "Slot", status="free")[0]["id"] == slot_id
    stored_order = handlers.run(lambda ctx: ctx.store.read("ServiceRequest", order["id"]))
    assert stored_order["status"] == "revoked"
    assert schedule_task(kit, handlers, order)["status"] == "cancelled"
    assert order_rows(handlers) == []
    assert kit.staged(handlers)[before:] == [SchedulingEvent.APPOINTMENT_CANCELLED]
    with pytest.raises(BusinessRuleViolation) as refused:
        handlers.book(kit.appointment(order, slot_id), None)
    assert "not active" in refused.value.diagnostics


def statement(patient_id: str, rxnorm: str, taken: str) -> dict[str, Any]:
    return {
        "resourceType": "MedicationStatement",
        "id": f"ms-{rxnorm}",
        "status": "completed",
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": rxnorm}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": taken,
    }


def ordered_with(kit: Any, handlers: Any, rxnorm: str, taken: str) -> dict[str, Any]:
    _, order = kit.completed_event()
    patient_id = order["subject"]["reference"].split("/")[1]
    event, order = kit.completed_event(add=[statement(patient_id, rxnorm, taken)])
    kit.deliver(handlers, event)
    return order


@pytest.mark.parametrize(
    ("table", "booked"),
    [("asra-2018", False), ("asipp-2024", True)],
)
def test_rivaroxaban_hold_follows_the_selected_table(kit, table, booked):
    """Intermediate risk: ASRA 2018 holds rivaroxaban 3 days, the 2024 ASIPP table 1 day."""
    handlers = kit.handlers(table)
    order = ordered_with(kit, handlers, "1114195", "2026-10-08T08:00:00Z")
    slot_id = kit.slot(handlers, "2026-10-10T08:30:00Z", "2026-10-10T09:00:00Z")
    if booked:
        _, status = handlers.book(kit.appointment(order, slot_id), None)
        assert status == 201
        return
    with pytest.raises(BusinessRuleViolation) as refused:
        handlers.book(kit.appointment(order, slot_id), None)
    assert "safe from 2026-10-11T08:00:00+00:00" in refused.value.diagnostics
    assert kit.find(handlers, "Appointment") == []


def test_asipp_falls_back_to_asra_for_warfarin_and_says_so(kit):
    handlers = kit.handlers("asipp-2024")
    order = ordered_with(kit, handlers, "11289", "2026-10-08")
    slot_id = kit.slot(handlers, "2026-10-13T08:00:00Z", "2026-10-13T08:30:00Z")
    with pytest.raises(BusinessRuleViolation) as refused:
        handlers.book(kit.appointment(order, slot_id), None)
    assert "hold table asra-2018" in refused.value.diagnostics
    assert "safe from 2026-10-13T23:59:00+00:00" in refused.value.diagnostics
    constraints = handlers.booking_constraints(order["id"])
    holds = [p["part"] for p in constraints["parameter"] if p["name"] == "hold"]
    [warfarin] = [h for h in holds if {"name": "drug", "valueString": "warfarin"} in h]
    assert {"name": "flag", "valueCode": "fallback-to-asra"} in warfarin


def test_reconciliation_task_is_kept_once_per_appointment_across_rechecks(kit):
    """Four days before the procedure the reconciliation window opens at each re-check's now;
    a re-check still keeps the one Task, and a completed one is not asked again."""
    clock = [kit.NOW]
    handlers = kit.handlers(clock=clock)
    event, order = kit.completed_event()
    kit.deliver(handlers, event)
    slot_id = kit.slot(handlers, "2026-10-05T08:30:00Z", "2026-10-05T09:00:00Z")
    booked, _ = handlers.book(kit.appointment(order, slot_id), None)
    focus = f"Appointment/{booked['id']}"
    [task] = kit.find(handlers, "Task", focus=focus, code=RECONCILIATION)
    for hours in (1, 5):
        clock[0] = kit.NOW + timedelta(hours=hours)
        kit.deliver(handlers, event)  # the same order again: every open order is re-checked
        assert [t["id"] for t in kit.find(handlers, "Task", focus=focus)] == [task["id"]]
    handlers.patch_task(task["id"], lambda t: {**t, "status": "completed"}, None)
    clock[0] = kit.NOW + timedelta(hours=9)
    kit.deliver(handlers, event)
    found = kit.find(handlers, "Task", focus=focus, code=RECONCILIATION)
    assert [(t["id"], t["status"]) for t in found] == [(task["id"], "completed")]


def procedure(order: dict[str, Any], period: dict[str, str]) -> dict[str, Any]:
    return {
        "resourceType": "Procedure",
        "status": "completed",
        "basedOn": [{"reference": f"ServiceRequest/{order['id']}"}],
        "subject": order["subject"],
        "code": order["code"],
        "bodySite": order["bodySite"],
        "performer": [{"actor": {"reference": "Practitioner/dr-1"}}],
        "performedPeriod": period,
    }


@pytest.mark.parametrize(
    ("period", "expression", "text"),
    [
        ({"start": "2026-10-12T08:41:00Z"}, "Procedure.performedPeriod.end", "needs"),
        ({"end": "2026-10-12T08:58:00Z"}, "Procedure.performedPeriod.start", "needs"),
        (
            {"start": "2026-10-12T08:41:00Z", "end": "2026-10-12T08:40:00Z"},
            "Procedure.performedPeriod.end",
            "before its start",
        ),
    ],
)
def test_a_completed_procedure_needs_both_ends_of_its_period(kit, period, expression, text):
    handlers = kit.handlers(clock=[kit.NOW + timedelta(days=12)])  # after 2026-10-12
    event, order = kit.completed_event()
    kit.deliver(handlers, event)
    with pytest.raises(BusinessRuleViolation) as refused:
        handlers.record_procedure(procedure(order, period))
    assert refused.value.issues[0].expression == (expression,)
    assert text in refused.value.diagnostics
    assert kit.find(handlers, "Procedure") == []
    whole = {"start": "2026-10-12T08:41:00Z", "end": "2026-10-12T08:58:00Z"}
    assert handlers.record_procedure(procedure(order, whole))["performedPeriod"] == whole


BLOCK = {"start": "2026-10-12T08:41:00Z", "end": "2026-10-12T08:58:00Z"}  # in its slot


def booked_block(kit: Any) -> tuple[Any, list[Any], dict[str, Any], str]:
    """(handlers, their clock, the order, the slot) with the block booked on 2026-10-12 and
    the clock still at the kit's NOW, eleven days before it."""
    clock = [kit.NOW]
    handlers = kit.handlers(clock=clock)
    event, order = kit.completed_event()
    kit.deliver(handlers, event)
    slot_id = kit.slot(handlers, "2026-10-12T08:30:00Z", "2026-10-12T09:00:00Z")
    handlers.book(kit.appointment(order, slot_id), None)
    return handlers, clock, order, slot_id


def test_a_performed_booking_releases_its_order(kit):
    handlers, clock, order, slot_id = booked_block(kit)
    whole = BLOCK
    clock[0] = kit.NOW + timedelta(days=12)  # the block was done; now it is recorded
    handlers.record_procedure(procedure(order, whole))
    assert order_rows(handlers) == []
    assert kit.find(handlers, "Slot", status="busy")[0]["id"] == slot_id


def test_a_procedure_that_ends_in_the_future_is_refused_and_nothing_changes(kit):
    """Recording a booked block before its time would complete the order, fulfil the
    Appointment and start the follow-up windows from a time that has not come."""
    handlers, clock, order, _ = booked_block(kit)
    whole = BLOCK
    with pytest.raises(BusinessRuleViolation) as refused:
        handlers.record_procedure(procedure(order, whole))
    assert refused.value.issues[0].expression == ("Procedure.performedPeriod.end",)
    assert "in the future" in refused.value.diagnostics
    assert kit.find(handlers, "Procedure") == []
    assert [a["status"] for a in kit.find(handlers, "Appointment")] == ["booked"]
    assert len(order_rows(handlers)) == 1  # the order still waits for its procedure

    end = parse_fhir_date(whole["end"])
    assert end is not None
    clock[0] = end - timedelta(minutes=4)  # within the clock skew a sender's clock may run ahead
    assert handlers.record_procedure(procedure(order, whole))["performedPeriod"] == whole
    assert order_rows(handlers) == []


def test_a_demo_may_record_a_booked_procedure_ahead_of_its_time(kit):
    handlers = dataclasses.replace(kit.handlers(), accept_future_procedures=True)
    event, order = kit.completed_event()
    kit.deliver(handlers, event)
    whole = {"start": "2026-10-12T08:41:00Z", "end": "2026-10-12T08:58:00Z"}  # NOW is 10-01
    assert handlers.record_procedure(procedure(order, whole))["performedPeriod"] == whole


def test_production_refuses_future_procedures():
    from painflow_scheduling.settings import SchedulingSettings

    with pytest.raises(ValueError, match="demos"):
        production_settings(SchedulingSettings, "scheduling", accept_future_procedures=True)
    assert SchedulingSettings().accept_future_procedures is False
