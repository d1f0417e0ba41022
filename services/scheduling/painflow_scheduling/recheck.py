"""A changed MedicationStatement or AllergyIntolerance recomputes every open order of the patient;
a booked Appointment that has become unsafe is flagged to the scheduler, never silently kept:
its schedule-procedure Task turns ``urgent`` and says why, and the Appointment stays booked until
a person decides (cancel, reschedule, or an override). Its hold instructions are recomputed."""

from __future__ import annotations

from typing import Any

from painflow_scheduling.booking_tasks import booking_task_bodies
from painflow_scheduling.context import SchedulingContext
from painflow_scheduling.domain.booking import booking_refusals
from painflow_scheduling.domain.fhir_values import concept_code
from painflow_scheduling.facts import order_request, slot_facts
from painflow_scheduling.orders import open_orders, refresh_order
from painflow_scheduling.overrides import read_overrides
from painflow_scheduling.tasks import BOOKING_TASKS, OPEN, order_tasks, schedule_task, set_task
from painflow_shared.codes import CodeSystem, TaskType
from painflow_shared.fhir.references import reference_of, reference_string

UNSAFE = "unsafe booking, review now: "
SAME_INSTRUCTION = ("code", "focus", "restriction", "reasonReference")
ONE_PER_APPOINTMENT = ("code", "focus")  # the reconciliation's window moves with the clock


def recheck_patient(ctx: SchedulingContext, patient_id: str) -> None:
    for order in open_orders(ctx, patient_id):
        ref = reference_string("ServiceRequest", order["id"])
        booked = ctx.find("Appointment", based_on=ref, status="booked")
        if booked:
            _recheck_booking(ctx, order, booked[0])
        else:
            refresh_order(ctx, order)


def _recheck_booking(
    ctx: SchedulingContext, order: dict[str, Any], appointment: dict[str, Any]
) -> None:
    slots = [
        s
        for item in appointment.get("slot") or []
        if (s := ctx.store.resolve(reference_of(item), "Slot")) is not None
    ]
    ref = reference_string("Appointment", appointment["id"])
    request = order_request(
        ctx,
        order,
        slots=[slot_facts(ctx, s, mine=True) for s in slots],
        overrides=read_overrides(appointment),
        moving=ref,
    )
    refusals = booking_refusals(request, ctx.policies, site_zone=ctx.site_zone)
    _replace_booking_tasks(ctx, order, appointment, request)
    task = schedule_task(ctx, reference_string("ServiceRequest", order["id"]))
    if task is None:
        return
    if refusals:
        reasons = "; ".join(r.reason for r in refusals)
        set_task(ctx, task, priority="urgent", businessStatus={"text": f"{UNSAFE}{ref}: {reasons}"})
    elif str((task.get("businessStatus") or {}).get("text", "")).startswith(UNSAFE):
        text = f"booked: {ref} from {appointment['start']}"
        set_task(ctx, task, priority="routine", businessStatus={"text": text})


def _replace_booking_tasks(
    ctx: SchedulingContext, order: dict[str, Any], appointment: dict[str, Any], request: Any
) -> None:
    """New hold instructions and labs for the changed record; an unchanged one (same kind,
    focus and window) keeps its Task and whatever the prescriber decided on it. The
    reconciliation is one per Appointment (its window opens at the re-check when the procedure
    is under 7 days away): an open or completed one stays."""
    order_ref = reference_string("ServiceRequest", order["id"])
    current = [
        t
        for kind in BOOKING_TASKS
        for t in order_tasks(ctx, order_ref, kind)
        if t.get("status") in OPEN
    ]
    done = [
        t
        for t in order_tasks(ctx, order_ref, TaskType.MED_RECONCILIATION)
        if t.get("status") == "completed"
    ]
    for body in booking_task_bodies(ctx, appointment, request):
        twin = next((t for t in current if _same(t, body)), None)
        if twin is not None:
            current.remove(twin)
        elif not any(_same(t, body) for t in done):
            ctx.store.create(body)
    for stale in current:
        set_task(
            ctx, stale, status="cancelled", statusReason={"text": "the patient's record changed"}
        )


def _same(task: dict[str, Any], body: dict[str, Any]) -> bool:
    kind = concept_code(body.get("code"), CodeSystem.TASK_TYPE)
    keys = ONE_PER_APPOINTMENT if kind == TaskType.MED_RECONCILIATION else SAME_INSTRUCTION
    return all(task.get(k) == body.get(k) for k in keys)
