"""Fixtures for the scheduling domain's unit tests: the real policy files, FHIR JSON builders."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from painflow_scheduling.domain.policy import SchedulingPolicies
from painflow_scheduling.policies import load_scheduling_policies

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
PATIENT = "Patient/p-1"
BOOKING_TIME = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def asra() -> SchedulingPolicies:
    return load_scheduling_policies("asra-2018")


@pytest.fixture(scope="session")
def asipp() -> SchedulingPolicies:
    return load_scheduling_policies("asipp-2024")


StatementFactory = Callable[..., dict[str, Any]]


def statement(
    code: str | None,
    *,
    ident: str = "ms-1",
    status: str = "active",
    display: str | None = None,
    taken: str | None = None,
    period_end: str | None = None,
    reason: list[dict[str, Any]] | None = None,
    dose_mg: float | None = None,
    per_day: float | None = None,
    route: str | None = None,
) -> dict[str, Any]:
    """A MedicationStatement: ``taken`` is effectiveDateTime, ``period_end`` effectivePeriod.end."""
    coding = {"system": RXNORM, **({"code": code} if code else {}), "display": display or "drug"}
    resource: dict[str, Any] = {
        "resourceType": "MedicationStatement",
        "id": ident,
        "status": status,
        "medicationCodeableConcept": {"coding": [coding]},
        "subject": {"reference": PATIENT},
    }
    if taken:
        resource["effectiveDateTime"] = taken
    if period_end:
        resource["effectivePeriod"] = {"start": "2025-01-01", "end": period_end}
    if reason is not None:
        resource["reasonCode"] = reason
    resource["dosage"] = _dosage(dose_mg, per_day, route)
    return {k: v for k, v in resource.items() if v}


def _dosage(dose_mg: float | None, per_day: float | None, route: str | None) -> list[Any]:
    dosage: dict[str, Any] = {}
    if dose_mg is not None:
        quantity = {"value": dose_mg, "unit": "mg", "system": "http://unitsofmeasure.org"}
        dosage["doseAndRate"] = [{"doseQuantity": {**quantity, "code": "mg"}}]
    if per_day is not None:
        dosage["timing"] = {"repeat": {"frequency": per_day, "period": 1, "periodUnit": "d"}}
    if route is not None:
        dosage["route"] = {"coding": [{"system": SNOMED, "code": route}]}
    return [dosage] if dosage else []


@pytest.fixture
def make_statement() -> StatementFactory:
    return statement


class HandlerKit:
    """Builders for the handler tests (test modules cannot import one another under importlib
    mode): the contract example's completed event, rooms, slots, bookings, what is stored and
    what is staged in the outbox (each event validated against contracts/)."""

    NOW = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
    CANCEL_REASON = {
        "coding": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason",
                "code": "pat",
            }
        ]
    }

    def __init__(self) -> None:
        from painflow_shared.contracts import EventContracts

        self.contracts = EventContracts(REPO / "contracts")

    def handlers(self, table: str = "asra-2018", clock: list[datetime] | None = None) -> Any:
        """Handlers on a fresh in-memory SQLite unit of work; ``clock[0]`` is now."""
        from zoneinfo import ZoneInfo

        from painflow_scheduling.app import MIGRATIONS
        from painflow_scheduling.handlers import SchedulingHandlers
        from painflow_scheduling.search import scheduling_registry
        from painflow_shared.unit_of_work import EventSource, in_memory_units

        source = EventSource("scheduling", "http://sched/fhir")
        units = in_memory_units(MIGRATIONS, scheduling_registry("UTC"), source)
        now = clock if clock is not None else [self.NOW]
        return SchedulingHandlers(
            units=units,
            policies=load_scheduling_policies(table),  # type: ignore[arg-type]
            site_zone=ZoneInfo("UTC"),
            now=lambda: now[0],
        )

    @staticmethod
    def completed_event(add: list[dict[str, Any]] = ()) -> tuple[Any, dict[str, Any]]:  # type: ignore[assignment]
        """The contract example's completed event plus ``add``; (envelope, order)."""
        from painflow_shared.events.envelope import build_event
        from painflow_shared.events.types import AssessmentEvent

        value = json.loads(EXAMPLE.read_text())["value"]
        resources = [e["resource"] for e in value["entry"][1:]] + list(add)
        patient = next(r for r in resources if r["resourceType"] == "Patient")
        order = next(r for r in resources if r["resourceType"] == "ServiceRequest")
        envelope = build_event(
            event_type=AssessmentEvent.COMPLETED,
            service="assessment",
            base_url="http://assess/fhir",
            patient_id=patient["id"],
            focus=[r for r in resources if r["resourceType"] in FOCUS],
            include=resources,
        )
        return envelope, order

    @staticmethod
    def deliver(handlers: Any, event: Any) -> None:
        for topic_handlers in handlers.subscriptions().values():
            if event.type in topic_handlers:
                with handlers.units.begin() as uow:
                    topic_handlers[event.type](uow, event)
                return
        raise AssertionError(f"no handler for {event.type}")

    @staticmethod
    def slot(handlers: Any, start: str, end: str, modality: str = "RF") -> str:
        schedule = handlers.create_schedule(
            {
                "resourceType": "Schedule",
                "actor": [{"reference": "Location/suite-2"}],
                "serviceType": [{"coding": [{"system": DCM, "code": modality}]}],
            }
        )
        created = handlers.create_slot(
            {
                "resourceType": "Slot",
                "schedule": {"reference": f"Schedule/{schedule['id']}"},
                "status": "free",
                "start": start,
                "end": end,
            }
        )
        return str(created["id"])

    @staticmethod
    def appointment(order: dict[str, Any], *slots: str) -> dict[str, Any]:
        """A booking of the order with the override the example patient needs (contrast)."""
        parts = [
            {"url": "kind", "valueCode": "alternative-agent"},
            {"url": "text", "valueString": "gadolinium-based contrast"},
        ]
        return {
            "resourceType": "Appointment",
            "status": "booked",
            "basedOn": [{"reference": f"ServiceRequest/{order['id']}"}],
            "slot": [{"reference": f"Slot/{s}"} for s in slots],
            "participant": [{"actor": order["subject"], "status": "accepted"}],
            "extension": [{"url": OVERRIDE, "extension": parts}],
        }

    @staticmethod
    def find(handlers: Any, kind: str, **params: str) -> list[dict[str, Any]]:
        return handlers.run(lambda ctx: ctx.find(kind, **params))  # type: ignore[no-any-return]

    def staged(self, handlers: Any) -> list[str]:
        from sqlmodel import Session, select

        from painflow_shared.events.outbox import OutboxMessage

        with Session(handlers.units.engine) as session:
            rows = session.exec(select(OutboxMessage).order_by(OutboxMessage.seq)).all()  # type: ignore[arg-type]
        for row in rows:
            self.contracts.validate(row.headers, json.loads(row.payload))
        return [row.event_type for row in rows]


REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "contracts" / "examples" / "painflow.assessment.completed.json"
FOCUS = ("ClinicalImpression", "ServiceRequest")
DCM = "http://dicom.nema.org/resources/ontology/DCM"
OVERRIDE = "https://painflow.dev/fhir/StructureDefinition/allergy-override"


@pytest.fixture(scope="session")
def kit() -> HandlerKit:
    return HandlerKit()
