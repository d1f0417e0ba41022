"""What a running service holds: settings, engine, workers, metrics. Built by build_service."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlmodel import Session

from painflow_shared.auth.guard import Authenticator
from painflow_shared.contracts import EventContracts
from painflow_shared.events.consumer import EventConsumer
from painflow_shared.events.lag import LAG_THRESHOLD, LagMonitor
from painflow_shared.events.relay import OutboxRelay
from painflow_shared.fhir.errors import NotFound
from painflow_shared.fhir.search_params import SearchParamRegistry
from painflow_shared.observability import Check, ServiceMetrics, database_ok, kafka_ok
from painflow_shared.settings import SharedSettings
from painflow_shared.unit_of_work import UnitOfWorkFactory

if TYPE_CHECKING:
    from painflow_shared.service import ServiceDeclaration


@dataclass
class ServiceRuntime:
    """What a running service holds: its settings, engine, declaration, the unit-of-work factory
    its handlers run in, and its workers."""

    settings: SharedSettings
    engine: Engine
    declaration: ServiceDeclaration
    contracts: EventContracts
    units: UnitOfWorkFactory
    authenticator: Authenticator
    metrics: ServiceMetrics = field(default_factory=ServiceMetrics)
    relay: OutboxRelay | None = None
    consumers: list[EventConsumer] = field(default_factory=list)
    lag: LagMonitor | None = None
    # A consumer joining its group gets partitions within seconds; past this, readiness fails.
    consumer_grace_seconds: float = 60.0
    lag_threshold: int = LAG_THRESHOLD

    @property
    def base_url(self) -> str:
        return self.settings.public_base_url.rstrip("/")

    @property
    def registry(self) -> SearchParamRegistry:
        return self.declaration.registry

    def require(self, resource_type: str, interaction: str) -> None:
        """A 404 unless the declaration says this service offers ``interaction`` on the type."""
        for capability in self.declaration.resources:
            if capability.type == resource_type and interaction in capability.interactions:
                return
        raise NotFound(
            f"{interaction} of {resource_type} is not supported here; see /fhir/metadata"
        )

    def watch_relay(self, relay: OutboxRelay) -> None:
        """Count the relay's publish latency (it is started by build_service)."""
        relay.observer = self.metrics.observe_publish

    def watch_consumer(self, consumer: EventConsumer, topics: list[str]) -> None:
        """Count the consumer's outcomes and latency, and sample its group's lag."""
        consumer.observer = self.metrics.observe_consumer
        if self.lag is None:
            self.lag = LagMonitor(self.settings, consumer.name, topics)

    def stop_watching(self) -> None:
        if self.lag is not None:
            self.lag.close()
            self.lag = None

    def refresh_metrics(self) -> None:
        if self.relay is not None:
            backlog = self.relay.backlog()
            self.metrics.outbox_pending.set(backlog.pending)
            self.metrics.outbox_parked.set(backlog.parked)
            self.metrics.outbox_oldest_pending.set(backlog.oldest_pending_seconds)
        self.metrics.events_handled.set(sum(c.stats.handled for c in self.consumers))
        self.metrics.events_dead_lettered.set(sum(c.stats.dead_lettered for c in self.consumers))
        self.metrics.consumer_retries.set(sum(c.stats.retries for c in self.consumers))
        sample = self.lag.latest() if self.lag is not None else None
        if sample is not None and self.lag is not None:
            for tp, behind in sample.lag.items():
                self.metrics.consumer_lag.labels(tp.topic, str(tp.partition), self.lag.group).set(
                    behind
                )
            for topic, depth in sample.dlq_depth.items():
                self.metrics.dlq_depth.labels(topic).set(depth)

    def readiness_checks(self) -> dict[str, Check]:
        """What /health/ready checks: each answers None, or what is wrong in words."""
        settings = self.settings
        broker = settings.kafka_bootstrap_servers
        checks: dict[str, Check] = {
            "database": lambda: (
                None if database_ok(self.engine) else "the database does not answer"
            ),
            "kafka": lambda: (
                None if kafka_ok(settings) else f"no Kafka broker accepts connections at {broker}"
            ),
        }
        if settings.start_background_workers and self.declaration.publishes:
            checks["relay"] = self._relay_problem
        if settings.start_background_workers:  # subscriptions are declared after the build
            checks["consumer"] = self._consumer_problem
        return checks

    def _relay_problem(self) -> str | None:
        if self.relay is None or self.relay.healthy:
            return None
        return "the outbox relay's last attempt to publish failed (is the broker reachable?)"

    def _consumer_problem(self) -> str | None:
        for consumer in self.consumers:
            if not consumer.running:
                return f"the consumer of group {consumer.name} is stopped"
            waited = time.monotonic() - consumer.started_at
            if not consumer.assigned and waited > self.consumer_grace_seconds:
                return (
                    f"the consumer of group {consumer.name} has no partitions assigned "
                    f"after {waited:.0f} s"
                )
        # without a broker the kafka check speaks; asking for offsets would only wait
        if self.lag is None or not kafka_ok(self.settings):
            return None
        if self.lag.growing(self.lag_threshold):
            latest = self.lag.latest()
            behind = latest.total if latest is not None else "many"
            return f"consumer lag keeps growing: {behind} events behind"
        return None


async def get_runtime(request: Request) -> ServiceRuntime:
    """The route dependency (async: a plain ``def`` one costs a thread hand-off per request)."""
    return _runtime(request)


def _runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


def get_session(request: Request) -> Iterator[Session]:
    """A read-only session per request (writes go through the runtime's unit of work)."""
    with Session(_runtime(request).engine, expire_on_commit=False) as session:
        yield session


RuntimeDep = Annotated[ServiceRuntime, Depends(get_runtime)]
SessionDep = Annotated[Session, Depends(get_session)]
