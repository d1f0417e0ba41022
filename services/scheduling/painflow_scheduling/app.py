"""create_app(settings): the scheduling service wired, with no work done at import."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import FastAPI

from painflow_scheduling import api, consumers
from painflow_scheduling.handlers import SchedulingHandlers
from painflow_scheduling.operations import definitions_for
from painflow_scheduling.policies import load_scheduling_policies, policy_files
from painflow_scheduling.search import scheduling_registry
from painflow_scheduling.settings import SchedulingSettings
from painflow_shared.fhir.capability import READS, ResourceCapability
from painflow_shared.policy_documents import read_policies
from painflow_shared.service import ServiceDeclaration, build_service

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
READ_ONLY = (
    "ServiceRequest",
    "Observation",
    "MedicationAdministration",
    "Condition",
    "Provenance",
)


def create_app(settings: SchedulingSettings | None = None) -> FastAPI:
    settings = settings or SchedulingSettings()
    declaration = ServiceDeclaration(
        title="Painflow scheduling service",
        migrations_dir=MIGRATIONS,
        registry=scheduling_registry(settings.site_tz),
        resources=capabilities(settings.public_base_url),
        routers=[api.router, api.views],
        policies=read_policies(policy_files(settings.hold_policy)),
    )
    app = build_service(settings, declaration)
    handlers = SchedulingHandlers(
        units=app.state.runtime.units,
        policies=load_scheduling_policies(settings.hold_policy),
        site_zone=ZoneInfo(settings.site_tz),
        local_bases=settings.local_bases(),
        accept_future_procedures=settings.accept_future_procedures,
    )
    declaration.subscriptions.update(handlers.subscriptions())
    declaration.preload = consumers.preload
    app.state.scheduling = handlers
    return app


def capabilities(base_url: str) -> list[ResourceCapability]:
    """Exactly what api.py and the read routes serve."""

    def cap(kind: str, *writes: str, operations: tuple[str, ...] = ()) -> ResourceCapability:
        return ResourceCapability(
            kind,
            (*READS, *writes),
            conditional_create=kind == "Appointment",
            operations=operations,
            definitions=definitions_for(kind, base_url),
        )

    return [
        cap("Schedule", "create", operations=("generate-slots",)),
        cap("Slot", "create", operations=("book",)),
        cap("Appointment", "create", "update", "patch", operations=("reschedule",)),
        cap("Task", "update", "patch"),
        cap("ServiceRequest", operations=("booking-constraints",)),
        cap("Procedure", "create"),
        *(cap(kind) for kind in READ_ONLY[1:]),
        ResourceCapability("OperationDefinition", ("read", "search-type")),
    ]
