"""create_app(settings): the referral service wired, with no work done at import."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI

from painflow_referral import api
from painflow_referral.bundle_plan import ACCEPTED_TYPES
from painflow_referral.domain.policy import policy_from_data
from painflow_referral.handlers import ReferralHandlers
from painflow_referral.policies import triage_document
from painflow_referral.remote import RemoteFhir
from painflow_referral.search import OWNED_TYPES, referral_registry
from painflow_referral.settings import ReferralSettings
from painflow_shared.fhir.capability import READS, ResourceCapability
from painflow_shared.fhir.remote_client import RemoteFhirClient
from painflow_shared.service import ServiceDeclaration, build_service

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def create_app(settings: ReferralSettings | None = None) -> FastAPI:
    settings = settings or ReferralSettings()
    triage = triage_document(settings)  # read once: what the triage reads is what is served
    declaration = ServiceDeclaration(
        title="Painflow referral service",
        migrations_dir=MIGRATIONS,
        registry=referral_registry(),
        resources=_capabilities(),
        system_interactions=("transaction", "batch"),
        routers=[api.router],
        policies={"triage": triage},
    )
    app = build_service(settings, declaration)
    handlers = _handlers(settings, app, triage)
    declaration.subscriptions.update(handlers.subscriptions())
    app.state.referral = handlers
    return app


def _handlers(settings: ReferralSettings, app: FastAPI, triage: dict[str, Any]) -> ReferralHandlers:
    remote_policy = settings.remote_policy()
    client = RemoteFhirClient(
        policy=remote_policy,
        max_bytes=settings.max_body_bytes,
        timeout_seconds=settings.fetch_timeout_seconds,
        attempts=settings.fetch_attempts,
    )
    return ReferralHandlers(
        units=app.state.runtime.units,
        policy=policy_from_data(triage),
        remote_policy=remote_policy,
        remote=RemoteFhir(client),
    )


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
