"""Every booking rule at once, for the handlers: one call per proposed booking or open order.

The handler loads the facts (order, slots, the patient's statements, allergies, coverages, prior
procedures, authorization Tasks), calls ``booking_refusals`` and raises ``refusal_error`` of the
result; the database still enforces that a slot is taken once.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from painflow_scheduling.domain.allergies import (
    AllergyOverride,
    allergy_conflicts,
    check_allergies,
    covered_conflicts,
    procedure_agents,
)
from painflow_scheduling.domain.authorization import (
    authorization_requirements,
    check_authorization,
)
from painflow_scheduling.domain.constraints import appointment_span, check_modality, check_slots
from painflow_scheduling.domain.fhir_values import in_zone, zone
from painflow_scheduling.domain.holds import DrugHold, booking_check, earliest_safe_start
from painflow_scheduling.domain.order import OrderFacts, SlotFacts
from painflow_scheduling.domain.policy import SchedulingPolicies
from painflow_scheduling.domain.refusals import Refusal
from painflow_scheduling.domain.repeat_limits import PriorProcedure, check_repeat_limits


@dataclass(frozen=True)
class BookingRequest:
    order: OrderFacts
    slots: Sequence[SlotFacts]
    holds: Sequence[DrugHold]  # compute_holds for order.hold_category at the booking time
    allergies: Sequence[dict[str, Any]] = ()
    overrides: Sequence[AllergyOverride] = ()
    prior: Sequence[PriorProcedure] = ()  # excluding the appointment being moved
    coverages: Sequence[dict[str, Any]] = ()
    granted: Collection[str | None] = ()  # granted_coverages(authorization Tasks)


def booking_refusals(
    request: BookingRequest, policies: SchedulingPolicies, *, site_zone: str | ZoneInfo = "UTC"
) -> tuple[Refusal, ...]:
    """Every rule the booking breaks; slot problems first, since nothing else can be judged
    without a start."""
    order, tz = request.order, zone(site_zone)
    room = check_modality(order, request.slots) + check_slots(order, request.slots, site_zone=tz)
    if room:
        return room
    start, _ = appointment_span(request.slots)
    agents = procedure_agents(order, policies.agents)
    conflicts = allergy_conflicts(agents, request.allergies)
    requirements = authorization_requirements(order, request.coverages, policies.payers)
    return (
        booking_check(request.holds, start, site_zone=tz)
        + check_allergies(conflicts, request.overrides, policies.agents)
        + check_repeat_limits(order, start, request.prior, policies.repeat_limits, site_zone=tz)
        + check_authorization(requirements, request.granted, policies.payers)
    )


def scheduling_blockers(
    request: BookingRequest,
    policies: SchedulingPolicies,
    *,
    booking_time: datetime,
    site_zone: str | ZoneInfo = "UTC",
) -> list[str]:
    """What blocks booking an open order, before any slot is chosen (the schedule-procedure
    Task's businessStatus): a hold window still open, allergy conflicts without an override,
    authorizations not yet granted."""
    tz = zone(site_zone)
    blockers = []
    earliest = earliest_safe_start(request.holds, booking_time=booking_time)
    if earliest > booking_time:
        blockers.append(f"antithrombotic hold: not before {in_zone(earliest, tz)}")
    agents = procedure_agents(request.order, policies.agents)
    conflicts = allergy_conflicts(agents, request.allergies)
    covered = {c for c, _ in covered_conflicts(conflicts, request.overrides, policies.agents)}
    blockers += [
        f"allergy conflict with {c.agent_display} ({c.allergy}): needs an override"
        for c in conflicts
        if c not in covered
    ]
    requirements = authorization_requirements(request.order, request.coverages, policies.payers)
    if check_authorization(requirements, request.granted, policies.payers):
        blockers.append("prior authorization pending")
    return blockers
