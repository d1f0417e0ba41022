"""create_app(settings): the scheduling service wired, with no work done at import."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from painflow_scheduling import api
from painflow_scheduling.consumers import REFERRAL_HANDLERS
from painflow_scheduling.settings import SchedulingSettings
from painflow_shared.events.topics import REFERRAL_TOPIC
from painflow_shared.fhir.capability import ResourceCapability
from painflow_shared.fhir.search_params import SearchParam, SearchParamRegistry
from painflow_shared.service import ServiceDeclaration, build_service

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
OWNED_TYPES = ["Schedule", "Slot", "Appointment", "Procedure", "Task"]


def create_app(settings: SchedulingSettings | None = None) -> FastAPI:
    settings = settings or SchedulingSettings()
    registry = SearchParamRegistry(
        {
            "Schedule": [],
            "Slot": [SearchParam("schedule", "reference", "schedule")],
            "Appointment": [
                SearchParam("patient", "reference", "participant.actor", target="Patient")
            ],
            "Procedure": [SearchParam("patient", "reference", "subject", target="Patient")],
            "Task": [SearchParam("patient", "reference", "for", target="Patient")],
        }
    )
    declaration = ServiceDeclaration(
        title="Painflow scheduling service",
        migrations_dir=MIGRATIONS,
        registry=registry,
        resources=[ResourceCapability(t) for t in OWNED_TYPES],
        routers=[api.router],
        subscriptions={REFERRAL_TOPIC: REFERRAL_HANDLERS},
    )
    return build_service(settings, declaration)
