"""Outbox ordering and inbox de-duplication, as pure logic over a local SQLite database.

The broker is replaced by a recording producer here; the same guarantees are proven against a
real Kafka broker and PostgreSQL in tests/integration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from painflow_shared.db import make_engine, migrate, session_scope
from painflow_shared.events.consumer import EventConsumer
from painflow_shared.events.envelope import build_event
from painflow_shared.events.outbox import OutboxMessage, record_event
from painflow_shared.events.relay import DeliveryFailed, OutboxRelay
from sqlmodel import Session, select

MIGRATIONS = __import__("pathlib").Path(__file__).parent / "migrations"


@dataclass
class Future:
    error: Exception | None = None
    is_done: bool = True

    @property
    def exception(self) -> Exception | None:
        return self.error


@dataclass
class RecordingProducer:
    fail_on: set[str] = field(default_factory=set)
    sent: list[tuple[str, bytes, bytes]] = field(default_factory=list)

    def send(self, topic: str, key: bytes, value: bytes, headers: list[Any]) -> Future:
        event_id = dict(headers)["ce_id"].decode()
        if event_id in self.fail_on:
            return Future(error=ConnectionError("broker down"))
        self.sent.append((topic, key, value))
        return Future()

    def flush(self, timeout: float) -> None:
        return None

    def close(self, timeout: float) -> None:
        return None


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/unit.db")
    migrate(engine, MIGRATIONS)
    return engine


def _stage(engine, patient: str, n: int) -> list[str]:
    ids = []
    with session_scope(engine) as session:
        for _ in range(n):
            envelope = build_event(
                event_type="painflow.referral.received",
                service="referral",
                base_url="http://x/fhir",
                patient_id=patient,
                focus=[{"resourceType": "Patient", "id": patient}],
                include=[],
            )
            record_event(session, "topic", envelope)
            ids.append(envelope.id)
    return ids


def _sent_ids(producer: RecordingProducer) -> list[str]:
    import json

    return [json.loads(value)["id"] for _, _, value in producer.sent]


def test_relay_publishes_in_write_order_and_marks_rows_sent(engine):
    ids = _stage(engine, "p1", 3) + _stage(engine, "p2", 2) + _stage(engine, "p1", 2)
    producer = RecordingProducer()
    relay = OutboxRelay(engine=engine, producer_factory=lambda: producer, batch_size=4)
    assert relay.relay_once() == 4
    assert relay.relay_once() == 3
    assert relay.relay_once() == 0
    assert _sent_ids(producer) == ids
    assert relay.pending() == 0


def test_a_failed_send_stops_the_batch_and_nothing_after_it_is_marked_sent(engine):
    ids = _stage(engine, "p1", 4)
    producer = RecordingProducer(fail_on={ids[1]})
    relay = OutboxRelay(engine=engine, producer_factory=lambda: producer)
    with pytest.raises(DeliveryFailed):
        relay.relay_once()
    with Session(engine) as session:
        rows = session.exec(select(OutboxMessage).order_by(OutboxMessage.seq)).all()
    assert [r.sent_at is not None for r in rows] == [True, False, False, False]
    assert rows[1].attempts == 1 and "broker down" in rows[1].last_error
    producer.fail_on.clear()
    assert relay.relay_once() == 3
    # at-least-once: rows after the failure may go twice, but the order of first sends holds
    assert _sent_ids(producer)[0] == ids[0] and _sent_ids(producer)[-3:] == ids[1:]


def test_rolled_back_transaction_leaves_no_event(engine):
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        envelope = build_event(
            event_type="painflow.referral.received",
            service="referral",
            base_url="http://x/fhir",
            patient_id="p9",
            focus=[{"resourceType": "Patient", "id": "p9"}],
            include=[],
        )
        record_event(session, "topic", envelope)
        raise RuntimeError("the domain write failed")
    assert OutboxRelay(engine=engine, producer_factory=RecordingProducer).pending() == 0


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


def test_inbox_gives_a_redelivered_event_no_second_effect(engine):
    envelope = build_event(
        event_type="painflow.referral.received",
        service="referral",
        base_url="http://x/fhir",
        patient_id="p1",
        focus=[{"resourceType": "Patient", "id": "p1"}],
        include=[],
    )
    record = Record(
        "topic",
        0,
        7,
        b"p1",
        envelope.value(),
        [(k, v.encode()) for k, v in envelope.headers().items()],
    )
    effects: list[str] = []
    consumer = EventConsumer(
        name="unit",
        engine=engine,
        consumer_factory=lambda: None,
        producer_factory=RecordingProducer,
        handlers={"painflow.referral.received": lambda session, event: effects.append(event.id)},
    )
    consumer.process(record)
    consumer.process(record)
    assert effects == [envelope.id]
    assert consumer.stats.handled == 1 and consumer.stats.duplicates == 1


def test_a_failing_handler_is_retried_then_dead_lettered(engine):
    envelope = build_event(
        event_type="painflow.referral.received",
        service="referral",
        base_url="http://x/fhir",
        patient_id="p1",
        focus=[{"resourceType": "Patient", "id": "p1"}],
        include=[],
    )
    record = Record(
        "topic",
        0,
        8,
        b"p1",
        envelope.value(),
        [(k, v.encode()) for k, v in envelope.headers().items()],
    )
    dlq = RecordingProducer()
    attempts: list[int] = []

    def broken(session, event):
        attempts.append(1)
        raise ValueError("cannot")

    consumer = EventConsumer(
        name="unit",
        engine=engine,
        consumer_factory=lambda: None,
        producer_factory=lambda: DlqProducer(dlq),
        handlers={"painflow.referral.received": broken},
        max_attempts=3,
        backoff_seconds=0.001,
    )
    consumer.process(record)
    assert len(attempts) == 3
    assert [topic for topic, _, _ in dlq.sent] == ["topic.dlq"]


@dataclass
class DlqProducer:
    inner: RecordingProducer

    def send(self, topic, key, value, headers):
        self.inner.sent.append((topic, key, value))
        return self

    def get(self, timeout: float) -> None:
        return None

    def close(self, timeout: float) -> None:
        return None
