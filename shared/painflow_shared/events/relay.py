"""The outbox relay: publishes unsent outbox rows in order and marks them sent after the ack.

One relay at a time per database publishes (a PostgreSQL advisory lock elects it among
replicas), in ``seq`` order, so one patient's events reach their partition in the order they
were written. A row is marked sent only once the broker acknowledged it (acks=all); on a failure
the batch stops at that row and the rest is tried again later, in order (at-least-once; the
consumers' inbox absorbs a repeat).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeAlias

from kafka import KafkaProducer
from kafka.producer.future import FutureRecordMetadata
from opentelemetry import propagate, trace
from opentelemetry.instrumentation.kafka import KafkaInstrumentor
from sqlalchemy import Engine, event, func, text
from sqlmodel import Session, col, select

from painflow_shared.db import is_postgres, session_scope
from painflow_shared.events.outbox import STAGED_FLAG, OutboxMessage
from painflow_shared.fhir.dates import utcnow

log = logging.getLogger(__name__)
tracer = trace.get_tracer("painflow.outbox")
_RELAY_LOCK_KEY = 0x7061696E  # "pain": one advisory lock per service database


Acknowledgement: TypeAlias = FutureRecordMetadata | Exception  # what a send gave back


def _failure(future: Acknowledgement) -> Exception | None:
    if isinstance(future, Exception):
        return future
    if not future.is_done:
        return TimeoutError("no acknowledgement")
    error = future.exception
    return error if isinstance(error, Exception) else None


class DeliveryFailed(RuntimeError):
    """The broker did not acknowledge a batch; the unsent rows stay for the next attempt."""


class OutboxRelay:
    def __init__(
        self,
        *,
        engine: Engine,
        producer_factory: Callable[[], KafkaProducer],
        poll_seconds: float = 0.05,
        batch_size: int = 200,
        on_published: Callable[[OutboxMessage], None] | None = None,
        before_connect: Callable[[], None] = lambda: None,
        idle_seconds: float = 1.0,
    ) -> None:
        self.engine = engine
        self.producer_factory = producer_factory
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.on_published = on_published
        self.before_connect = before_connect  # e.g. make sure the topics exist
        self._producer: KafkaProducer | None = None
        self.idle_seconds = idle_seconds
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.healthy = True

    def start(self) -> None:
        self._stop.clear()
        event.listen(Session, "after_commit", self._on_commit)
        self._thread = threading.Thread(target=self._run, name="outbox-relay", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if event.contains(Session, "after_commit", self._on_commit):
            event.remove(Session, "after_commit", self._on_commit)
        if self._thread:
            self._thread.join(timeout=30)
        if self._producer is not None:
            self._producer.close(timeout=5)
            self._producer = None

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                published = self.relay_once()
                failures, self.healthy = 0, True
            except Exception:
                failures += 1
                self.healthy = False
                log.warning("outbox relay failed (attempt %d); will retry", failures, exc_info=True)
                self._reset_producer()
                published = 0
            if published == 0:
                # woken by a commit that staged events here; polling covers other replicas
                delay = self.idle_seconds if failures == 0 else self.poll_seconds * 2**failures
                self._wake.wait(min(delay, 5.0))
                self._wake.clear()

    def _on_commit(self, session: Session) -> None:
        if session.info.pop(STAGED_FLAG, False) and session.bind is self.engine:
            self._wake.set()

    def relay_once(self) -> int:
        """Publish one batch; returns how many rows were marked sent."""
        with session_scope(self.engine) as session:
            if not self._elected(session):
                return 0
            rows = session.exec(
                select(OutboxMessage)
                .where(col(OutboxMessage.sent_at).is_(None))
                .order_by(col(OutboxMessage.seq))
                .limit(self.batch_size)
            ).all()
            if not rows:
                return 0
            producer = self._ensure_producer()
            futures = self._send_in_order(producer, list(rows))
            producer.flush(timeout=20)
            sent = self._mark_acknowledged(session, futures)
        if sent < len(rows):
            raise DeliveryFailed(f"{len(rows) - sent} outbox rows were not acknowledged")
        return sent

    def _send_in_order(
        self, producer: KafkaProducer, rows: list[OutboxMessage]
    ) -> list[tuple[OutboxMessage, Acknowledgement]]:
        """Send rows in order; a send that fails at once (no metadata, full buffer) ends it."""
        futures: list[tuple[OutboxMessage, Acknowledgement]] = []
        for row in rows:
            try:
                futures.append((row, self._publish(producer, row)))
            except Exception as exc:
                futures.append((row, exc))
                break
        return futures

    def pending(self) -> int:
        with Session(self.engine) as session:
            count = session.exec(
                select(func.count())
                .select_from(OutboxMessage)
                .where(col(OutboxMessage.sent_at).is_(None))
            ).one()
            return int(count)

    def _elected(self, session: Session) -> bool:
        if not is_postgres(self.engine):
            return True
        return bool(
            session.execute(
                text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _RELAY_LOCK_KEY}
            ).scalar()
        )

    def _ensure_producer(self) -> KafkaProducer:
        if self._producer is None:
            self.before_connect()
            self._producer = self.producer_factory()
        return self._producer

    def _reset_producer(self) -> None:
        if self._producer is not None:
            try:
                self._producer.close(timeout=1)
            except Exception:  # a broken producer may fail to close; it is dropped either way
                log.debug("closing a failed producer", exc_info=True)
            self._producer = None

    def _publish(self, producer: KafkaProducer, row: OutboxMessage) -> FutureRecordMetadata:
        parent = propagate.extract(row.trace_carrier)
        attributes = {
            "messaging.system": "kafka",
            "messaging.destination.name": row.topic,
            "messaging.message.id": row.event_id,
            "painflow.event_type": row.event_type,
        }
        with tracer.start_as_current_span(
            f"outbox publish {row.event_type}", context=parent, attributes=attributes
        ):
            headers = [(k, v.encode("utf-8")) for k, v in row.headers.items()]
            if not KafkaInstrumentor().is_instrumented_by_opentelemetry:
                carrier: dict[str, str] = {}
                propagate.inject(carrier)
                headers += [(k, v.encode("utf-8")) for k, v in carrier.items()]
            return producer.send(
                row.topic,
                key=row.key.encode("utf-8"),
                value=row.payload.encode("utf-8"),
                headers=headers,
            )

    def _mark_acknowledged(
        self, session: Session, futures: list[tuple[OutboxMessage, Acknowledgement]]
    ) -> int:
        sent = 0
        for row, future in futures:
            error = _failure(future)
            if error is not None:
                row.attempts += 1
                row.last_error = f"{type(error).__name__}: {error}"[:2000]
                session.add(row)
                log.warning("event %s not acknowledged: %s", row.event_id, row.last_error)
                break
            row.sent_at = utcnow()
            session.add(row)
            sent += 1
            if self.on_published:
                self.on_published(row)
        return sent
