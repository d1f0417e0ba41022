"""The consumer loop: a polled batch in one transaction (effects, outbox and inbox rows), then
the offsets; if any event of the batch fails, its events one at a time, each as below.

- poison (unparseable, fails its contract) -> ``<topic>.dlq`` with the reason in headers, move on;
- a valid event of a type this consumer has no handler for is acknowledged without effect
  (adding an event type to a topic is a compatible change);
- a handler's failure is classified (``classify_failure``): a permanent one (the handler refused
  the event: PoisonMessage, ContractViolation, a FHIR error below 500, or a bug that would fail the
  same way again) is dead-lettered at once with its reason; only infrastructure errors (database,
  broker, network, a remote server) are retried with exponential backoff, and after
  ``max_attempts`` the event goes to the DLQ too, so one bad event never blocks a partition;
- the offset is committed only after the effects (or the DLQ write) are durable;
- a batch's events are handled in order (per-patient order holds: a patient's events share a
  partition) and each gets one effect, through the inbox, in the batch or alone (events/batch.py);
- each event gets a processing span whose parent is the producer's span (from ``traceparent``).
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kafka import KafkaConsumer, KafkaProducer
from kafka.consumer.fetcher import ConsumerRecord
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from painflow_shared.contracts import ContractViolation, EventContracts
from painflow_shared.events.batch import (
    Admitted,
    Preload,
    apply_batch,
    elapsed,
    inbox_row,
    next_offsets,
)
from painflow_shared.events.envelope import Envelope, PoisonMessage, decode_headers, parse_record
from painflow_shared.events.handler_failures import (
    TRANSIENT_ERRORS,
    classify_failure,
    describe_failure,
)
from painflow_shared.events.inbox import claim
from painflow_shared.events.topics import dlq_topic
from painflow_shared.events.types import ALL_EVENT_TYPES

if TYPE_CHECKING:
    from painflow_shared.unit_of_work import UnitOfWork, UnitOfWorkFactory

__all__ = ["TRANSIENT_ERRORS", "ConsumerStats", "EventConsumer", "classify_failure"]

log = logging.getLogger(__name__)
tracer = trace.get_tracer("painflow.consumer")

Handler = Callable[["UnitOfWork", Envelope], None]  # effects and events in one transaction
# (event type, outcome, seconds): handled, duplicate, retried, dead_lettered or skipped
Observer = Callable[[str, str, float], None]
_EVENT_TYPE = re.compile(r"^painflow\.[a-z]+\.[a-z-]+$")
UNASSIGNED_LIMIT_SECONDS = 15.0  # see EventConsumer._stuck_unassigned
POLL_TIMEOUT_MS = 200  # poll blocks this long for records: an idle consumer waits, not spins
# kafka-python 3.0.12 sometimes loses its heartbeat schedule after joining a group: its next
# heartbeat stays "due now", so poll() fetches with a zero wait in a loop and one idle consumer
# burns a whole core, between the polling thread and the client's I/O thread (seen right after
# start, in about one bench start in four). Empty polls that keep those two threads this busy
# mean that state; a new consumer (a rejoin) leaves it.
SPINNING_CPU_SHARE = 0.5
SPINNING_POLLS = 3


@dataclass
class ConsumerStats:
    handled: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    retries: int = 0
    skipped: int = 0


class EventConsumer:
    def __init__(
        self,
        *,
        name: str,
        units: UnitOfWorkFactory,
        consumer_factory: Callable[[], KafkaConsumer],
        producer_factory: Callable[[], KafkaProducer],
        handlers: dict[str, Handler],
        contracts: EventContracts | None = None,
        max_attempts: int = 5,
        backoff_seconds: float = 0.2,
        before_connect: Callable[[], None] = lambda: None,
        preload: Preload | None = None,
        linger_seconds: float = 0.0,
    ) -> None:
        self.name = name
        # after a batch that did not fill a poll, wait this long before polling again, so that
        # under load the next batch gathers more events (one transaction, one preload, one
        # offset commit each); an event that arrives at an idle consumer still goes at once
        self.linger_seconds = linger_seconds
        self.preload = preload  # a batch's look-ups in one query per table (events/batch.py)
        self.units = units
        self.consumer_factory = consumer_factory
        self.producer_factory = producer_factory
        self.handlers = handlers
        self.contracts = contracts
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.before_connect = before_connect  # e.g. make sure the topics exist
        self.stats = ConsumerStats()
        self.healthy = True
        self._assigned = False
        self._forced_rejoin = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._dlq: KafkaProducer | None = None
        self.observer: Observer = lambda _type, _outcome, _seconds: None  # metrics hook
        self.started_at = time.monotonic()

    def start(self) -> None:
        self._stop.clear()
        self.started_at = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"consumer-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=30)
        if self._dlq is not None:
            self._dlq.close(timeout=5)
            self._dlq = None

    def _run(self) -> None:
        while not self._stop.is_set():
            consumer = None
            try:
                self.before_connect()
                consumer = self.consumer_factory()
                self.healthy = True
                self._drain(consumer)
            except Exception:
                self.healthy = False
                log.warning("consumer %s failed; reconnecting", self.name, exc_info=True)
                self._stop.wait(2.0)
            finally:
                self._assigned = False  # a closed consumer listens to nothing
                if consumer is not None:
                    consumer.close(autocommit=False)

    def _stuck_unassigned(self, consumer: KafkaConsumer, started: float) -> bool:
        """Joined before the topic's metadata reached us, and no rebalance followed.

        Seen right after a broker restart. Rejoining once fixes it; a member that has nothing
        because the group has more members than partitions must not churn, hence only once.
        """
        if self._assigned or self._forced_rejoin:
            return False
        if time.monotonic() - started < UNASSIGNED_LIMIT_SECONDS:
            return False
        return any(consumer.partitions_for_topic(t) for t in consumer.subscription() or ())

    @property
    def assigned(self) -> bool:
        """Whether the group gave this consumer partitions (it is really listening)."""
        return self._assigned

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def _drain(self, consumer: KafkaConsumer) -> None:
        started = time.monotonic()
        spinning = 0  # empty polls in a row that kept this thread busy
        while not self._stop.is_set():
            self._assigned = bool(consumer.assignment())
            if self._stuck_unassigned(consumer, started):
                self._forced_rejoin = True
                raise RuntimeError("no partitions assigned although the topic has some; rejoining")
            clocks = _client_clocks(consumer)
            wall, cpu = time.monotonic(), _cpu(clocks)
            polled = consumer.poll(timeout_ms=POLL_TIMEOUT_MS)  # up to max_poll_records
            records = [record for batch in polled.values() for record in batch]
            busy = _cpu(clocks) - cpu > SPINNING_CPU_SHARE * (time.monotonic() - wall)
            spinning = spinning + 1 if busy and not records else 0
            if spinning >= SPINNING_POLLS:
                raise RuntimeError("poll() spins without waiting (kafka-python); rejoining")
            if records:
                self.process_batch(records)
                # async: a lost commit only means a redelivery, which the inbox absorbs
                consumer.commit_async(next_offsets(records))
                if self.linger_seconds and len(records) < consumer.config["max_poll_records"]:
                    self._stop.wait(self.linger_seconds)

    def process(self, record: ConsumerRecord) -> None:
        """Handle one record to a durable outcome: effects committed, skipped, or dead-lettered."""
        admitted = self._open(record)
        if admitted is not None:
            self._settle_alone(admitted)

    def process_batch(self, records: list[ConsumerRecord]) -> None:
        """Handle polled records to durable outcomes, the admitted ones in one transaction when
        they all succeed; otherwise each alone, as ``process`` would (events/batch.py)."""
        admitted = [a for a in map(self._open, records) if a is not None]
        if not admitted:
            return
        try:
            apply_batch(self.units, self.name, admitted, self.preload)
        except Exception as exc:
            log.info(
                "%s: a batch of %d events failed (%s); handling them one at a time",
                self.name,
                len(admitted),
                type(exc).__name__,
            )
            for each in admitted:
                self._settle_alone(each)
            return
        for each in admitted:
            self._count(each.outcome)
            self.observer(each.label, each.outcome, elapsed(each))
            each.span.end()

    def _count(self, outcome: str) -> None:
        if outcome == "handled":
            self.stats.handled += 1
        else:
            self.stats.duplicates += 1

    def _settle_alone(self, admitted: Admitted) -> None:
        """Today's path for one event: its own transaction, retries, the DLQ."""
        record, envelope, span = admitted.record, admitted.envelope, admitted.span
        with trace.use_span(span, end_on_exit=True):
            outcome = self._handle_with_retries(record, envelope, admitted.handler, span)
        self.observer(admitted.label, outcome, elapsed(admitted))

    def _open(self, record: ConsumerRecord) -> Admitted | None:
        """The record's span, and the record admitted; None when it is settled already: dead-
        lettered as poison, or skipped (no handler for its type)."""
        headers = decode_headers_safely(record.headers)
        parent = propagate.extract(headers)
        ce_type = headers.get("ce_type", "")
        if not _EVENT_TYPE.match(ce_type):  # a poison record's header text stays out of spans
            ce_type = "unknown"
        started = time.perf_counter()
        # a metric label only ever takes a known type: a producer must not grow our series
        label = ce_type if ce_type in ALL_EVENT_TYPES else "unknown"
        span = tracer.start_span(
            f"{self.name} process {ce_type}",
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": record.topic,
                "messaging.kafka.partition": record.partition,
                "messaging.kafka.offset": record.offset,
                "messaging.consumer.group.name": self.name,
            },
        )
        with trace.use_span(span, end_on_exit=False):
            admitted = self._admit_or_settle(record, span, label, started)
        if admitted is None:
            span.end()
        return admitted

    def _admit_or_settle(
        self, record: ConsumerRecord, span: trace.Span, label: str, started: float
    ) -> Admitted | None:
        try:
            envelope = self._admit(record)
        except PoisonMessage as exc:
            span.set_status(Status(StatusCode.ERROR, "unparseable"))
            self._dead_letter(record, "unparseable", str(exc))
            self.observer(label, "dead_lettered", time.perf_counter() - started)
            return None
        except ContractViolation as exc:
            span.set_status(Status(StatusCode.ERROR, "contract violation"))
            self._dead_letter(record, "contract-violation", exc.reason)
            self.observer(label, "dead_lettered", time.perf_counter() - started)
            return None
        span.set_attribute("messaging.message.id", envelope.id)
        span.set_attribute("painflow.subject", envelope.subject)  # Patient/{id}: an id only
        handler = self.handlers.get(envelope.type)
        if handler is None:
            self.stats.skipped += 1
            self.observer(label, "skipped", time.perf_counter() - started)
            return None
        return Admitted(record, envelope, handler, span, label, started)

    def _admit(self, record: ConsumerRecord) -> Envelope:
        envelope = parse_record(record.key, record.value, record.headers)
        if self.contracts is not None:
            self.contracts.validate(envelope.headers(), envelope.bundle)
        return envelope

    def _handle_with_retries(
        self, record: ConsumerRecord, envelope: Envelope, handler: Handler, span: trace.Span
    ) -> str:
        """Returns the outcome: handled, duplicate or dead_lettered (each retry is observed)."""
        label = envelope.type if envelope.type in ALL_EVENT_TYPES else "unknown"
        for attempt in range(1, self.max_attempts + 1):
            attempt_started = time.perf_counter()
            try:
                return "handled" if self._apply(record, envelope, handler) else "duplicate"
            except Exception as exc:
                permanent = classify_failure(exc)
                if permanent is not None or attempt == self.max_attempts:
                    span.set_attribute("error.type", type(exc).__name__)  # no message: PHI
                    span.set_status(Status(StatusCode.ERROR, "handler failed"))
                    reason = permanent or "retries-exhausted"
                    self._dead_letter(record, reason, describe_failure(exc))
                    return "dead_lettered"
                self.stats.retries += 1
                self.observer(label, "retried", time.perf_counter() - attempt_started)
                log.warning(
                    "%s: event %s failed (attempt %d/%d), retrying: %s",
                    self.name,
                    envelope.id,
                    attempt,
                    self.max_attempts,
                    type(exc).__name__,
                )
                if self._stop.wait(min(self.backoff_seconds * 2 ** (attempt - 1), 10.0)):
                    raise InterruptedError("stopping while retrying") from exc
        return "dead_lettered"  # not reached: the last attempt dead-letters or returns

    def _apply(self, record: ConsumerRecord, envelope: Envelope, handler: Handler) -> bool:
        """True when the handler ran; False for an event the inbox already holds."""
        with self.units.begin() as uow:
            if not claim(uow.session, self.name, [inbox_row(record, envelope)]):
                self.stats.duplicates += 1
                return False
            handler(uow, envelope)
        self.stats.handled += 1
        return True

    def _dead_letter(self, record: ConsumerRecord, reason: str, error: str) -> None:
        headers = [
            *(record.headers or []),
            ("x-dlq-reason", reason.encode()),
            ("x-dlq-error", error[:1000].encode("utf-8", "replace")),
            ("x-dlq-original-topic", record.topic.encode()),
            ("x-dlq-original-partition", str(record.partition).encode()),
            ("x-dlq-original-offset", str(record.offset).encode()),
            ("x-dlq-consumer-group", self.name.encode()),
        ]
        while True:
            try:
                if self._dlq is None:
                    self._dlq = self.producer_factory()
                self._dlq.send(
                    dlq_topic(record.topic), key=record.key, value=record.value, headers=headers
                ).get(timeout=15)
                break
            except Exception:
                log.warning("%s: DLQ write failed; retrying", self.name, exc_info=True)
                self._dlq = None
                if self._stop.wait(1.0):
                    raise
        self.stats.dead_lettered += 1
        log.error(
            "%s: %s/%d@%d dead-lettered: %s",
            self.name,
            record.topic,
            record.partition,
            record.offset,
            reason,
        )


def decode_headers_safely(raw: list[tuple[str, bytes | None]] | None) -> dict[str, str]:
    try:
        return decode_headers(raw)
    except PoisonMessage:
        return {}


def _client_clocks(consumer: KafkaConsumer) -> list[int]:
    """CPU clocks of this thread and of the consumer's own I/O thread (kafka-python names it
    ``kafka-io-<client_id>``), which does the spinning client's fetches."""
    client_id = getattr(consumer, "config", {}).get("client_id")
    threads = [threading.current_thread()] + [
        t for t in threading.enumerate() if client_id and t.name == f"kafka-io-{client_id}"
    ]
    clocks = []
    for thread in threads:
        with contextlib.suppress(OSError, TypeError, ValueError):  # gone, or not started
            clocks.append(time.pthread_getcpuclockid(thread.ident))  # type: ignore[arg-type]
    return clocks


def _cpu(clocks: list[int]) -> float:
    total = 0.0
    for clock in clocks:
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            total += time.clock_gettime(clock)
    return total
