"""create_app(settings): the follow-up service wired, with no work done at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from painflow_followup import api
from painflow_followup.handlers import FollowupHandlers
from painflow_followup.overdue import OverdueJob
from painflow_followup.policies import load_policies, policy_documents
from painflow_followup.settings import FollowupSettings
from painflow_shared.fhir.capability import READS, ResourceCapability
from painflow_shared.fhir.search_params import SearchParam, SearchParamRegistry
from painflow_shared.service import ServiceDeclaration, build_service

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def followup_registry() -> SearchParamRegistry:
    def patient(path: str) -> SearchParam:
        return SearchParam("patient", "reference", path, target="Patient")

    status, code = SearchParam("status", "token", "status"), SearchParam("code", "token", "code")
    return SearchParamRegistry(
        {
            "CarePlan": [patient("subject"), status],
            "Task": [patient("for"), status, code, SearchParam("focus", "reference", "focus")],
            "Observation": [patient("subject"), code],
            "QuestionnaireResponse": [patient("subject"), status],
            "ServiceRequest": [patient("subject"), code, status],
        }
    )


def capabilities() -> list[ResourceCapability]:
    """Exactly what api.py and the read routes serve."""
    return [
        ResourceCapability("CarePlan"),
        ResourceCapability("Task"),
        ResourceCapability("Observation", (*READS, "create")),
        ResourceCapability("QuestionnaireResponse", (*READS, "create")),
        ResourceCapability("ServiceRequest"),
        ResourceCapability("Questionnaire", ("read", "search-type")),
        ResourceCapability("Patient", (), operations=("everything",)),
    ]


def create_app(settings: FollowupSettings | None = None) -> FastAPI:
    settings = settings or FollowupSettings()
    policies = load_policies(mbb_threshold=settings.mbb_relief_threshold)
    declaration = ServiceDeclaration(
        title="Painflow follow-up service",
        migrations_dir=MIGRATIONS,
        registry=followup_registry(),
        resources=capabilities(),
        routers=[api.router, api.journeys],
        policies=policy_documents(settings.mbb_relief_threshold),
    )
    app = build_service(settings, declaration)
    handlers = FollowupHandlers(app.state.runtime.units, policies, settings)
    declaration.subscriptions.update(handlers.subscriptions())
    declaration.preload = handlers.preload
    app.state.followup = handlers
    _run_overdue_job(app, handlers)
    return app


def _run_overdue_job(app: FastAPI, handlers: FollowupHandlers) -> None:
    """The overdue job starts after the service's own workers and stops before them."""
    settings = handlers.settings
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[None]:
        async with inner(application):
            job = None
            if settings.start_background_workers and settings.overdue_interval_seconds > 0:
                job = OverdueJob(handlers.mark_overdue, settings.overdue_interval_seconds)
                job.start()
            try:
                yield
            finally:
                if job is not None:
                    job.stop()

    app.router.lifespan_context = lifespan
