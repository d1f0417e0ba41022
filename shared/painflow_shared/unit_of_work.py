"""The unit of work every handler takes: one database transaction, its resource store, and the
events the handler records, staged in the outbox when (and only when) the work commits.

Handlers never see the web framework or the broker: a route or a consumer opens a unit of work
through the service runtime's ``UnitOfWorkFactory`` (``run`` for a command, ``begin`` for an
event), the handler loads, decides, saves and records events with ``publish``, and the factory
commits it all together. The topic comes from the event type (``events.types.topic_of``).

A unique-key race with a concurrent writer (the same referral posted twice at once) is retried
once, when the winner's rows are visible; a handler that sees such a race itself raises
``ConcurrentWrite``. A second loss is a 409.

Tests build a factory on an in-memory SQLite database (``in_memory_units``), so handlers get fast
unit tests without PostgreSQL or Kafka, through the very code production runs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from opentelemetry import context as otel_context
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from painflow_shared import staged_inserts
from painflow_shared.audit.records import stage_write_audit
from painflow_shared.disconnect import stop_if_cancelled
from painflow_shared.events.envelope import Envelope, build_event
from painflow_shared.events.limits import MAX_EVENT_BYTES
from painflow_shared.events.outbox import record_event
from painflow_shared.events.types import topic_of
from painflow_shared.fhir.errors import Conflict
from painflow_shared.fhir.search_params import SearchParamRegistry
from painflow_shared.fhir.store import ResourceStore
from painflow_shared.rows import StagedRows

T = TypeVar("T")
M = TypeVar("M")


class ConcurrentWrite(Conflict):
    """A concurrent request wrote what this one was about to: worth one more try."""


@dataclass(frozen=True)
class EventSource:
    """Who publishes: the service's name, its FHIR base (for fullUrls), its topic prefix and the
    largest event it may stage."""

    service: str
    base_url: str
    topic_prefix: str = ""
    max_event_bytes: int = MAX_EVENT_BYTES


@dataclass
class UnitOfWork:
    session: Session
    store: ResourceStore
    source: EventSource
    events: list[Envelope] = field(default_factory=list)
    # the trace context each event was published in (its outbox row carries it): a consumer's
    # batch commits many events at once, each caused by its own consumed event's span
    _published_in: dict[str, otel_context.Context] = field(default_factory=dict, repr=False)
    _rows: StagedRows = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rows = StagedRows(self.session)

    def get(self, model: type[M], key: Any) -> M | None:
        """The ``model`` row with primary key ``key`` as this unit of work sees it, the rows it
        added and has not flushed yet included, without flushing them: a consumer's batch keeps
        every event's rows staged until its commit (one statement for them all), where
        ``Session.get`` would flush what the events before it staged."""
        return self._rows.get(model, key)

    def load(self, model: type[Any], keys: Iterable[Any]) -> None:
        """Read these ``model`` rows in one query (without flushing), so that ``get`` of any of
        them next costs no statement, whether it is stored or not."""
        self._rows.load(model, keys)

    def publish(
        self,
        event_type: str,
        *,
        patient_id: str,
        focus: list[dict[str, Any]],
        include: list[dict[str, Any]] | None = None,
    ) -> Envelope:
        """Record an event; it reaches the outbox with the commit, on its type's topic."""
        envelope = build_event(
            event_type=event_type,
            service=self.source.service,
            base_url=self.source.base_url,
            patient_id=patient_id,
            focus=focus,
            include=include or [],
        )
        self.events.append(envelope)
        self._published_in[envelope.id] = otel_context.get_current()
        return envelope

    def commit(self) -> None:
        """Stage the recorded events in the outbox (413 if one is too big) and, during a
        request, its audit (AuditEvent and Provenances), write every row this unit of work
        inserts in one statement (``staged_inserts``), then commit it all."""
        for envelope in self.events:
            topic = f"{self.source.topic_prefix}{topic_of(envelope.type)}"
            published_in = self._published_in.get(envelope.id, otel_context.get_current())
            token = otel_context.attach(published_in)
            try:
                record_event(self.session, topic, envelope, max_bytes=self.source.max_event_bytes)
            finally:
                otel_context.detach(token)
        self.events.clear()
        self._published_in.clear()
        audited = stage_write_audit(self.session, self.store.written())
        staged_inserts.write(self.session)  # every row it inserts, in one statement
        self.session.commit()
        if audited is not None:
            audited.committed = True


@dataclass
class HandlerContext:
    """What every handler works with: its unit of work. A service's context adds its own
    dependencies (policies, settings, a clock) as further fields."""

    uow: UnitOfWork

    @property
    def session(self) -> Session:
        return self.uow.session

    @property
    def store(self) -> ResourceStore:
        return self.uow.store


@dataclass(frozen=True)
class UnitOfWorkFactory:
    engine: Engine
    registry: SearchParamRegistry
    source: EventSource

    @contextmanager
    def begin(self, cancelled: threading.Event | None = None) -> Iterator[UnitOfWork]:
        """A unit of work that commits when the block ends cleanly and rolls back otherwise;
        if ``cancelled`` is set by then (the client left), nothing commits."""
        with Session(self.engine, expire_on_commit=False) as session:
            uow = UnitOfWork(session, ResourceStore(session, self.registry), self.source)
            try:
                yield uow
                stop_if_cancelled(cancelled, "before commit")
                uow.commit()
            except BaseException:
                session.rollback()
                raise

    def run(self, work: Callable[[UnitOfWork], T], cancelled: threading.Event | None = None) -> T:
        """Run ``work`` in a unit of work; a write race is retried once, then a 409."""
        for attempt in (1, 2):
            try:
                with self.begin(cancelled) as uow:
                    return work(uow)
            except (IntegrityError, ConcurrentWrite) as exc:
                if attempt == 2:
                    if isinstance(exc, ConcurrentWrite):
                        raise
                    raise Conflict(
                        "a concurrent request changed the same resources; try again"
                    ) from exc
        raise AssertionError("unreachable")


def in_memory_units(
    migrations_dir: Path, registry: SearchParamRegistry, source: EventSource
) -> UnitOfWorkFactory:
    """A factory over a fresh in-memory SQLite database with a service's migrations applied."""
    from sqlalchemy.pool import StaticPool
    from sqlmodel import create_engine

    from painflow_shared.db import migrate

    engine = create_engine(
        "sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool
    )
    migrate(engine, migrations_dir)
    return UnitOfWorkFactory(engine, registry, source)
