"""create_app(settings): the referral service wired, with no work done at import."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from fastapi import FastAPI
from sqlmodel import Session

from painflow_referral import api
from painflow_referral.bundle_plan import ACCEPTED_TYPES
from painflow_referral.consumers import followup_handlers
from painflow_referral.context import IntakeContext
from painflow_referral.domain.policy import load_policy
from painflow_referral.events import EventTarget
from painflow_referral.search import OWNED_TYPES, referral_registry
from painflow_referral.settings import ReferralSettings
from painflow_shared.events.topics import FOLLOWUP_TOPIC, REFERRAL_TOPIC
from painflow_shared.fhir.capability import (
    READS,
    ResourceCapability,
    capability_statement,
    metadata_router,
)
from painflow_shared.fhir.routes import read_router
from painflow_shared.fhir.store import ResourceStore
from painflow_shared.service import ServiceSpec, build_service

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def create_app(settings: ReferralSettings | None = None) -> FastAPI:
    settings = settings or ReferralSettings()
    registry = referral_registry()
    overrides = (
        {} if settings.require_coverage is None else {"require_coverage": settings.require_coverage}
    )
    policy = load_policy(settings.triage_policy_file, overrides)
    remote_policy = settings.remote_policy()
    statement = capability_statement(
        service="referral",
        base_url=settings.public_base_url,
        registry=registry,
        resources=_capabilities(),
        system_interactions=("transaction", "batch"),
    )
    target = EventTarget(
        topic=settings.topic(REFERRAL_TOPIC),
        base_url=settings.public_base_url.rstrip("/"),
        max_event_bytes=settings.max_event_bytes,
    )

    def intake_context(session: Session) -> IntakeContext:
        return IntakeContext(
            session=session,
            store=ResourceStore(session, registry),
            policy=policy,
            events=target,
            remote_policy=remote_policy,
        )

    spec = ServiceSpec(
        title="Painflow referral service",
        migrations_dir=MIGRATIONS,
        registry=registry,
        routers=[metadata_router(statement), api.router, read_router(OWNED_TYPES)],
        subscriptions={FOLLOWUP_TOPIC: followup_handlers(intake_context)},
    )
    app = build_service(settings, spec)
    app.state.session_factory = partial(Session, app.state.runtime.engine, expire_on_commit=False)
    app.state.intake_context = intake_context
    return app


def _capabilities() -> list[ResourceCapability]:
    """Exactly what api.py and the read routes serve."""
    writable = ("create", "update")
    caps = []
    for resource_type in OWNED_TYPES:
        interactions: tuple[str, ...] = READS
        if resource_type in ACCEPTED_TYPES:
            interactions = (*READS, *writable)
        elif resource_type == "Task":
            interactions = (*READS, "update", "patch")
        caps.append(
            ResourceCapability(
                resource_type,
                interactions,
                conditional_create=resource_type in ACCEPTED_TYPES,
                update_create=resource_type in ACCEPTED_TYPES,
            )
        )
    return caps
