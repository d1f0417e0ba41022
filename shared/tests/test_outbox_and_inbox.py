"""The outbox relay, the inbox and the consumer loop, on a real Kafka broker and PostgreSQL.

Each test gets its own topic, so ordering and acknowledgement are the broker's, not a stand-in's.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from kafka import KafkaConsumer
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from painflow_shared.db import session_scope
from painflow_shared.events.clients import make_producer
from painflow_shared.events.consumer import EventConsumer
from painflow_shared.events.envelope import Envelope, PoisonMessage, build_event
from painflow_shared.events.inbox import claim
from painflow_shared.events.outbox import OutboxMessage, record_event
from painflow_shared.events.relay import DeliveryFailed, OutboxRelay
from painflow_shared.fhir.errors import BusinessRuleViolation
from painflow_shared.fhir.search_params import SearchParamRegistry
from painflow_shared.settings import SharedSettings
from painflow_shared.unit_of_work import EventSource, UnitOfWorkFactory

from .conftest import dead_letters, scratch_topic

pytestmark = pytest.mark.integration
EVENT = "painflow.referral.received"


@pytest.fixture
def topic(settings: SharedSettings) -> Iterator[str]:
    with scratch_topic(settings, "outbox", partitions=3, dlq=True) as name:
        yield name


def _event(patient: str) -> Envelope:
    return build_event(
        event_type=EVENT,
        service="referral",
        base_url="http://x/fhir",
        patient_id=patient,
        focus=[{"resourceType": "Patient", "id": patient}],
        include=[],
    )


def _stage(engine: Engine, topic: str, patient: str, n: int) -> list[str]:
    ids = []
    with session_scope(engine) as session:
        for _ in range(n):
            envelope = _event(patient)
            record_event(session, topic, envelope)
            ids.append(envelope.id)
    return ids


def _read_all(settings: SharedSettings, topic: str, expected: int) -> list[tuple[str, str]]:
    """(key, event id) of every record on ``topic``, in each partition's order."""
    consumer = KafkaConsumer(
        topic,
        auto_offset_reset="earliest",
        consumer_timeout_ms=3000,
        group_id=None,
        **settings.kafka_client_config(),
    )
    records = []
    for record in consumer:
        records.append((record.key.decode(), json.loads(record.value)["id"]))
        if len(records) >= expected:
            break
    consumer.close()
    return records


def test_relay_publishes_each_patients_events_in_write_order(pg_engine, settings, topic):
    staged = {p: [] for p in ("p1", "p2", "p3")}
    for patient in ("p1", "p2", "p1", "p3", "p1", "p2"):
        staged[patient] += _stage(pg_engine, topic, patient, 2)
    relay = OutboxRelay(
        engine=pg_engine,
        producer_factory=lambda: make_producer(settings, client_id="t"),
        batch_size=5,
    )
    total = 0
    while (sent := relay.relay_once()) > 0:
        total += sent
    relay.stop()
    assert total == 12 and relay.pending() == 0
    received = _read_all(settings, topic, 12)
    for patient, ids in staged.items():
        assert [event for key, event in received if key == patient] == ids


def test_a_failed_send_stops_the_batch_and_nothing_after_it_is_marked_sent(
    pg_engine, settings, topic
):
    first = _stage(pg_engine, topic, "p1", 1)
    _stage(pg_engine, f"{topic}-does-not-exist", "p1", 1)  # the broker refuses: no such topic
    after = _stage(pg_engine, topic, "p1", 2)
    relay = OutboxRelay(
        engine=pg_engine, producer_factory=lambda: make_producer(settings, client_id="t")
    )
    with pytest.raises(DeliveryFailed):
        relay.relay_once()
    relay.stop()
    with Session(pg_engine) as session:
        rows = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.seq))).all()
    assert [r.sent_at is not None for r in rows] == [True, False, False, False]
    assert rows[1].attempts == 1 and rows[1].last_error
    assert [event for _, event in _read_all(settings, topic, 1)] == first
    assert after  # still waiting, in order, behind the failed row


def test_rolled_back_transaction_leaves_no_event(pg_engine, topic):
    with pytest.raises(RuntimeError), session_scope(pg_engine) as session:
        envelope = _event("p9")
        record_event(session, topic, envelope)
        raise RuntimeError("the domain write failed")
    assert OutboxRelay(engine=pg_engine, producer_factory=lambda: None).pending() == 0  # type: ignore[arg-type,return-value]


@dataclass
class Delivered:
    """A record as the consumer loop sees it (topic, partition, offset, key, value, headers)."""

    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


def _delivered(topic: str, offset: int) -> Delivered:
    envelope = _event("p1")
    headers = [(k, v.encode()) for k, v in envelope.headers().items()]
    return Delivered(topic, 0, offset, b"p1", envelope.value(), headers)


def test_inbox_gives_a_redelivered_event_no_second_effect(pg_engine, settings, topic):
    record = _delivered(topic, 7)
    effects: list[str] = []
    consumer = _consumer(pg_engine, settings, lambda uow, event: effects.append(event.id))
    consumer.process(record)  # type: ignore[arg-type]
    consumer.process(record)  # type: ignore[arg-type]
    assert effects == [json.loads(record.value)["id"]]
    assert consumer.stats.handled == 1 and consumer.stats.duplicates == 1


def _consumer(pg_engine, settings, handler, max_attempts=3) -> EventConsumer:
    return EventConsumer(
        name="unit",
        units=UnitOfWorkFactory(
            pg_engine, SearchParamRegistry({}), EventSource("unit", "http://x")
        ),
        consumer_factory=lambda: None,  # type: ignore[arg-type,return-value]
        producer_factory=lambda: make_producer(settings, client_id="t"),
        handlers={EVENT: handler},
        max_attempts=max_attempts,
        backoff_seconds=0.001,
    )


def _database_down() -> OperationalError:
    return OperationalError("SELECT 1", {}, ConnectionError("server closed the connection"))


def test_an_infrastructure_failure_is_retried_then_dead_lettered(pg_engine, settings, topic):
    attempts: list[int] = []

    def broken(session, event):
        attempts.append(1)
        raise _database_down()

    consumer = _consumer(pg_engine, settings, broken)
    consumer.process(_delivered(topic, 8))  # type: ignore[arg-type]
    consumer.stop()
    assert len(attempts) == 3
    [headers] = dead_letters(settings, topic)
    assert headers["x-dlq-reason"] == b"retries-exhausted"
    assert headers["x-dlq-error"] == b"OperationalError"
    assert headers["x-dlq-original-offset"] == b"8"


def test_an_infrastructure_failure_that_clears_is_handled_once(pg_engine, settings, topic):
    effects: list[str] = []

    def flaky(session, event):
        if len(effects) < 2:
            effects.append("failed")
            raise _database_down()
        effects.append("done")

    consumer = _consumer(pg_engine, settings, flaky)
    consumer.process(_delivered(topic, 9))  # type: ignore[arg-type]
    consumer.stop()
    assert effects == ["failed", "failed", "done"]
    assert consumer.stats.handled == 1 and consumer.stats.dead_lettered == 0
    assert dead_letters(settings, topic) == []


@pytest.mark.parametrize(
    ("failure", "reason", "error"),
    [
        (
            BusinessRuleViolation("the intake of this referral is closed", expression="Task"),
            b"rejected",
            b"BusinessRuleViolation: the intake of this referral is closed",
        ),
        (PoisonMessage("a referral event without its ServiceRequest"), b"rejected", None),
        (KeyError("subject"), b"handler-error", b"KeyError"),
    ],
)
def test_a_permanent_failure_is_dead_lettered_at_once(
    pg_engine, settings, topic, failure, reason, error
):
    attempts: list[int] = []

    def refuses(session, event):
        attempts.append(1)
        raise failure

    consumer = _consumer(pg_engine, settings, refuses, max_attempts=5)
    consumer.process(_delivered(topic, 10))  # type: ignore[arg-type]
    consumer.stop()
    assert len(attempts) == 1
    [headers] = dead_letters(settings, topic)
    assert headers["x-dlq-reason"] == reason
    if error is not None:
        assert headers["x-dlq-error"] == error
    assert consumer.stats.retries == 0 and consumer.stats.dead_lettered == 1


def test_a_valid_event_without_a_handler_is_acknowledged_without_effect(pg_engine, settings, topic):
    consumer = _consumer(pg_engine, settings, lambda session, event: None)
    consumer.handlers = {}
    consumer.process(_delivered(topic, 11))  # type: ignore[arg-type]
    consumer.stop()
    assert consumer.stats.skipped == 1 and consumer.stats.handled == 0
    assert dead_letters(settings, topic) == []


def _entry(event_id: str) -> dict[str, object]:
    return {"event_id": event_id, "event_type": "t", "topic": "x", "partition": 0, "offset": 1}


def test_a_claim_returns_only_new_events_and_waits_for_a_concurrent_claim(pg_engine):
    """Two consumers of one group can briefly hold the same event (a rebalance): the second
    claim waits for the first transaction and then does not get the event."""
    with session_scope(pg_engine) as session:
        assert claim(session, "c", [_entry("e1")]) == {"e1"}
    first = Session(pg_engine)
    assert claim(first, "c", [_entry("e1"), _entry("e2"), _entry("e2")]) == {"e2"}
    second: dict[str, set[str]] = {}

    def other_consumer() -> None:
        with session_scope(pg_engine) as session:
            second["claimed"] = claim(session, "c", [_entry("e2"), _entry("e3")])

    thread = threading.Thread(target=other_consumer)
    thread.start()
    thread.join(timeout=1.0)
    assert thread.is_alive()  # waiting on e2's row, which the first has not committed
    first.commit()
    first.close()
    thread.join(timeout=10)
    assert second["claimed"] == {"e3"}
