"""``build_service``: the one builder behind every service's ``create_app(settings)``.

A service is its domain, its handlers, its policy files and a ``ServiceDeclaration``.

Lifespan: JSON logging, tracing, Alembic migrations, topics, then the outbox relay and the
consumers; all of it stops cleanly on shutdown. Nothing here runs at import.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI

from painflow_shared.audit.records import AuditRecorder
from painflow_shared.audit.routes import audit_router, with_audit_capabilities
from painflow_shared.auth.guard import Authenticator, authorize, make_authenticator
from painflow_shared.auth.smart import smart_router
from painflow_shared.contracts import EventContracts
from painflow_shared.db import make_engine, migrate
from painflow_shared.events.batch import Preload
from painflow_shared.events.clients import make_consumer, make_producer
from painflow_shared.events.consumer import EventConsumer, Handler
from painflow_shared.events.outbox import OutboxMessage
from painflow_shared.events.relay import OutboxRelay
from painflow_shared.events.topics import TopicSetup
from painflow_shared.fhir.capability import (
    ResourceCapability,
    capability_statement,
    metadata_router,
)
from painflow_shared.fhir.negotiation import negotiated
from painflow_shared.fhir.outcomes import install_error_handlers
from painflow_shared.fhir.routes import read_router
from painflow_shared.fhir.search_params import SearchParamRegistry
from painflow_shared.http_edge import BodyLimit, ErrorBoundary, RequestMetrics, SecurityHeaders
from painflow_shared.observability import health_router
from painflow_shared.policy_documents import policies_router
from painflow_shared.runtime import ServiceRuntime
from painflow_shared.settings import SharedSettings
from painflow_shared.telemetry import configure_logging, flush_spans, instrument_app
from painflow_shared.unit_of_work import EventSource, UnitOfWorkFactory

log = logging.getLogger(__name__)


@dataclass
class ServiceDeclaration:
    """Everything that makes one service different from another, said once.

    The CapabilityStatement, the read routes and the write checks (``ServiceRuntime.require``)
    all come from ``resources``; ``routers`` hold the service's own writes and operations;
    ``subscriptions`` map a topic to its event handlers (each takes a UnitOfWork and the event).
    """

    title: str
    migrations_dir: Path
    registry: SearchParamRegistry
    resources: list[ResourceCapability]
    routers: list[APIRouter] = field(default_factory=list)
    subscriptions: dict[str, dict[str, Handler]] = field(default_factory=dict)
    # the rows a polled batch's handlers will look up, read in one query per table first
    preload: Preload | None = None
    system_interactions: tuple[str, ...] = ()
    publishes: bool = True
    # the clinical policy documents the service runs with, by name: GET /policies/{name}
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)

    def readable_types(self) -> list[str]:
        return [r.type for r in self.resources if "read" in r.interactions]


def build_service(settings: SharedSettings, declaration: ServiceDeclaration) -> FastAPI:
    """The one builder: a FastAPI app with the runtime, the routes and the workers declared."""
    engine = make_engine(settings.database_url)
    runtime = ServiceRuntime(
        settings=settings,
        engine=engine,
        declaration=declaration,
        contracts=EventContracts(settings.contracts_path()),
        units=UnitOfWorkFactory(engine, declaration.registry, event_source(settings)),
        authenticator=authenticator(settings),
    )
    # production serves no /docs, /redoc or /openapi.json: the CapabilityStatement describes
    # the API; nothing advertises it to whoever reaches the port
    hidden = settings.is_production
    app = FastAPI(
        title=declaration.title,
        lifespan=_lifespan(runtime, declaration),
        docs_url=None if hidden else "/docs",
        redoc_url=None if hidden else "/redoc",
        openapi_url=None if hidden else "/openapi.json",
    )
    app.state.runtime = runtime
    app.state.metrics = runtime.metrics
    install_error_handlers(app)
    _install_middleware(app, runtime)
    for router in _open_routers(settings, declaration, runtime.authenticator):
        app.include_router(router, dependencies=[Depends(negotiated)])
    # the audit's routes first: /fhir/AuditEvent is not the generic /fhir/{resource_type}
    for router in [
        audit_router(declaration.readable_types()),
        *declaration.routers,
        read_router(declaration.readable_types()),
    ]:
        # every route refuses, before any work, a _format or Accept it cannot answer (406),
        # then a caller without a trusted token (401) or the scopes the route needs (403)
        app.include_router(router, dependencies=[Depends(negotiated), Depends(authorize)])
    if declaration.policies:
        app.include_router(policies_router(declaration.policies))
    checks = runtime.readiness_checks()
    app.include_router(
        health_router(checks, runtime.refresh_metrics, metrics=settings.serves_metrics)
    )
    instrument_app(app, runtime.engine, settings)
    return app


def event_source(settings: SharedSettings) -> EventSource:
    return EventSource(
        service=settings.service_name,
        base_url=settings.public_base_url.rstrip("/"),
        topic_prefix=settings.topic_prefix,
        max_event_bytes=settings.max_event_bytes,
    )


def authenticator(settings: SharedSettings) -> Authenticator:
    audiences = (settings.auth_audience, settings.public_base_url.rstrip("/"))
    return make_authenticator(
        settings.auth_issuer,
        audiences,
        disabled=settings.auth_disabled,
        rate_limit=settings.rate_limit,
    )


def _open_routers(
    settings: SharedSettings, declaration: ServiceDeclaration, auth: Authenticator
) -> list[APIRouter]:
    """What anyone may read: the CapabilityStatement and the SMART configuration."""
    statement = with_audit_capabilities(
        capability_statement(
            service=settings.service_name,
            base_url=settings.public_base_url,
            registry=declaration.registry,
            resources=declaration.resources,
            system_interactions=declaration.system_interactions,
        )
    )
    return [metadata_router(statement, auth.endpoints), smart_router(auth)]


def _lifespan(
    runtime: ServiceRuntime, declaration: ServiceDeclaration
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        settings = runtime.settings
        configure_logging(settings)
        if settings.run_migrations:
            migrate(runtime.engine, declaration.migrations_dir)
        if settings.start_background_workers:
            _start_workers(
                runtime, declaration
            )  # they connect (and create topics) in the background
        log.info("%s ready on %s", settings.service_name, runtime.base_url)
        try:
            yield
        finally:
            _stop_workers(runtime)
            runtime.engine.dispose()
            flush_spans()

    return lifespan


def _start_workers(runtime: ServiceRuntime, declaration: ServiceDeclaration) -> None:
    settings = runtime.settings
    name = settings.service_name
    topics = TopicSetup(settings)
    if declaration.publishes:
        runtime.relay = OutboxRelay(
            engine=runtime.engine,
            producer_factory=lambda: make_producer(settings, client_id=f"{name}-relay"),
            poll_seconds=settings.relay_poll_seconds,
            batch_size=settings.relay_batch_size,
            on_published=lambda row: _count_published(runtime, row),
            before_connect=topics.ensure,
        )
        runtime.watch_relay(runtime.relay)
        runtime.relay.start()
    if not declaration.subscriptions:
        return
    # one member of the service's group for all its topics: one rebalance, one poll loop
    real_topics = [settings.topic(topic) for topic in declaration.subscriptions]
    handlers = {t: h for table in declaration.subscriptions.values() for t, h in table.items()}
    consumer = EventConsumer(
        name=settings.consumer_group,
        units=runtime.units,
        consumer_factory=partial(
            make_consumer, settings, *real_topics, group_id=settings.consumer_group
        ),
        producer_factory=lambda: make_producer(settings, client_id=f"{name}-dlq"),
        handlers=handlers,
        contracts=runtime.contracts,
        max_attempts=settings.consumer_max_attempts,
        backoff_seconds=settings.consumer_backoff_seconds,
        before_connect=topics.ensure,
        preload=declaration.preload,
        linger_seconds=settings.consumer_linger_ms / 1000,
    )
    runtime.consumers.append(consumer)
    runtime.watch_consumer(consumer, real_topics)
    consumer.start()


def _count_published(runtime: ServiceRuntime, row: OutboxMessage) -> None:
    runtime.metrics.events_published.labels(row.event_type).inc()


def _stop_workers(runtime: ServiceRuntime) -> None:
    for consumer in runtime.consumers:
        consumer.stop()
    runtime.consumers.clear()
    runtime.stop_watching()
    if runtime.relay is not None:
        runtime.relay.stop()
        runtime.relay = None


def _install_middleware(app: FastAPI, runtime: ServiceRuntime) -> None:
    """The last added is the outermost: see ``http_edge`` for the order and the reasons."""
    app.add_middleware(ErrorBoundary)
    app.add_middleware(AuditRecorder, engine=runtime.engine)  # sees ErrorBoundary's 500 too
    app.add_middleware(BodyLimit, limit=runtime.settings.max_body_bytes)
    app.add_middleware(RequestMetrics, metrics=runtime.metrics)
    app.add_middleware(SecurityHeaders)
