"""The outbox relay: publishes pending outbox rows in order, marks them sent after the ack, and
parks a row the broker can never take.

One relay at a time per database publishes (a PostgreSQL advisory lock elects it among
replicas), in ``seq`` order, so one patient's events reach their partition in the order they
were written. A row is marked sent only once the broker acknowledged it (acks=all).

A failure is retriable or permanent (events/failures.py). A retriable one (broker down, leader
moving, timeout) stops the batch at that row and the rest is tried again later, in order
(at-least-once; the consumers' inbox absorbs a repeat). A permanent one (the record is too
large, or cannot be serialized) parks that row (``parked_at``, ``parked_reason``, a log line,
the ``painflow_outbox_parked`` gauge) and the rows after it go on: per-patient order holds for
everything delivered, and the parked event is missing from it until an operator retries it
(``python -m painflow_shared.events.parked``).

kafka-python refuses a record over ``max_request_size`` in ``send()``, naming that record. A
refusal by the broker arrives on the future instead, and an idempotent producer then fails
every record it has in flight with that same error; so after one, the relay sends the next
batch one record at a time (a careful round) and parks only a record refused while alone.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeAlias

from kafka import KafkaProducer
from kafka.producer.future import FutureRecordMetadata
from opentelemetry import propagate, trace
from opentelemetry.instrumentation.kafka import KafkaInstrumentor
from sqlalchemy import Engine, event, func, update
from sqlmodel import Session, select
from sqlmodel.sql.expression import SelectOfScalar

from painflow_shared.db import is_postgres, session_scope
from painflow_shared.events.failures import describe, is_permanent
from painflow_shared.events.outbox import (
    STAGED_FLAG,
    Backlog,
    OutboxMessage,
    outbox_backlog,
    pending_rows,
)
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
    """The broker did not acknowledge a row; it and the rows after it stay for the next attempt."""


@dataclass
class _Round:
    settled: int = 0  # rows marked sent or parked
    held: bool = False  # a row failed retriably: it and the rest wait
    reset: bool = False  # the broker refused a record: this producer has failed for good
    sent: list[int] = field(default_factory=list)  # seq of each acknowledged row


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
        self._careful = False  # after the broker refused a record: send one at a time
        self._claim_query: SelectOfScalar[OutboxMessage] | None = None
        self.healthy = True  # False while the last attempt to publish failed (readiness says so)
        # (event type, seconds from send to the broker's acknowledgement): a metrics hook
        self.observer: Callable[[str, float], None] = lambda _type, _seconds: None

    def start(self) -> None:
        self._stop.clear()
        self.listen_for_commits()
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

    def listen_for_commits(self) -> None:
        """Wake when a commit staged events in this relay's database (``stop`` undoes it)."""
        if not event.contains(Session, "after_commit", self._on_commit):
            event.listen(Session, "after_commit", self._on_commit)

    def _on_commit(self, session: Session) -> None:
        # Another relay's session keeps its flag: several relays can share one process.
        if session.bind is self.engine and session.info.pop(STAGED_FLAG, False):
            self._wake.set()

    @property
    def wake_pending(self) -> bool:
        """A commit staged events here since the relay last looked (cleared when it wakes)."""
        return self._wake.is_set()

    def relay_once(self) -> int:
        """Publish one batch; returns how many rows were settled (marked sent or parked)."""
        with session_scope(self.engine) as session:
            rows = list(session.exec(self._claim()).all())
            if not rows:  # nothing pending, or another replica's relay holds the lock
                return 0
            producer = self._ensure_producer()
            send = self._one_by_one if self._careful else self._pipelined
            outcome = send(session, producer, rows)
            _mark_sent(session, outcome.sent)
        if outcome.reset:
            self._reset_producer()
        if outcome.held:
            raise DeliveryFailed("an outbox row was not acknowledged; it and the rows after wait")
        return outcome.settled

    def _pipelined(
        self, session: Session, producer: KafkaProducer, rows: list[OutboxMessage]
    ) -> _Round:
        """Send the batch at once; settle each row in order after the flush."""
        acks = self._send_in_order(producer, rows)
        producer.flush(timeout=20)
        outcome = _Round()
        for row, ack in acks:
            error = _failure(ack)
            # a refusal on a future may be another in-flight record's: find out in a careful round
            refused = error is not None and is_permanent(error) and not isinstance(ack, Exception)
            if refused:
                self._careful = outcome.reset = True
            if not self._settle(session, row, error, may_park=not refused):
                outcome.held = True
                break
            outcome.settled += 1
            if error is None:
                outcome.sent.append(row.seq)  # type: ignore[arg-type]
        return outcome

    def _one_by_one(
        self, session: Session, producer: KafkaProducer, rows: list[OutboxMessage]
    ) -> _Round:
        """Send one record at a time, so a refusal can only be that record's."""
        outcome = _Round()
        for row in rows:
            ack = self._send_alone(producer, row)
            error = _failure(ack)
            if not self._settle(session, row, error, may_park=True):
                outcome.held = True
                return outcome
            outcome.settled += 1
            if error is None:
                outcome.sent.append(row.seq)  # type: ignore[arg-type]
            if error is not None and not isinstance(ack, Exception):
                outcome.reset = True  # the broker refused it; the next batch needs a new producer
                break
        self._careful = False
        return outcome

    def _send_in_order(
        self, producer: KafkaProducer, rows: list[OutboxMessage]
    ) -> list[tuple[OutboxMessage, Acknowledgement]]:
        """Send rows in order; a retriable failure at send (no metadata, full buffer) ends it,
        a permanent one (too large, unserializable) never reached the producer's queue."""
        futures: list[tuple[OutboxMessage, Acknowledgement]] = []
        for row in rows:
            try:
                futures.append((row, self._publish(producer, row)))
            except Exception as exc:
                futures.append((row, exc))
                if not is_permanent(exc):
                    break
        return futures

    def _send_alone(self, producer: KafkaProducer, row: OutboxMessage) -> Acknowledgement:
        try:
            future = self._publish(producer, row)
            producer.flush(timeout=20)
            return future
        except Exception as exc:
            return exc

    def pending(self) -> int:
        """Rows waiting to be published (parked rows are not)."""
        return self.backlog().pending

    def backlog(self) -> Backlog:
        with Session(self.engine) as session:
            return outbox_backlog(session)

    def _claim(self) -> SelectOfScalar[OutboxMessage]:
        """The next batch; on PostgreSQL only for the elected relay, in the same round trip: the
        advisory lock is a one-time filter of the query, held until this transaction ends.
        Built once: SQLAlchemy caches a statement's compiled form on the statement itself."""
        if self._claim_query is None:
            query = pending_rows().limit(self.batch_size)
            if is_postgres(self.engine):
                lock = func.pg_try_advisory_xact_lock(_RELAY_LOCK_KEY)
                query = query.where(select(lock).scalar_subquery())
            self._claim_query = query
        return self._claim_query

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
            "painflow.subject": row.headers.get("ce_subject", ""),  # Patient/{id}: an id only
        }
        with tracer.start_as_current_span(
            f"outbox publish {row.event_type}", context=parent, attributes=attributes
        ):
            headers = [(k, v.encode("utf-8")) for k, v in row.headers.items()]
            if not KafkaInstrumentor().is_instrumented_by_opentelemetry:
                carrier: dict[str, str] = {}
                propagate.inject(carrier)
                headers += [(k, v.encode("utf-8")) for k, v in carrier.items()]
            sent = time.perf_counter()
            future = producer.send(
                row.topic,
                key=row.key.encode("utf-8"),
                value=row.payload.encode("utf-8"),
                headers=headers,
            )
            # runs on the producer's I/O thread when the broker acknowledges the record
            future.add_callback(
                lambda _metadata, kind=row.event_type: self.observer(
                    kind, time.perf_counter() - sent
                )
            )
            return future

    def _settle(
        self, session: Session, row: OutboxMessage, error: Exception | None, *, may_park: bool
    ) -> bool:
        """Mark ``row`` parked or failed (``_mark_sent`` marks the acknowledged ones, all in
        one statement); True when the rows after it may go on."""
        if error is None:
            if self.on_published:
                self.on_published(row)
            return True
        reason = describe(error)
        row.attempts += 1
        row.last_error = reason
        if may_park and is_permanent(error):
            row.parked_at, row.parked_reason = utcnow(), reason
            session.add(row)
            log.error(
                "parked outbox event %s (type %s, topic %s): %s; the events after it go on",
                row.event_id,
                row.event_type,
                row.topic,
                reason,
            )
            return True
        session.add(row)
        log.warning("event %s not acknowledged: %s", row.event_id, reason)
        return False


def _mark_sent(session: Session, seqs: list[int]) -> None:
    """The acknowledged rows, sent now: one UPDATE (Core, no ORM flush of each row object)."""
    if seqs:
        table = OutboxMessage.__table__  # type: ignore[attr-defined]
        session.execute(update(table).where(table.c.seq.in_(seqs)).values(sent_at=utcnow()))
