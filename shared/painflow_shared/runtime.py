"""What a running service holds: settings, engine, workers, metrics. Built in create_app."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlmodel import Session

from painflow_shared.contracts import EventContracts
from painflow_shared.events.consumer import EventConsumer
from painflow_shared.events.relay import OutboxRelay
from painflow_shared.fhir.search_params import SearchParamRegistry
from painflow_shared.observability import ServiceMetrics
from painflow_shared.settings import SharedSettings


@dataclass
class ServiceRuntime:
    settings: SharedSettings
    engine: Engine
    registry: SearchParamRegistry
    migrations_dir: Path
    contracts: EventContracts
    metrics: ServiceMetrics = field(default_factory=ServiceMetrics)
    relay: OutboxRelay | None = None
    consumers: list[EventConsumer] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return self.settings.public_base_url.rstrip("/")

    def refresh_metrics(self) -> None:
        if self.relay is not None:
            backlog = self.relay.backlog()
            self.metrics.outbox_pending.set(backlog.pending)
            self.metrics.outbox_parked.set(backlog.parked)
            self.metrics.outbox_oldest_pending.set(backlog.oldest_pending_seconds)
        self.metrics.events_handled.set(sum(c.stats.handled for c in self.consumers))
        self.metrics.events_dead_lettered.set(sum(c.stats.dead_lettered for c in self.consumers))
        self.metrics.consumer_retries.set(sum(c.stats.retries for c in self.consumers))


def get_runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


def get_session(request: Request) -> Iterator[Session]:
    """A unit of work per request: committed by the handler, rolled back on any error."""
    with Session(get_runtime(request).engine, expire_on_commit=False) as session:
        yield session


RuntimeDep = Annotated[ServiceRuntime, Depends(get_runtime)]
SessionDep = Annotated[Session, Depends(get_session)]
