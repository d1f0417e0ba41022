"""The booking rules besides holds, as pure functions over plain data.

Room and time (here): the slots' imaging modality against the order's, and contiguous free slots
of one Schedule long enough for the procedure. Allergies, repeat limits and prior authorization
live in their own modules and are re-exported here, so handlers import one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import pairwise
from zoneinfo import ZoneInfo

from painflow_scheduling.domain.allergies import (
    AllergyConflict,
    AllergyOverride,
    allergy_conflicts,
    check_allergies,
    covered_conflicts,
    procedure_agents,
)
from painflow_scheduling.domain.authorization import (
    AuthorizationRequirement,
    authorization_number,
    authorization_requirements,
    check_authorization,
    granted_coverages,
)
from painflow_scheduling.domain.fhir_values import in_zone, zone
from painflow_scheduling.domain.order import OrderFacts, SlotFacts
from painflow_scheduling.domain.refusals import Refusal, RefusalKind, Rule
from painflow_scheduling.domain.repeat_limits import (
    PriorProcedure,
    RepeatLimitStatus,
    check_repeat_limits,
    repeat_limit_statuses,
)

__all__ = [
    "AllergyConflict",
    "AllergyOverride",
    "AuthorizationRequirement",
    "PriorProcedure",
    "RepeatLimitStatus",
    "allergy_conflicts",
    "appointment_span",
    "authorization_number",
    "authorization_requirements",
    "check_allergies",
    "check_authorization",
    "check_modality",
    "check_repeat_limits",
    "check_slots",
    "check_taken",
    "covered_conflicts",
    "granted_coverages",
    "procedure_agents",
    "repeat_limit_statuses",
]


def check_modality(order: OrderFacts, slots: Sequence[SlotFacts]) -> tuple[Refusal, ...]:
    """Every slot's room must have the order's imaging (Schedule.serviceType, DICOM)."""
    if order.modality is None:  # not image-guided (e.g. an office visit): any room
        return ()
    return tuple(
        Refusal(
            Rule.MODALITY,
            f"wrong imaging modality: {s.reference or 'the slot'} is in a room with "
            f"{', '.join(sorted(s.modalities)) or 'no imaging modality'}; the order "
            f"{order.reference or ''} (CPT {order.cpt}) needs {order.modality}",
            f"Appointment.slot[{i}]",
        )
        for i, s in enumerate(slots)
        if order.modality not in s.modalities
    )


def check_slots(
    order: OrderFacts, slots: Sequence[SlotFacts], *, site_zone: str | ZoneInfo = "UTC"
) -> tuple[Refusal, ...]:
    """Free, of one Schedule, contiguous, and together at least the order's expected duration."""
    if not slots:
        return (
            Refusal(Rule.DURATION, "an Appointment needs at least one slot", "Appointment.slot"),
        )
    taken = _taken(slots)
    shape = _shape(slots, zone(site_zone))
    if taken or shape:
        return taken + shape
    return _duration(order, slots)


def check_taken(slots: Sequence[SlotFacts]) -> tuple[Refusal, ...]:
    """Only the taken slots (409s): checked before a booking reserves its slots."""
    return _taken(slots)


def _taken(slots: Sequence[SlotFacts]) -> tuple[Refusal, ...]:
    return tuple(
        Refusal(
            Rule.SLOT_TAKEN,
            f"slot taken: {s.reference or 'the slot'} is {s.status or 'not free'}, not free",
            f"Appointment.slot[{i}]",
            RefusalKind.CONFLICT,
        )
        for i, s in enumerate(slots)
        if s.status != "free"
    )


def _shape(slots: Sequence[SlotFacts], tz: ZoneInfo) -> tuple[Refusal, ...]:
    if any(s.start is None or s.end is None for s in slots):
        return (Refusal(Rule.DURATION, "every slot needs a start and an end", "Appointment.slot"),)
    if len({s.schedule for s in slots}) > 1:
        reason = "the slots belong to different Schedules: one booking takes one room's slots"
        return (Refusal(Rule.DURATION, reason, "Appointment.slot"),)
    ordered = sorted(slots, key=lambda s: s.start or datetime.min)
    gaps = [(a, b) for a, b in pairwise(ordered) if a.end != b.start]
    return tuple(
        Refusal(
            Rule.DURATION,
            f"slots not contiguous: {b.reference} starts at {_at(b.start, tz)}, not where "
            f"{a.reference} ends ({_at(a.end, tz)})",
            "Appointment.slot",
        )
        for a, b in gaps
    )


def _at(moment: datetime | None, tz: ZoneInfo) -> str:
    return in_zone(moment, tz) if moment else "an unknown time"


def _duration(order: OrderFacts, slots: Sequence[SlotFacts]) -> tuple[Refusal, ...]:
    start, end = appointment_span(slots)
    minutes = (end - start).total_seconds() / 60
    if order.duration_minutes is None or minutes >= order.duration_minutes:
        return ()
    reason = (
        f"slots too short: they give {minutes:g} min; the order {order.reference or ''} needs "
        f"{order.duration_minutes} min (expected-duration)"
    )
    return (Refusal(Rule.DURATION, reason, "Appointment.slot"),)


def appointment_span(slots: Sequence[SlotFacts]) -> tuple[datetime, datetime]:
    """The Appointment's start and end: the first slot's start, the last slot's end."""
    starts = [s.start for s in slots if s.start is not None]
    ends = [s.end for s in slots if s.end is not None]
    if not starts or not ends:
        raise ValueError("slots without start or end have no span")
    return min(starts), max(ends)
