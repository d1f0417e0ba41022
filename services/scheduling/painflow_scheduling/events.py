"""Scheduling's events on ``painflow.scheduling.v1``, in the shapes contracts/ fixes: each carries
the Appointment or Procedure, the order and exactly one Patient, so an external scheduler can
follow every booking change from the topic alone."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from painflow_scheduling.context import SchedulingContext
from painflow_scheduling.records import patient_resource
from painflow_shared.events.types import SchedulingEvent


def publish_appointment(
    ctx: SchedulingContext,
    event_type: SchedulingEvent,
    appointment: dict[str, Any],
    order: dict[str, Any],
    patient_id: str,
    slots: Sequence[dict[str, Any]] = (),
) -> None:
    """booked, cancelled, rescheduled or noshow: the Appointment, its Slots, the order."""
    ctx.uow.publish(
        event_type,
        patient_id=patient_id,
        focus=[appointment],
        include=[*slots, order, patient_resource(ctx, patient_id)],
    )


def publish_procedure(
    ctx: SchedulingContext,
    procedure: dict[str, Any],
    order: dict[str, Any],
    patient_id: str,
    *,
    recorded: Sequence[dict[str, Any]],
    complications: Sequence[dict[str, Any]],
) -> None:
    """procedure-performed (with the NRS Observation, MedicationAdministrations and Appointment
    in ``recorded``), then one procedure-complication per complication Condition."""
    patient = patient_resource(ctx, patient_id)
    ctx.uow.publish(
        SchedulingEvent.PROCEDURE_PERFORMED,
        patient_id=patient_id,
        focus=[procedure],
        include=[order, *recorded, patient],
    )
    for condition in complications:
        ctx.uow.publish(
            SchedulingEvent.PROCEDURE_COMPLICATION,
            patient_id=patient_id,
            focus=[condition, procedure],
            include=[order, patient],
        )
