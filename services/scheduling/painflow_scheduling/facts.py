"""Loading what the booking rules need for one order from the store: the order, its patient's
record, prior procedures, authorization Tasks; and building the domain's BookingRequest."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from painflow_scheduling.context import SchedulingContext
from painflow_scheduling.domain.allergies import AllergyOverride
from painflow_scheduling.domain.authorization import granted_coverages
from painflow_scheduling.domain.booking import BookingRequest
from painflow_scheduling.domain.fhir_values import concept_code, parse_moment
from painflow_scheduling.domain.holds import compute_holds
from painflow_scheduling.domain.medications import recent_egfr
from painflow_scheduling.domain.order import OrderFacts, SlotFacts, read_order, read_slot
from painflow_scheduling.domain.repeat_limits import PriorProcedure
from painflow_scheduling.records import patient_record
from painflow_shared.codes import CodeSystem, System, TaskType
from painflow_shared.fhir.references import reference_of, reference_string

ORDER_DONE = frozenset({"revoked", "entered-in-error", "completed"})


def task_code(kind: TaskType) -> str:
    return f"{CodeSystem.TASK_TYPE}|{kind.value}"


def patient_id_of(order: dict[str, Any]) -> str | None:
    reference = reference_of(order.get("subject")) or ""
    return reference.split("/", 1)[1] if reference.startswith("Patient/") else None


def order_request(
    ctx: SchedulingContext,
    order: dict[str, Any],
    *,
    slots: Sequence[SlotFacts] = (),
    overrides: Sequence[AllergyOverride] = (),
    moving: str | None = None,
) -> BookingRequest:
    """Every fact the rules read for ``order``; ``moving`` is the Appointment being moved."""
    facts = read_order(order)
    record = patient_record(ctx, patient_id_of(order) or "")
    now = ctx.now()
    table = ctx.policies.holds.selected
    egfr = recent_egfr(record["Observation"], table, now, ctx.site_zone)
    holds = compute_holds(
        facts.hold_category,
        record["MedicationStatement"],
        tables=ctx.policies.holds,
        booking_time=now,
        egfr=egfr,
        site_zone=ctx.site_zone,
    )
    auth_tasks = ctx.find(
        "Task", focus=str(facts.reference), code=task_code(TaskType.PRIOR_AUTHORIZATION)
    )
    return BookingRequest(
        order=facts,
        slots=slots,
        holds=holds,
        allergies=record["AllergyIntolerance"],
        overrides=overrides,
        prior=prior_procedures(ctx, facts, exclude=moving),
        coverages=record["Coverage"],
        granted=granted_coverages(auth_tasks),
    )


def prior_procedures(
    ctx: SchedulingContext, order: OrderFacts, *, exclude: str | None = None
) -> list[PriorProcedure]:
    """The patient's booked Appointments and performed Procedures (booked and performed count)."""
    if order.patient is None:
        return []
    found = [
        p
        for a in ctx.find("Appointment", patient=order.patient, status="booked")
        if (p := _from_appointment(ctx, a)) and p.reference != exclude
    ]
    for procedure in ctx.find("Procedure", patient=order.patient):
        prior = _from_procedure(ctx, procedure)
        if prior is not None and procedure.get("status") == "completed":
            found.append(prior)
    return found


def _from_appointment(ctx: SchedulingContext, appointment: dict[str, Any]) -> PriorProcedure | None:
    order = based_on_order(ctx, appointment)
    start = parse_moment(appointment.get("start"), ctx.site_zone)
    if order is None or start is None:
        return None
    facts = read_order(order)
    return PriorProcedure(
        reference_string("Appointment", appointment["id"]),
        facts.cpt,
        facts.regions,
        start,
        "booked",
        facts.purpose,
    )


def _from_procedure(ctx: SchedulingContext, procedure: dict[str, Any]) -> PriorProcedure | None:
    start = parse_moment((procedure.get("performedPeriod") or {}).get("start"), ctx.site_zone)
    if start is None:
        return None
    order = based_on_order(ctx, procedure)
    regions = frozenset(
        code
        for site in procedure.get("bodySite") or []
        if (code := concept_code(site, CodeSystem.BODY_REGION))
    )
    return PriorProcedure(
        reference_string("Procedure", procedure["id"]),
        concept_code(procedure.get("code"), System.CPT),
        regions,
        start,
        "performed",
        read_order(order).purpose if order else None,
    )


def based_on_order(ctx: SchedulingContext, resource: dict[str, Any]) -> dict[str, Any] | None:
    for item in resource.get("basedOn") or []:
        found = ctx.store.resolve(reference_of(item), "ServiceRequest")
        if found is not None:
            return found
    return None


def slot_facts(ctx: SchedulingContext, slot: dict[str, Any], *, mine: bool = False) -> SlotFacts:
    """A slot as the rules see it; ``mine``: busy only because of the Appointment being checked."""
    return read_slot({**slot, "status": "free"} if mine else slot, ctx.site_zone)
