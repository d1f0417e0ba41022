"""Booking: ``POST /fhir/Appointment`` and ``POST /fhir/Slot/{id}/$book``.

Every rule of the domain is checked at once (``booking_refusals``); a refusal is a 422 (or a 409
for a taken slot) whose issues say exactly why and, for holds, from when it is safe, and nothing
is stored. The slots and the order are reserved in the database (slots.py: a taken slot is a
409 and an order already booked a 422, even under concurrency), and the Appointment, its busy
Slots, the hold-instruction, lab and medication-reconciliation Tasks and the event commit
together.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from painflow_scheduling.booking_tasks import create_booking_tasks
from painflow_scheduling.context import SchedulingContext
from painflow_scheduling.domain.booking import booking_refusals
from painflow_scheduling.domain.constraints import appointment_span, check_taken
from painflow_scheduling.domain.fhir_values import in_zone
from painflow_scheduling.domain.order import SlotFacts
from painflow_scheduling.domain.refusals import refusal_error
from painflow_scheduling.events import publish_appointment
from painflow_scheduling.facts import ORDER_DONE, order_request, patient_id_of, slot_facts
from painflow_scheduling.instants import require_zones
from painflow_scheduling.overrides import (
    covered,
    override_comment,
    read_overrides,
    record_provenance,
)
from painflow_scheduling.slots import claim_order, reserve, set_slot_status
from painflow_scheduling.tasks import schedule_task, set_task
from painflow_shared.events.types import SchedulingEvent
from painflow_shared.fhir.dates import fhir_instant
from painflow_shared.fhir.errors import BusinessRuleViolation, InvalidRequest, PreconditionFailed
from painflow_shared.fhir.ids import new_id
from painflow_shared.fhir.references import local_reference, reference_of, reference_string

APPOINTMENT_INSTANTS = ("start", "end", "created", "requestedPeriod.start", "requestedPeriod.end")


def book(
    ctx: SchedulingContext,
    appointment: dict[str, Any],
    if_none_exist: str | None = None,
    *,
    patient_from_order: bool = False,
) -> tuple[dict[str, Any], int]:
    """The booked Appointment and 201, or the client's own earlier one and 200
    (``patient_from_order``: ``$book``, where the order names the patient)."""
    require_zones(appointment, APPOINTMENT_INSTANTS)
    if if_none_exist:
        existing = _existing(ctx, if_none_exist)
        if existing is not None:
            return existing, 200
    if appointment.get("status") != "booked":
        raise BusinessRuleViolation(
            "a booking is an Appointment with status booked", expression="Appointment.status"
        )
    order = booking_order(ctx, appointment)
    patient_id = str(patient_id_of(order))
    if patient_from_order:
        patient = {"actor": order["subject"], "required": "required", "status": "accepted"}
        appointment = {**appointment, "participant": [patient]}
    _require_patient(ctx, appointment, patient_id)
    slots = booking_slots(ctx, appointment)
    overrides = read_overrides(appointment)
    facts = [slot_facts(ctx, s) for s in slots]
    _refuse_taken(facts)
    appointment_id = new_id()
    # the slots first, so the rules below read what the winner of a race committed: a
    # concurrent booking of these slots waits here, then gets its 409
    reserve(ctx, [s["id"] for s in slots], appointment_id, "Appointment.slot")
    request = order_request(ctx, order, slots=facts, overrides=overrides)
    error = refusal_error(booking_refusals(request, ctx.policies, site_zone=ctx.site_zone))
    if error is not None:
        raise error
    claim_order(ctx, order["id"], appointment_id)
    pairs = covered(ctx, request, overrides)
    body = _booked(ctx, appointment, order, slots, override_comment(pairs))
    stored = ctx.store.create(body, resource_id=appointment_id)
    busy = [set_slot_status(ctx, s["id"], "busy") for s in slots]
    record_provenance(ctx, stored, order, pairs)
    create_booking_tasks(ctx, stored, order, request)
    mark_booked(ctx, order, stored)
    publish_appointment(ctx, SchedulingEvent.APPOINTMENT_BOOKED, stored, order, patient_id, busy)
    return stored, 201


def _refuse_taken(facts: list[SlotFacts]) -> None:
    """A slot already busy is a 409 naming it, before anything else is judged."""
    error = refusal_error(check_taken(facts))
    if error is not None:
        raise error


def _existing(ctx: SchedulingContext, if_none_exist: str) -> dict[str, Any] | None:
    pairs = parse_qsl(if_none_exist.lstrip("?"), keep_blank_values=True)
    if not pairs or any(name != "identifier" for name, _ in pairs):
        raise InvalidRequest(
            "If-None-Exist here takes identifier=system|value", expression="If-None-Exist"
        )
    found = ctx.find("Appointment", **dict(pairs))
    if len(found) > 1:
        raise PreconditionFailed("If-None-Exist matches more than one Appointment")
    return found[0] if found else None


def booking_order(ctx: SchedulingContext, appointment: dict[str, Any]) -> dict[str, Any]:
    refs = [reference_of(b) for b in appointment.get("basedOn") or []]
    orders = [o for r in refs if (o := ctx.store.resolve(r, "ServiceRequest")) is not None]
    if len(orders) != 1:
        raise BusinessRuleViolation(
            "basedOn must name exactly one procedure order known to scheduling",
            expression="Appointment.basedOn",
        )
    if orders[0].get("status") in ORDER_DONE or orders[0].get("status") != "active":
        raise BusinessRuleViolation(
            "the order is not active (revoked, completed or on hold): nothing to book",
            expression="Appointment.basedOn",
        )
    return orders[0]


def _require_patient(ctx: SchedulingContext, appointment: dict[str, Any], patient_id: str) -> None:
    actors = [
        local_reference(ref, ctx.local_bases)
        for p in appointment.get("participant") or []
        if (ref := reference_of(p.get("actor")))
    ]
    if reference_string("Patient", patient_id) not in actors:
        raise BusinessRuleViolation(
            "participant must include the order's patient", expression="Appointment.participant"
        )


def booking_slots(ctx: SchedulingContext, resource: dict[str, Any]) -> list[dict[str, Any]]:
    slots: list[dict[str, Any]] = []
    refs = [reference_of(s) for s in resource.get("slot") or []]
    if not refs:
        raise BusinessRuleViolation(
            "a booking takes one or more slots", expression="Appointment.slot"
        )
    for index, ref in enumerate(refs):
        slot = ctx.store.resolve(ref, "Slot")
        if slot is None or any(s["id"] == slot["id"] for s in slots):
            raise BusinessRuleViolation(
                "not a Slot known here (or named twice)", expression=f"Appointment.slot[{index}]"
            )
        slots.append(slot)
    return slots


def _booked(
    ctx: SchedulingContext,
    appointment: dict[str, Any],
    order: dict[str, Any],
    slots: list[dict[str, Any]],
    comment: str | None,
) -> dict[str, Any]:
    body = {k: v for k, v in appointment.items() if k not in ("id", "meta")}
    body.update(appointment_times(ctx, slots))
    body["basedOn"] = [{"reference": reference_string("ServiceRequest", order["id"])}]
    body["participant"] = participants(ctx, appointment, slots)
    body["created"] = fhir_instant(ctx.now())
    if slots[0].get("serviceType"):
        body["serviceType"] = slots[0]["serviceType"]
    if comment:
        body["comment"] = " ".join(p for p in (appointment.get("comment"), comment) if p)
    return body


def appointment_times(ctx: SchedulingContext, slots: list[dict[str, Any]]) -> dict[str, Any]:
    facts = [(slot_facts(ctx, s), s) for s in slots]
    ordered = [
        s for f, s in sorted(facts, key=lambda p: p[0].start.timestamp() if p[0].start else 0)
    ]
    start, end = appointment_span([f for f, _ in facts])
    return {
        "start": in_zone(start, ctx.site_zone),
        "end": in_zone(end, ctx.site_zone),
        "minutesDuration": round((end - start).total_seconds() / 60),
        "slot": [{"reference": reference_string("Slot", s["id"])} for s in ordered],
    }


def participants(
    ctx: SchedulingContext, appointment: dict[str, Any], slots: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The client's participants (patient references made local) and the room or clinician
    the Schedule's actor names."""
    found = []
    for participant in appointment.get("participant") or []:
        actor = participant.get("actor") or {}
        if isinstance(actor.get("reference"), str):
            actor = {**actor, "reference": local_reference(actor["reference"], ctx.local_bases)}
        found.append(
            {**participant, "actor": actor, "status": participant.get("status") or "accepted"}
        )
    named = {reference_of(p["actor"]) for p in found}
    schedule = ctx.store.resolve(reference_of(slots[0].get("schedule")), "Schedule") or {}
    for actor in schedule.get("actor") or []:
        if reference_of(actor) not in named:
            found.append({"actor": actor, "required": "required", "status": "accepted"})
    return found


def mark_booked(ctx: SchedulingContext, order: dict[str, Any], appointment: dict[str, Any]) -> None:
    task = schedule_task(ctx, reference_string("ServiceRequest", order["id"]))
    if task is not None:
        text = f"booked: Appointment/{appointment['id']} from {appointment['start']}"
        set_task(ctx, task, status="in-progress", businessStatus={"text": text}, priority="routine")
