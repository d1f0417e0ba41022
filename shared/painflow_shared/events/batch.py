"""A polled batch of events in one transaction: the consumer's fast path.

The effects of every event in the batch, their outbox rows and their inbox rows commit together
(one statement inserts them all, one commit), so a consumer pays a round trip per batch where it
paid several per event. The inbox is claimed optimistically: a redelivered event is rare (after a
crash or a rebalance), so the batch does not wait for a claim before its handlers run; if one of
its events turns out to be in the inbox already, the batch rolls back and its events are handled
one at a time, each claimed first. Each event keeps its own span (its parent is
its producer's span).
If anything in the batch fails, the whole transaction rolls back and the consumer handles the
batch's events one at a time (``EventConsumer`` does that): the good ones commit, a poison one
is dead-lettered and a transient failure is retried exactly as when events come one by one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kafka.consumer.fetcher import ConsumerRecord
from kafka.structs import OffsetAndMetadata, TopicPartition
from opentelemetry import trace

from painflow_shared.events.envelope import Envelope
from painflow_shared.events.inbox import claim_with_commit

if TYPE_CHECKING:
    from painflow_shared.unit_of_work import UnitOfWork, UnitOfWorkFactory


@dataclass
class Admitted:
    """A record that parsed, keeps its contract and has a handler: ready to be handled."""

    record: ConsumerRecord
    envelope: Envelope
    handler: Callable[[UnitOfWork, Envelope], None]
    span: trace.Span
    label: str  # the metric label of its event type
    started: float  # perf_counter when it was polled
    outcome: str = ""  # handled or duplicate, once its batch committed


# A service's look-ups for a whole batch before its handlers run (``UnitOfWork.load``,
# ``ResourceStore.load``): the rows each handler would read one event at a time, in one query
# per table. It only reads; a handler still decides everything, and finds the rows loaded.
Preload = Callable[["UnitOfWork", Sequence[Envelope]], None]


def apply_batch(
    units: UnitOfWorkFactory,
    consumer: str,
    batch: Sequence[Admitted],
    preload: Preload | None = None,
) -> None:
    """Handle ``batch`` in one unit of work; an event twice in the batch is handled once.
    Raises whatever a handler or the commit raised, having committed nothing (``AlreadyClaimed``
    when an event of the batch is in the inbox already); ``outcome`` is set on every event once
    this returns."""
    handled: list[Admitted] = []
    seen: set[str] = set()
    for admitted in batch:
        if admitted.envelope.id in seen:  # twice in the batch: handled once
            admitted.outcome = "duplicate"
        else:
            seen.add(admitted.envelope.id)
            handled.append(admitted)
    with units.begin() as uow:
        # the batch's inbox rows go in with its effects, in the one statement that inserts
        # them (staged_inserts): an event another transaction took already fails the batch
        # (AlreadyClaimed), and the consumer then claims each event before handling it
        claim_with_commit(uow.session, consumer, [inbox_row(a.record, a.envelope) for a in handled])
        if preload is not None:
            preload(uow, [a.envelope for a in handled])
        for admitted in handled:
            _handle(uow, admitted)
    for admitted in handled:
        admitted.outcome = "handled"


def _handle(uow: UnitOfWork, admitted: Admitted) -> None:
    # the event's span is current while its handler runs (its SQL spans nest under it); an
    # exception leaves it unmarked: the fallback records the outcome, without the message (PHI)
    with trace.use_span(
        admitted.span, end_on_exit=False, record_exception=False, set_status_on_exception=False
    ):
        admitted.handler(uow, admitted.envelope)


def inbox_row(record: ConsumerRecord, envelope: Envelope) -> dict[str, Any]:
    """What ``inbox.claim`` records of an event: its id and type, and where it was read."""
    return {
        "event_id": envelope.id,
        "event_type": envelope.type,
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
    }


def next_offsets(records: Iterable[ConsumerRecord]) -> dict[TopicPartition, OffsetAndMetadata]:
    """The offsets to commit once ``records`` reached a durable outcome: past the last of each
    partition."""
    after: dict[TopicPartition, int] = {}
    for record in records:
        partition = TopicPartition(record.topic, record.partition)
        after[partition] = max(after.get(partition, 0), record.offset + 1)
    return {p: OffsetAndMetadata(offset, "", -1) for p, offset in after.items()}


def elapsed(admitted: Admitted) -> float:
    return time.perf_counter() - admitted.started
