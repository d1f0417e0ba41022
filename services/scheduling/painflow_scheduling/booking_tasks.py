"""The Tasks a booking creates: one hold instruction per drug to stop (``requested``: it reaches
the patient only once the prescriber accepts it), a pre-procedure lab where the hold table adds
one (warfarin: INR), and the medication-reconciliation Task due 7 days before (or now)."""

from __future__ import annotations

from typing import Any

from painflow_scheduling.context import SchedulingContext
from painflow_scheduling.domain.booking import BookingRequest
from painflow_scheduling.domain.fhir_values import parse_moment
from painflow_scheduling.domain.holds import DrugHold
from painflow_scheduling.domain.instructions import (
    hold_instruction_task,
    med_reconciliation_task,
    pre_procedure_lab_task,
)
from painflow_scheduling.tasks import BOOKING_TASKS, close_tasks
from painflow_shared.fhir.references import reference_of, reference_string

PRESCRIBERS = ("Practitioner/", "PractitionerRole/")


def create_booking_tasks(
    ctx: SchedulingContext,
    appointment: dict[str, Any],
    order: dict[str, Any],
    request: BookingRequest,
) -> None:
    for task in booking_task_bodies(ctx, appointment, request):
        ctx.store.create(task)


def booking_task_bodies(
    ctx: SchedulingContext, appointment: dict[str, Any], request: BookingRequest
) -> list[dict[str, Any]]:
    """The Tasks a booking needs (not stored): holds, labs, the reconciliation."""
    start = parse_moment(appointment["start"], ctx.site_zone)
    end = parse_moment(appointment["end"], ctx.site_zone)
    assert start is not None and end is not None
    now, facts, tasks = ctx.now(), request.order, []
    for hold in request.holds:
        if hold.blocking and hold.still_taken:
            task = hold_instruction_task(
                hold,
                order=facts,
                appointment_start=start,
                appointment_end=end,
                authored=now,
                site_zone=ctx.site_zone,
                prescriber=_prescriber(ctx, hold),
            )
            tasks.append(task)
        for condition in hold.conditions if hold.blocking else ():
            lab = pre_procedure_lab_task(
                hold, condition, order=facts, appointment_start=start, authored=now
            )
            tasks.append(lab)
    appointment_ref = reference_string("Appointment", appointment["id"])
    tasks.append(
        med_reconciliation_task(
            order=facts, appointment=appointment_ref, appointment_start=start, authored=now
        )
    )
    return tasks


def _prescriber(ctx: SchedulingContext, hold: DrugHold) -> str | None:
    """Who accepts the hold: the statement's informationSource when it is a clinician."""
    statement = ctx.store.resolve(hold.statement, "MedicationStatement") or {}
    source = reference_of(statement.get("informationSource")) or ""
    return source if source.startswith(PRESCRIBERS) else None


def cancel_booking_tasks(ctx: SchedulingContext, order: dict[str, Any], reason: str) -> None:
    close_tasks(ctx, reference_string("ServiceRequest", order["id"]), BOOKING_TASKS, reason)
