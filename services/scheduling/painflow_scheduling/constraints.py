"""``GET /fhir/ServiceRequest/{id}/$booking-constraints``: the domain's Parameters for the order
as of now, so schedulers offer only safe slots."""

from __future__ import annotations

from typing import Any

from painflow_scheduling.context import SchedulingContext
from painflow_scheduling.domain.allergies import allergy_conflicts, procedure_agents
from painflow_scheduling.domain.authorization import authorization_requirements
from painflow_scheduling.domain.holds import earliest_safe_start
from painflow_scheduling.domain.instructions import booking_constraints_parameters
from painflow_scheduling.domain.repeat_limits import repeat_limit_statuses
from painflow_scheduling.facts import order_request


def booking_constraints(ctx: SchedulingContext, order_id: str) -> dict[str, Any]:
    order = ctx.store.read("ServiceRequest", order_id)
    request = order_request(ctx, order)
    now, facts, policies = ctx.now(), request.order, ctx.policies
    earliest = earliest_safe_start(request.holds, booking_time=now)
    return booking_constraints_parameters(
        earliest_start=earliest,
        holds=request.holds,
        allergy_conflicts=allergy_conflicts(
            procedure_agents(facts, policies.agents), request.allergies
        ),
        repeat_limits=repeat_limit_statuses(facts, earliest, request.prior, policies.repeat_limits),
        authorizations=authorization_requirements(facts, request.coverages, policies.payers),
        granted=request.granted,
        site_zone=ctx.site_zone,
    )
