"""Changes to a booking: cancel and no-show as updates of ``Appointment.status``, reschedule as
one atomic ``$reschedule``. Each frees or takes slots consistently and publishes its event."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from painflow_scheduling.booking import appointment_times, booking_slots, mark_booked
from painflow_scheduling.booking_tasks import cancel_booking_tasks, create_booking_tasks
from painflow_scheduling.context import SchedulingContext
from painflow_scheduling.domain.booking import booking_refusals
from painflow_scheduling.domain.refusals import refusal_error
from painflow_scheduling.events import publish_appointment
from painflow_scheduling.facts import based_on_order, order_request, patient_id_of, slot_facts
from painflow_scheduling.orders import refresh_order
from painflow_scheduling.overrides import read_overrides
from painflow_scheduling.slots import release, release_order, reserve, set_slot_status
from painflow_scheduling.tables import SlotBooking
from painflow_scheduling.tasks import schedule_task, set_task
from painflow_shared.events.types import SchedulingEvent
from painflow_shared.fhir.errors import BusinessRuleViolation, PreconditionFailed
from painflow_shared.fhir.references import reference_string

# what a PUT or PATCH may change; anything else about the booking moves with $reschedule
CHANGEABLE = ("status", "cancelationReason", "comment", "patientInstruction", "meta", "text")
STATUS_EVENTS = {
    "cancelled": SchedulingEvent.APPOINTMENT_CANCELLED,
    "noshow": SchedulingEvent.APPOINTMENT_NOSHOW,
}


def update_appointment(
    ctx: SchedulingContext, body: dict[str, Any], if_match: int | None
) -> dict[str, Any]:
    current = ctx.store.read("Appointment", body["id"])
    if if_match is not None and str(if_match) != current["meta"]["versionId"]:
        raise PreconditionFailed(f"version {if_match} is not the current version")
    _only_changeable(current, body)
    status = body.get("status")
    if status == current.get("status"):
        return ctx.store.update({**current, **_changed(body)})[0]
    if current.get("status") != "booked" or status not in STATUS_EVENTS:
        raise BusinessRuleViolation(
            "a booked Appointment may become cancelled or noshow here (fulfilled comes with its "
            "Procedure; a new time with $reschedule)",
            expression="Appointment.status",
        )
    if status == "cancelled" and not body.get("cancelationReason"):
        raise BusinessRuleViolation(
            "a cancellation needs a cancelationReason", expression="Appointment.cancelationReason"
        )
    return end_booking(ctx, {**current, **_changed(body)}, reopen=True)


def _only_changeable(current: dict[str, Any], body: dict[str, Any]) -> None:
    for key in sorted(set(current) | set(body)):
        if key not in CHANGEABLE and current.get(key) != body.get(key):
            raise BusinessRuleViolation(
                "only status, cancelationReason, comment and patientInstruction change with an "
                "update; use $reschedule for new slots",
                expression=f"Appointment.{key}",
            )


def _changed(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k in CHANGEABLE and k != "meta"}


def end_booking(
    ctx: SchedulingContext, appointment: dict[str, Any], *, reopen: bool
) -> dict[str, Any]:
    """Store a cancelled or no-show Appointment, free its slots, cancel its Tasks, publish; with
    ``reopen`` the order goes back to waiting for a booking."""
    stored = ctx.store.update(appointment)[0]
    freed = [set_slot_status(ctx, slot_id, "free") for slot_id in release(ctx, stored["id"])]
    release_order(ctx, stored["id"])
    order = based_on_order(ctx, stored)
    assert order is not None
    cancel_booking_tasks(ctx, order, f"Appointment {stored['status']}")
    if reopen:
        task = schedule_task(ctx, reference_string("ServiceRequest", order["id"]))
        if task is not None:
            set_task(ctx, task, status="requested")
            refresh_order(ctx, order)
    event = STATUS_EVENTS[stored["status"]]
    publish_appointment(ctx, event, stored, order, str(patient_id_of(order)), freed)
    return stored


def cancel_for(ctx: SchedulingContext, appointment: dict[str, Any], reason: str) -> None:
    """Cancel a booked Appointment because its order or referral ended."""
    cancelled = {
        **appointment,
        "status": "cancelled",
        "cancelationReason": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason",
                    "code": "prov",
                }
            ],
            "text": reason,
        },
    }
    end_booking(ctx, cancelled, reopen=False)


def reschedule(
    ctx: SchedulingContext, appointment_id: str, parameters: dict[str, Any]
) -> dict[str, Any]:
    """Move a booked Appointment to other slot(s) in one transaction, every rule re-checked."""
    current = ctx.store.read("Appointment", appointment_id)
    if current.get("status") != "booked":
        raise BusinessRuleViolation(
            "only a booked Appointment is rescheduled", expression="Appointment.status"
        )
    order = based_on_order(ctx, current)
    if order is None or order.get("status") != "active":
        raise BusinessRuleViolation("the order is not active", expression="Appointment.basedOn")
    wanted = {"slot": [p.get("valueReference") for p in _slot_params(parameters)]}
    slots = booking_slots(ctx, wanted)
    held = set(ctx.session.exec(_held(appointment_id)).all())
    facts = [slot_facts(ctx, s, mine=s["id"] in held) for s in slots]
    ref = reference_string("Appointment", appointment_id)
    request = order_request(ctx, order, slots=facts, overrides=read_overrides(current), moving=ref)
    error = refusal_error(booking_refusals(request, ctx.policies, site_zone=ctx.site_zone))
    if error is not None:
        raise error
    return _move(ctx, current, order, slots, request)


def _slot_params(parameters: dict[str, Any]) -> list[dict[str, Any]]:
    found = [p for p in parameters.get("parameter") or [] if p.get("name") == "slot"]
    if not found:
        raise BusinessRuleViolation(
            "$reschedule takes one or more slot parameters (valueReference Slot/id)",
            expression="Parameters.parameter",
        )
    return found


def _held(appointment_id: str) -> Any:
    return select(SlotBooking.slot_id).where(SlotBooking.appointment_id == appointment_id)


def _move(
    ctx: SchedulingContext,
    current: dict[str, Any],
    order: dict[str, Any],
    slots: list[dict[str, Any]],
    request: Any,
) -> dict[str, Any]:
    left = set(release(ctx, current["id"]))
    reserve(ctx, [s["id"] for s in slots], current["id"], "Parameters.parameter")
    taken_ids = {s["id"] for s in slots}
    freed = [set_slot_status(ctx, i, "free") for i in sorted(left - taken_ids)]
    busy = [set_slot_status(ctx, s["id"], "busy") for s in slots]
    stored = ctx.store.update({**current, **appointment_times(ctx, slots)})[0]
    cancel_booking_tasks(ctx, order, "Appointment rescheduled")
    create_booking_tasks(ctx, stored, order, request)
    mark_booked(ctx, order, stored)
    event = SchedulingEvent.APPOINTMENT_RESCHEDULED
    publish_appointment(ctx, event, stored, order, str(patient_id_of(order)), [*busy, *freed])
    return stored
