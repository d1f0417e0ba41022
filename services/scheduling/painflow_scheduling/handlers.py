"""The scheduling service's commands and event handlers, bound to what they need: each runs in
one unit of work from the service runtime (its writes and events commit together, or nothing)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from painflow_scheduling import changes, procedures, schedules, task_updates
from painflow_scheduling.booking import book
from painflow_scheduling.constraints import booking_constraints
from painflow_scheduling.consumers import (
    ASSESSMENT_HANDLERS,
    REFERRAL_HANDLERS,
    ContextHandler,
    open_referrals,
)
from painflow_scheduling.context import SchedulingContext
from painflow_scheduling.domain.policy import SchedulingPolicies
from painflow_scheduling.records import patient_record
from painflow_shared.events.consumer import Handler
from painflow_shared.events.types import ASSESSMENT_TOPIC, REFERRAL_TOPIC
from painflow_shared.fhir.dates import utcnow
from painflow_shared.unit_of_work import UnitOfWork, UnitOfWorkFactory

T = TypeVar("T")
Cancelled = threading.Event | None
Resource = dict[str, Any]


@dataclass(frozen=True)
class SchedulingHandlers:
    units: UnitOfWorkFactory
    policies: SchedulingPolicies
    site_zone: ZoneInfo
    local_bases: tuple[str, ...] = ()
    now: Callable[[], datetime] = field(default=utcnow)
    accept_future_procedures: bool = False  # SchedulingSettings: demos only

    def context(self, uow: UnitOfWork) -> SchedulingContext:
        return SchedulingContext(
            uow,
            self.policies,
            self.site_zone,
            self.local_bases,
            self.now,
            self.accept_future_procedures,
        )

    def run(self, work: Callable[[SchedulingContext], T], cancelled: Cancelled = None) -> T:
        return self.units.run(lambda uow: work(self.context(uow)), cancelled)

    def subscriptions(self) -> dict[str, dict[str, Handler]]:
        def bind(handle: ContextHandler) -> Handler:
            return lambda uow, event: handle(self.context(uow), event)

        return {
            ASSESSMENT_TOPIC: {t: bind(h) for t, h in ASSESSMENT_HANDLERS.items()},
            REFERRAL_TOPIC: {t: bind(h) for t, h in REFERRAL_HANDLERS.items()},
        }

    # ------------------------------------------------------------------ commands

    def create_schedule(self, body: Resource) -> Resource:
        return self.run(lambda ctx: schedules.create_schedule(ctx, body))

    def create_slot(self, body: Resource) -> Resource:
        return self.run(lambda ctx: schedules.create_slot(ctx, body))

    def generate_slots(self, schedule_id: str, parameters: Resource) -> Resource:
        return self.run(lambda ctx: schedules.generate(ctx, schedule_id, parameters))

    def book(
        self,
        appointment: Resource,
        if_none_exist: str | None,
        cancelled: Cancelled = None,
        *,
        patient_from_order: bool = False,
    ) -> tuple[Resource, int]:
        def work(ctx: SchedulingContext) -> tuple[Resource, int]:
            return book(ctx, appointment, if_none_exist, patient_from_order=patient_from_order)

        return self.run(work, cancelled)

    def update_appointment(self, body: Resource, if_match: int | None) -> Resource:
        return self.run(lambda ctx: changes.update_appointment(ctx, body, if_match))

    def patch_appointment(
        self, appointment_id: str, patch: Callable[[Resource], Resource], if_match: int | None
    ) -> Resource:
        def work(ctx: SchedulingContext) -> Resource:
            current = ctx.store.read("Appointment", appointment_id)
            return changes.update_appointment(ctx, patch(current), if_match)

        return self.run(work)

    def reschedule(self, appointment_id: str, parameters: Resource) -> Resource:
        return self.run(lambda ctx: changes.reschedule(ctx, appointment_id, parameters))

    def booking_constraints(self, order_id: str) -> Resource:
        return self.run(lambda ctx: booking_constraints(ctx, order_id))

    def record_procedure(self, body: Resource) -> Resource:
        return self.run(lambda ctx: procedures.record_procedure(ctx, body))

    def update_task(self, body: Resource, if_match: int | None) -> Resource:
        return self.run(lambda ctx: task_updates.update_task(ctx, body, if_match))

    def patch_task(
        self, task_id: str, patch: Callable[[Resource], Resource], if_match: int | None
    ) -> Resource:
        def work(ctx: SchedulingContext) -> Resource:
            return task_updates.update_task(ctx, patch(ctx.store.read("Task", task_id)), if_match)

        return self.run(work)

    def safety_profile(self, patient_id: str) -> Resource | None:
        """The convenience view of the patient's record as scheduling holds it."""

        def work(ctx: SchedulingContext) -> Resource | None:
            record = patient_record(ctx, patient_id)
            referrals = open_referrals(ctx, patient_id)
            if not referrals and not any(record.values()):
                return None
            return {
                "patient_id": patient_id,
                "medications": [
                    _coded(m, "medicationCodeableConcept", "status")
                    for m in record["MedicationStatement"]
                ],
                "allergies": [
                    _coded(a, "code", "criticality") for a in record["AllergyIntolerance"]
                ],
                "open_referrals": referrals,
            }

        return self.run(work)


def _coded(resource: Resource, element: str, detail: str) -> Resource:
    """Codes only (RxNorm, SNOMED): no free text in the convenience view."""
    concept = resource.get(element) or {}
    return {
        "id": resource.get("id"),
        "codes": [
            {"system": c.get("system"), "code": c.get("code")} for c in concept.get("coding") or []
        ],
        detail: resource.get(detail),
    }
