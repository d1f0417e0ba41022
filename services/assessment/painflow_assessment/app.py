"""create_app(settings): the assessment service wired, with no work done at import."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from painflow_assessment import api
from painflow_assessment.consumers import REFERRAL_HANDLERS
from painflow_assessment.settings import AssessmentSettings
from painflow_shared.events.topics import REFERRAL_TOPIC
from painflow_shared.fhir.capability import ResourceCapability
from painflow_shared.fhir.search_params import SearchParam, SearchParamRegistry
from painflow_shared.service import ServiceDeclaration, build_service

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
OWNED_TYPES = [
    "Questionnaire",
    "QuestionnaireResponse",
    "Observation",
    "ClinicalImpression",
    "CarePlan",
]


def create_app(settings: AssessmentSettings | None = None) -> FastAPI:
    settings = settings or AssessmentSettings()
    patient = SearchParam("patient", "reference", "subject", target="Patient")
    registry = SearchParamRegistry(
        {t: [patient] if t != "Questionnaire" else [] for t in OWNED_TYPES}
    )
    declaration = ServiceDeclaration(
        title="Painflow assessment service",
        migrations_dir=MIGRATIONS,
        registry=registry,
        resources=[ResourceCapability(t) for t in OWNED_TYPES],
        routers=[api.router],
        subscriptions={REFERRAL_TOPIC: REFERRAL_HANDLERS},
    )
    return build_service(settings, declaration)
