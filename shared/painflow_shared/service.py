"""``build_service``: the wiring every service's ``create_app(settings)`` shares.

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

from fastapi import APIRouter, FastAPI

from painflow_shared.contracts import EventContracts, default_contracts_dir
from painflow_shared.db import make_engine, migrate
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
from painflow_shared.fhir.outcomes import install_error_handlers
from painflow_shared.fhir.routes import read_router
from painflow_shared.fhir.search_params import SearchParamRegistry
from painflow_shared.http_edge import BodyLimit, ErrorBoundary, RequestMetrics, SecurityHeaders
from painflow_shared.observability import database_ok, health_router, kafka_ok
from painflow_shared.runtime import ServiceRuntime
from painflow_shared.settings import SharedSettings
from painflow_shared.telemetry import configure_logging, flush_spans, instrument_app

log = logging.getLogger(__name__)


@dataclass
class ServiceSpec:
    """What makes one service different from another."""

    title: str
    migrations_dir: Path
    registry: SearchParamRegistry
    routers: list[APIRouter]
    subscriptions: dict[str, dict[str, Handler]] = field(
        default_factory=dict
    )  # topic -> type -> handler
    publishes: bool = True


def build_projection_service(
    settings: SharedSettings,
    *,
    title: str,
    migrations_dir: Path,
    registry: SearchParamRegistry,
    owned_types: list[str],
    router: APIRouter,
    subscriptions: dict[str, dict[str, Handler]],
) -> FastAPI:
    """A service that (for now) reads its FHIR types and projects the events it consumes."""
    statement = capability_statement(
        service=settings.service_name,
        base_url=settings.public_base_url,
        registry=registry,
        resources=[ResourceCapability(t) for t in owned_types],
    )
    spec = ServiceSpec(
        title=title,
        migrations_dir=migrations_dir,
        registry=registry,
        routers=[metadata_router(statement), router, read_router(owned_types)],
        subscriptions=subscriptions,
    )
    return build_service(settings, spec)


def build_service(settings: SharedSettings, spec: ServiceSpec) -> FastAPI:
    runtime = ServiceRuntime(
        settings=settings,
        engine=make_engine(settings.database_url),
        registry=spec.registry,
        migrations_dir=spec.migrations_dir,
        contracts=EventContracts(default_contracts_dir()),
    )
    # production serves no /docs, /redoc or /openapi.json: the CapabilityStatement describes
    # the API; nothing advertises it to whoever reaches the port
    hidden = settings.is_production
    app = FastAPI(
        title=spec.title,
        lifespan=_lifespan(runtime, spec),
        docs_url=None if hidden else "/docs",
        redoc_url=None if hidden else "/redoc",
        openapi_url=None if hidden else "/openapi.json",
    )
    app.state.runtime = runtime
    app.state.metrics = runtime.metrics
    install_error_handlers(app)
    _install_middleware(app, runtime)
    for router in spec.routers:
        app.include_router(router)
    checks = {"database": lambda: database_ok(runtime.engine), "kafka": lambda: kafka_ok(settings)}
    app.include_router(
        health_router(checks, runtime.refresh_metrics, metrics=settings.serves_metrics)
    )
    instrument_app(app, runtime.engine, settings)
    return app


def _lifespan(
    runtime: ServiceRuntime, spec: ServiceSpec
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        settings = runtime.settings
        configure_logging(settings)
        if settings.run_migrations:
            migrate(runtime.engine, runtime.migrations_dir)
        if settings.start_background_workers:
            _start_workers(runtime, spec)  # they connect (and create topics) in the background
        log.info("%s ready on %s", settings.service_name, runtime.base_url)
        try:
            yield
        finally:
            _stop_workers(runtime)
            runtime.engine.dispose()
            flush_spans()

    return lifespan


def _start_workers(runtime: ServiceRuntime, spec: ServiceSpec) -> None:
    settings = runtime.settings
    name = settings.service_name
    topics = TopicSetup(settings)
    if spec.publishes:
        runtime.relay = OutboxRelay(
            engine=runtime.engine,
            producer_factory=lambda: make_producer(settings, client_id=f"{name}-relay"),
            poll_seconds=settings.relay_poll_seconds,
            batch_size=settings.relay_batch_size,
            on_published=lambda row: _count_published(runtime, row),
            before_connect=topics.ensure,
        )
        runtime.relay.start()
    for topic, handlers in spec.subscriptions.items():
        real_topic = settings.topic(topic)
        consumer = EventConsumer(
            name=settings.consumer_group,
            engine=runtime.engine,
            consumer_factory=partial(
                make_consumer, settings, real_topic, group_id=settings.consumer_group
            ),
            producer_factory=lambda: make_producer(settings, client_id=f"{name}-dlq"),
            handlers=handlers,
            contracts=runtime.contracts,
            max_attempts=settings.consumer_max_attempts,
            backoff_seconds=settings.consumer_backoff_seconds,
            before_connect=topics.ensure,
        )
        runtime.consumers.append(consumer)
        consumer.start()


def _count_published(runtime: ServiceRuntime, row: OutboxMessage) -> None:
    runtime.metrics.events_published.labels(row.event_type).inc()


def _stop_workers(runtime: ServiceRuntime) -> None:
    for consumer in runtime.consumers:
        consumer.stop()
    runtime.consumers.clear()
    if runtime.relay is not None:
        runtime.relay.stop()
        runtime.relay = None


def _install_middleware(app: FastAPI, runtime: ServiceRuntime) -> None:
    """The last added is the outermost: see ``http_edge`` for the order and the reasons."""
    app.add_middleware(ErrorBoundary)
    app.add_middleware(BodyLimit, limit=runtime.settings.max_body_bytes)
    app.add_middleware(RequestMetrics, metrics=runtime.metrics)
    app.add_middleware(SecurityHeaders)
