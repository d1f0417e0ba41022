"""A polled batch in one transaction, on PostgreSQL and a real broker (for the DLQ).

What a consumer owes a batch: every good event's effects, outbox and inbox rows committed once,
in a few statements for the whole batch; a poison event in it dead-lettered while the others
still commit; an event it already handled (earlier, or twice in the batch) without effect.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from painflow_shared.events.clients import make_producer
from painflow_shared.events.consumer import EventConsumer
from painflow_shared.events.envelope import Envelope, PoisonMessage, build_event
from painflow_shared.events.inbox import InboxEntry
from painflow_shared.events.outbox import OutboxMessage
from painflow_shared.fhir.search_params import SearchParamRegistry
from painflow_shared.settings import SharedSettings
from painflow_shared.unit_of_work import EventSource, UnitOfWork, UnitOfWorkFactory

from .conftest import dead_letters, scratch_topic, statements_in_this_thread

pytestmark = pytest.mark.integration
RECEIVED = "painflow.referral.received"
ACCEPTED = "painflow.referral.accepted"


@dataclass
class Delivered:
    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


@pytest.fixture
def topic(settings: SharedSettings) -> Iterator[str]:
    with scratch_topic(settings, "batch", partitions=1, dlq=True) as name:
        yield name


def _records(topic: str, *patients: str, first_offset: int = 0) -> list[Delivered]:
    records = []
    for offset, patient in enumerate(patients, start=first_offset):
        envelope = build_event(
            event_type=RECEIVED,
            service="referral",
            base_url="http://x/fhir",
            patient_id=patient,
            focus=[{"resourceType": "Patient", "id": patient}],
            include=[],
        )
        headers = [(k, v.encode()) for k, v in envelope.headers().items()]
        records.append(Delivered(topic, 0, offset, patient.encode(), envelope.value(), headers))
    return records


def _publishes(uow: UnitOfWork, event: Envelope) -> None:
    """An effect the database keeps: an event of its own in the outbox."""
    if event.patient_id.startswith("poison"):
        raise PoisonMessage("a referral event this consumer refuses")
    patient = {"resourceType": "Patient", "id": event.patient_id}
    uow.publish(ACCEPTED, patient_id=event.patient_id, focus=[patient])


def _consumer(pg_engine: Engine, settings: SharedSettings) -> EventConsumer:
    return EventConsumer(
        name="unit",
        units=UnitOfWorkFactory(pg_engine, SearchParamRegistry({}), EventSource("unit", "x")),
        consumer_factory=lambda: None,  # type: ignore[arg-type,return-value]
        producer_factory=lambda: make_producer(settings, client_id="t"),
        handlers={RECEIVED: _publishes},
        max_attempts=3,
        backoff_seconds=0.001,
    )


def _stored(pg_engine: Engine) -> tuple[list[str], list[str]]:
    """The patients of the outbox's events, and the event ids in the inbox."""
    with Session(pg_engine) as session:
        outbox = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.seq))).all()
        inbox = session.exec(select(InboxEntry.event_id)).all()
    return [row.key for row in outbox], list(inbox)


def _logged(consumer: EventConsumer) -> list[str]:
    """What the consumer's preload and handler saw, in order (the handler still publishes)."""
    log: list[str] = []
    consumer.preload = lambda _uow, events: log.append(
        "preload " + ",".join(e.patient_id for e in events)
    )

    def handle(uow: UnitOfWork, event: Envelope) -> None:
        log.append(f"handle {event.patient_id}")
        _publishes(uow, event)

    consumer.handlers = {RECEIVED: handle}
    return log


def test_a_batch_commits_every_event_once_in_a_few_statements(pg_engine, settings, topic):
    consumer = _consumer(pg_engine, settings)
    records = _records(topic, *(f"p{i}" for i in range(10)))
    seen, stop_counting = statements_in_this_thread(pg_engine)
    consumer.process_batch(records)  # type: ignore[arg-type]
    stop_counting()
    outbox, inbox = _stored(pg_engine)
    assert outbox == [f"p{i}" for i in range(10)]  # in the batch's order
    assert len(inbox) == 10
    assert consumer.stats.handled == 10
    # the inbox claim and the outbox rows: one statement for all ten
    assert len(seen) == 1, seen


def test_a_poison_event_in_a_batch_is_dead_lettered_and_the_others_commit(
    pg_engine, settings, topic
):
    consumer = _consumer(pg_engine, settings)
    records = _records(topic, "p1", "poison", "p2")
    consumer.process_batch(records)  # type: ignore[arg-type]
    consumer.stop()
    outbox, inbox = _stored(pg_engine)
    assert outbox == ["p1", "p2"]
    assert len(inbox) == 2
    assert consumer.stats.handled == 2 and consumer.stats.dead_lettered == 1
    assert consumer.stats.retries == 0
    [headers] = dead_letters(settings, topic)
    assert headers["x-dlq-reason"] == b"rejected"
    assert headers["x-dlq-original-offset"] == b"1"


def test_an_event_handled_before_or_twice_in_a_batch_has_one_effect(pg_engine, settings, topic):
    consumer = _consumer(pg_engine, settings)
    first, second = _records(topic, "p1", "p2")
    consumer.process(first)  # type: ignore[arg-type]
    consumer.process_batch([first, second, second])  # type: ignore[list-item]
    outbox, inbox = _stored(pg_engine)
    assert outbox == ["p1", "p2"]
    assert len(inbox) == 2
    assert consumer.stats.handled == 2 and consumer.stats.duplicates == 2


def test_a_preload_sees_the_batch_s_events_once_before_any_handler(pg_engine, settings, topic):
    consumer = _consumer(pg_engine, settings)
    log = _logged(consumer)
    first, second = _records(topic, "p1", "p2")
    consumer.process_batch([first, second, second])  # type: ignore[list-item]
    # once, first, without what the batch itself had already
    assert log == ["preload p1,p2", "handle p1", "handle p2"]
    assert _stored(pg_engine)[0] == ["p1", "p2"]


def test_a_batch_holding_a_handled_event_commits_nothing_and_its_events_go_alone(
    pg_engine, settings, topic
):
    """The inbox is claimed with the batch's commit (one statement for all its rows): an event
    handled before makes that commit fail, and each event is then claimed before it is handled."""
    consumer = _consumer(pg_engine, settings)
    log = _logged(consumer)
    first, second, third = _records(topic, "p1", "p2", "p3")
    consumer.process(first)  # type: ignore[arg-type]  # alone: no batch, no preload
    seen, stop_counting = statements_in_this_thread(pg_engine)
    consumer.process_batch([first, second, third])  # type: ignore[list-item]
    stop_counting()
    # the batch ran and rolled back; alone, p1 is found in the inbox and not handled again
    batch = ["preload p1,p2,p3", "handle p1", "handle p2", "handle p3"]
    assert log == ["handle p1", *batch, "handle p2", "handle p3"]
    outbox, inbox = _stored(pg_engine)
    assert outbox == ["p1", "p2", "p3"] and len(inbox) == 3
    assert consumer.stats.handled == 3 and consumer.stats.duplicates == 1
    assert sum("event_inbox" in s for s in seen) == 1 + 3  # the batch's claim, then one each


def test_two_consumers_handling_one_batch_at_once_commit_each_event_once(
    pg_engine, settings, topic, caplog
):
    """After a rebalance two replicas can hold the same records. Both batches run their
    handlers before either commits (a barrier), then both commit: the second waits on the
    first's inbox rows, finds them taken (AlreadyClaimed) and rolls back; alone, each of its
    events is then found in the inbox. One effect per event."""
    caplog.set_level(logging.INFO, logger="painflow_shared.events.consumer")
    first, second = _consumer(pg_engine, settings), _consumer(pg_engine, settings)
    both_handled = threading.Barrier(2, timeout=20)
    waited: set[int] = set()

    def handle(uow: UnitOfWork, event: Envelope) -> None:
        _publishes(uow, event)
        if threading.get_ident() not in waited:  # once per consumer: its batch's first event
            waited.add(threading.get_ident())
            both_handled.wait()

    first.handlers = second.handlers = {RECEIVED: handle}
    records = _records(topic, "p1", "p2", "p3")
    threads = [threading.Thread(target=c.process_batch, args=(records,)) for c in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    outbox, inbox = _stored(pg_engine)
    assert outbox == ["p1", "p2", "p3"] and len(inbox) == 3
    handled = sorted((c.stats.handled, c.stats.duplicates) for c in (first, second))
    assert handled == [(0, 3), (3, 0)]
    assert "a batch of 3 events failed (AlreadyClaimed)" in caplog.text


def test_a_failing_preload_costs_the_batch_its_fast_path_not_its_events(pg_engine, settings, topic):
    consumer = _consumer(pg_engine, settings)

    def broken(_uow: UnitOfWork, _events: list[Envelope]) -> None:
        raise KeyError("id")  # e.g. an event shaped unlike what the preload expects

    consumer.preload = broken
    consumer.process_batch(_records(topic, "p1", "p2"))  # type: ignore[arg-type]
    consumer.stop()
    outbox, inbox = _stored(pg_engine)
    assert outbox == ["p1", "p2"] and len(inbox) == 2  # each handled alone, as without a batch
    assert consumer.stats.handled == 2 and consumer.stats.dead_lettered == 0
