"""create_app(settings): the assessment service wired, with no work done at import.

The Questionnaires of the data files are stored at start (after the migrations, idempotently),
so they are read and searched like every other resource."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from painflow_assessment import api, consumers
from painflow_assessment.handlers import AssessmentHandlers
from painflow_assessment.policies import load_assessment_policies
from painflow_assessment.search import assessment_registry, capabilities
from painflow_assessment.settings import AssessmentSettings
from painflow_shared.policy_documents import read_policies
from painflow_shared.service import ServiceDeclaration, build_service

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def create_app(settings: AssessmentSettings | None = None) -> FastAPI:
    settings = settings or AssessmentSettings()
    declaration = ServiceDeclaration(
        title="Painflow assessment service",
        migrations_dir=MIGRATIONS,
        registry=assessment_registry(),
        resources=capabilities(),
        routers=[api.router, api.worklist_router],
        policies=read_policies(settings.policy_paths().documents()),
    )
    app = build_service(settings, declaration)
    handlers = AssessmentHandlers(
        units=app.state.runtime.units,
        policies=load_assessment_policies(settings.policy_paths()),
        local_bases=settings.local_bases(),
    )
    declaration.subscriptions.update(handlers.subscriptions())
    declaration.preload = consumers.preload
    app.state.assessment = handlers
    _seed_on_start(app, handlers)
    return app


def _seed_on_start(app: FastAPI, handlers: AssessmentHandlers) -> None:
    """Run the shared lifespan (migrations, workers), then store the Questionnaires."""
    shared = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[None]:
        async with shared(application):
            await run_in_threadpool(handlers.seed_questionnaires)
            yield

    app.router.lifespan_context = lifespan
