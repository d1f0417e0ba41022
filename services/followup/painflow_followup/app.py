"""create_app(settings): the follow-up service wired, with no work done at import."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from painflow_followup import api
from painflow_followup.consumers import REFERRAL_HANDLERS
from painflow_followup.settings import FollowupSettings
from painflow_shared.events.topics import REFERRAL_TOPIC
from painflow_shared.fhir.capability import ResourceCapability
from painflow_shared.fhir.search_params import SearchParam, SearchParamRegistry
from painflow_shared.service import ServiceDeclaration, build_service

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
OWNED_TYPES = ["CarePlan", "Task", "QuestionnaireResponse", "Observation"]


def create_app(settings: FollowupSettings | None = None) -> FastAPI:
    settings = settings or FollowupSettings()
    patient = SearchParam("patient", "reference", "subject", target="Patient")
    registry = SearchParamRegistry(
        {
            t: [SearchParam("patient", "reference", "for", target="Patient")]
            if t == "Task"
            else [patient]
            for t in OWNED_TYPES
        }
    )
    declaration = ServiceDeclaration(
        title="Painflow follow-up service",
        migrations_dir=MIGRATIONS,
        registry=registry,
        resources=[ResourceCapability(t) for t in OWNED_TYPES],
        routers=[api.router],
        subscriptions={REFERRAL_TOPIC: REFERRAL_HANDLERS},
    )
    return build_service(settings, declaration)
