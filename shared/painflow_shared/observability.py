"""Health and metrics endpoints every service exposes."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import Engine, text

from painflow_shared.settings import SharedSettings


@dataclass
class ServiceMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.http_requests = Counter(
            "painflow_http_requests", "HTTP requests", ["method", "route", "status"], registry=r
        )
        self.http_latency = Histogram(
            "painflow_http_request_seconds", "HTTP request latency", ["method", "route"], registry=r
        )
        self.events_published = Counter(
            "painflow_events_published", "Events acknowledged by Kafka", ["event_type"], registry=r
        )
        self.outbox_pending = Gauge(
            "painflow_outbox_pending", "Outbox rows not yet acknowledged", registry=r
        )
        self.outbox_parked = Gauge(
            "painflow_outbox_parked",
            "Outbox rows the broker can never take, parked until an operator retries them",
            registry=r,
        )
        self.outbox_oldest_pending = Gauge(
            "painflow_outbox_oldest_pending_seconds",
            "Age of the oldest outbox row waiting to be published (0 when none)",
            registry=r,
        )
        self.events_handled = Gauge(
            "painflow_events_handled", "Events handled by this service's consumer", registry=r
        )
        self.events_dead_lettered = Gauge(
            "painflow_events_dead_lettered", "Events sent to a DLQ", registry=r
        )
        self.consumer_retries = Gauge(
            "painflow_consumer_retries", "Handler attempts that failed", registry=r
        )
        self._delivery_metrics(r)

    def _delivery_metrics(self, r: CollectorRegistry) -> None:
        """Relay, consumer and DLQ: what an SRE of a Kafka pipeline looks at first."""
        self.relay_publish_latency = Histogram(
            "painflow_relay_publish_seconds",
            "From the relay's send to the broker's acknowledgement, per event",
            ["event_type"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20),
            registry=r,
        )
        self.consumer_events = Counter(
            "painflow_consumer_events",
            "Events seen by the consumer, by outcome: handled, duplicate, retried, "
            "dead_lettered, skipped (no handler here)",
            ["event_type", "outcome"],
            registry=r,
        )
        self.handler_latency = Histogram(
            "painflow_handler_seconds",
            "Handling one event to a durable outcome (effects and inbox row committed)",
            ["event_type"],
            registry=r,
        )
        self.consumer_lag = Gauge(
            "painflow_consumer_lag",
            "Events on a partition not yet committed by the group (end minus committed offset)",
            ["topic", "partition", "group"],
            registry=r,
        )
        self.dlq_depth = Gauge(
            "painflow_dlq_depth",
            "Records in a dead-letter topic this service's consumer writes to",
            ["topic"],
            registry=r,
        )

    def observe_consumer(self, event_type: str, outcome: str, seconds: float) -> None:
        self.consumer_events.labels(event_type, outcome).inc()
        if outcome in ("handled", "duplicate", "dead_lettered"):  # the event's whole handling
            self.handler_latency.labels(event_type).observe(seconds)

    def observe_publish(self, event_type: str, seconds: float) -> None:
        self.relay_publish_latency.labels(event_type).observe(seconds)


def database_ok(engine: Engine) -> bool:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


def reachable(addresses: str, timeout: float = 2.0) -> bool:
    """Whether any of ``host:port[,host:port...]`` accepts a TCP connection within ``timeout``."""
    for server in addresses.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout):
                return True
        except (OSError, ValueError):
            continue
    return False


def kafka_ok(settings: SharedSettings) -> bool:
    """A broker accepts connections: bounded, so a readiness probe never hangs on a dead one."""
    return reachable(settings.kafka_bootstrap_servers)


Check = Callable[[], str | None]  # None when it passes, else what is wrong, in words


def health_router(
    checks: dict[str, Check], refresh: Callable[[], None], *, metrics: bool = True
) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/health/live")
    def live() -> dict[str, str]:
        return {"status": "pass"}

    @router.get("/health/ready")
    def ready() -> JSONResponse:
        problems = {name: problem for name, check in checks.items() if (problem := check())}
        body: dict[str, object] = {
            "status": "fail" if problems else "pass",
            "checks": {name: "fail" if name in problems else "pass" for name in checks},
        }
        if problems:
            body["problems"] = problems
        return JSONResponse(body, status_code=503 if problems else 200)

    if not metrics:  # off in production unless PAINFLOW_METRICS_ENABLED: see the README
        return router

    @router.get("/metrics")
    def prometheus(request: Request) -> Response:
        refresh()
        registry = request.app.state.metrics.registry
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
