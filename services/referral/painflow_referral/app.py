"""create_app(settings): the referral service wired, with no work done at import."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from fastapi import FastAPI
from sqlmodel import Session

from painflow_referral import api
from painflow_referral.domain.policy import load_policy
from painflow_referral.events import EventTarget
from painflow_referral.intake import IntakeContext
from painflow_referral.search import OWNED_TYPES, referral_registry
from painflow_referral.settings import ReferralSettings
from painflow_shared.events.topics import REFERRAL_TOPIC
from painflow_shared.fhir.capability import ResourceCapability, capability_statement, metadata_router
from painflow_shared.fhir.routes import read_router
from painflow_shared.fhir.store import ResourceStore
from painflow_shared.service import ServiceSpec, build_service

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def create_app(settings: ReferralSettings | None = None) -> FastAPI:
    settings = settings or ReferralSettings()
    registry = referral_registry()
    overrides = {} if settings.require_coverage is None else {"require_coverage": settings.require_coverage}
    policy = load_policy(settings.triage_policy_file, overrides)
    statement = capability_statement(
        service="referral",
        base_url=settings.public_base_url,
        registry=registry,
        resources=_capabilities(),
        system_interactions=("transaction",),
    )
    spec = ServiceSpec(
        title="Painflow referral service",
        migrations_dir=MIGRATIONS,
        registry=registry,
        routers=[metadata_router(statement), api.router, read_router(OWNED_TYPES)],
    )
    app = build_service(settings, spec)
    runtime = app.state.runtime
    target = EventTarget(topic=settings.topic(REFERRAL_TOPIC), base_url=runtime.base_url)
    app.state.session_factory = partial(Session, runtime.engine, expire_on_commit=False)
    app.state.intake_context = lambda session: IntakeContext(
        session=session, store=ResourceStore(session, registry), policy=policy, events=target
    )
    return app


def _capabilities() -> list[ResourceCapability]:
    return [ResourceCapability(resource_type) for resource_type in OWNED_TYPES]
