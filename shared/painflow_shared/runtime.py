"""What a running service holds: settings, engine, workers, metrics. Built by build_service."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlmodel import Session

from painflow_shared.contracts import EventContracts
from painflow_shared.events.consumer import EventConsumer
from painflow_shared.events.relay import OutboxRelay
from painflow_shared.fhir.errors import NotFound
from painflow_shared.fhir.search_params import SearchParamRegistry
from painflow_shared.observability import ServiceMetrics
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
    metrics: ServiceMetrics = field(default_factory=ServiceMetrics)
    relay: OutboxRelay | None = None
    consumers: list[EventConsumer] = field(default_factory=list)

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
    """A read-only session per request (writes go through the runtime's unit of work)."""
    with Session(get_runtime(request).engine, expire_on_commit=False) as session:
        yield session


RuntimeDep = Annotated[ServiceRuntime, Depends(get_runtime)]
SessionDep = Annotated[Session, Depends(get_session)]
