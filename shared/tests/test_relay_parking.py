"""A record the broker can never take is parked, and the events after it are still delivered.

On the real broker and PostgreSQL: the producer's own size limit (kafka-python refuses the
record in ``send()``), the broker's topic limit (the refusal arrives on the future and fails
every record in flight), and the operator command that makes parked rows pending again.
"""

from __future__ import annotations

import contextlib
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaConsumer
from sqlalchemy import Engine
from sqlmodel import Session, select

from painflow_shared.db import session_scope
from painflow_shared.events.clients import make_producer
from painflow_shared.events.envelope import Envelope, build_event
from painflow_shared.events.outbox import OutboxMessage, record_event
from painflow_shared.events.parked import list_parked, retry_parked
from painflow_shared.events.relay import DeliveryFailed, OutboxRelay
from painflow_shared.observability import ServiceMetrics
from painflow_shared.runtime import ServiceRuntime
from painflow_shared.settings import SharedSettings

from .conftest import scratch_topic

pytestmark = pytest.mark.integration
EVENT = "painflow.referral.received"
SMALL_LIMIT = 64 * 1024  # the producer's max_request_size before the "fix"
BIG = 100 * 1024  # an event over SMALL_LIMIT and under the default 1 MiB
PATIENTS = ("p1", "p2", "p3", "p4", "p5")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def topic(settings: SharedSettings) -> Iterator[str]:
    with scratch_topic(settings, "parking", partitions=3) as name:
        yield name


def _event(patient: str, padding: int = 0) -> Envelope:
    include = [{"resourceType": "DocumentReference", "id": "d1", "description": "x" * padding}]
    return build_event(
        event_type=EVENT,
        service="referral",
        base_url="http://x/fhir",
        patient_id=patient,
        focus=[{"resourceType": "Patient", "id": patient}],
        include=include if padding else [],
    )


def _stage(engine: Engine, topic: str, patients: tuple[str, ...], padding: int = 0) -> list[str]:
    """One event per patient, in this order; returns their ids."""
    ids = []
    with session_scope(engine) as session:
        for patient in patients:
            envelope = _event(patient, padding)
            record_event(session, topic, envelope)
            ids.append(envelope.id)
    return ids


def _relay(engine: Engine, settings: SharedSettings, limit: int, batch: int = 20) -> OutboxRelay:
    return OutboxRelay(
        engine=engine,
        producer_factory=lambda: make_producer(settings, client_id="t", max_request_size=limit),
        batch_size=batch,
    )


def _drain(relay: OutboxRelay, rounds: int = 30) -> None:
    """Run the relay as its loop would until nothing is pending (retriable failures retried)."""
    for _ in range(rounds):
        with contextlib.suppress(DeliveryFailed):  # a retriable failure: the loop would retry
            relay.relay_once()
        if relay.pending() == 0:
            relay.stop()
            return
    relay.stop()
    raise AssertionError(f"{relay.pending()} rows still pending after {rounds} rounds")


def _read_all(settings: SharedSettings, topic: str, expected: int) -> list[tuple[str, str]]:
    """(key, event id) of every record on ``topic``, each partition in its order."""
    consumer = KafkaConsumer(
        topic,
        auto_offset_reset="earliest",
        consumer_timeout_ms=3000,
        group_id=None,
        **settings.kafka_client_config(),
    )
    records = [(r.key.decode(), json.loads(r.value)["id"]) for r in consumer]
    consumer.close()
    assert len(records) >= expected
    return records


def _first_seen_in_order(records: list[tuple[str, str]], patient: str) -> list[str]:
    """The patient's event ids in delivery order, repeats (at-least-once) dropped."""
    seen: list[str] = []
    for key, event_id in records:
        if key == patient and event_id not in seen:
            seen.append(event_id)
    return seen


def _staged_with_an_oversized_event(engine: Engine, topic: str) -> tuple[dict, str]:
    """Three events, one oversized for p1, then 50 more over five patients (10 each)."""
    staged: dict[str, list[str]] = {p: [] for p in PATIENTS}
    first = ("p1", "p2", "p3")
    for patient, event_id in zip(first, _stage(engine, topic, first), strict=True):
        staged[patient].append(event_id)
    (oversized,) = _stage(engine, topic, ("p1",), padding=BIG)
    for _ in range(10):
        for patient, event_id in zip(PATIENTS, _stage(engine, topic, PATIENTS), strict=True):
            staged[patient].append(event_id)
    return staged, oversized


def _row(engine: Engine, event_id: str) -> OutboxMessage:
    with Session(engine) as session:
        return session.exec(select(OutboxMessage).where(OutboxMessage.event_id == event_id)).one()


def _metrics(engine: Engine, relay: OutboxRelay) -> ServiceMetrics:
    runtime = ServiceRuntime(
        settings=SharedSettings(),
        engine=engine,
        declaration=None,  # type: ignore[arg-type]  # refresh_metrics reads only the relay
        contracts=None,  # type: ignore[arg-type]
        units=None,  # type: ignore[arg-type]
        authenticator=None,  # type: ignore[arg-type]
        relay=relay,
    )
    runtime.refresh_metrics()
    return runtime.metrics


def test_an_oversized_event_is_parked_and_the_next_50_are_delivered_in_order(
    pg_engine, settings, topic, caplog
):
    staged, oversized = _staged_with_an_oversized_event(pg_engine, topic)
    relay = _relay(pg_engine, settings, SMALL_LIMIT)
    with caplog.at_level(logging.ERROR, logger="painflow_shared.events.relay"):
        _drain(relay)

    received = _read_all(settings, topic, 53)
    assert oversized not in {event_id for _, event_id in received}
    for patient, ids in staged.items():
        assert _first_seen_in_order(received, patient) == ids
    row = _row(pg_engine, oversized)
    assert row.sent_at is None and row.parked_at is not None
    assert row.parked_reason and row.parked_reason.startswith("MessageSizeTooLargeError")
    backlog = relay.backlog()
    assert (backlog.pending, backlog.parked) == (0, 1)
    metrics = _metrics(pg_engine, relay)
    assert metrics.registry.get_sample_value("painflow_outbox_parked") == 1
    assert metrics.registry.get_sample_value("painflow_outbox_pending") == 0
    (line,) = [r.getMessage() for r in caplog.records if oversized in r.getMessage()]
    assert EVENT in line and topic in line and "MessageSizeTooLargeError" in line
    assert "xxxxxxxx" not in line  # never the payload


def test_a_record_the_broker_refuses_is_parked_alone(pg_engine, settings):
    """The topic's max.message.bytes is below the producer's limit: the broker refuses the
    record, kafka-python fails everything in flight with it, and only that record is parked."""
    small = {"max.message.bytes": str(SMALL_LIMIT)}
    with scratch_topic(settings, "parking", partitions=3, configs=small) as topic:
        staged, oversized = _staged_with_an_oversized_event(pg_engine, topic)
        _drain(_relay(pg_engine, settings, 1024 * 1024, batch=200))
        received = _read_all(settings, topic, 53)
    for patient, ids in staged.items():
        assert _first_seen_in_order(received, patient) == ids
    assert [e.event_id for e in list_parked(pg_engine)] == [oversized]
    assert "MessageSizeTooLargeError" in _row(pg_engine, oversized).parked_reason


def _command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "painflow_shared.events.parked", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )


def test_the_operator_command_retries_parked_events_after_the_limit_is_raised(
    pg_engine, shared_pg_url, settings, topic
):
    before = _stage(pg_engine, topic, ("p1", "p2"))
    first, second = _stage(pg_engine, topic, ("p1", "p2"), padding=BIG)
    _drain(_relay(pg_engine, settings, SMALL_LIMIT))
    assert {e.event_id for e in list_parked(pg_engine)} == {first, second}

    listed = _command("--database-url", shared_pg_url, "list")
    assert listed.returncode == 0, listed.stderr
    assert first in listed.stdout and second in listed.stdout and "2 parked" in listed.stdout
    assert str(len(_row(pg_engine, first).payload)) in listed.stdout  # the size in bytes

    assert retry_parked(pg_engine, [first]) == [first]  # the function
    retried = _command("--database-url", shared_pg_url, "retry", "--all")  # the command
    assert retried.returncode == 0, retried.stderr
    assert second in retried.stdout and "order is not restored" in retried.stdout
    unknown = _command("--database-url", shared_pg_url, "retry", "no-such-event")
    assert unknown.returncode == 1 and "no-such-event" in unknown.stderr

    _drain(_relay(pg_engine, settings, 1024 * 1024))  # the fix: a producer that takes them
    received = _read_all(settings, topic, 4)
    assert _first_seen_in_order(received, "p1") == [before[0], first]
    assert _first_seen_in_order(received, "p2") == [before[1], second]
    assert list_parked(pg_engine) == [] and _row(pg_engine, first).sent_at is not None


def test_only_the_relay_holding_the_lock_publishes(pg_engine, settings, topic):
    """Replicas share one outbox: a relay whose lock another replica holds publishes nothing,
    and takes over once that replica's transaction ends (the lock and the batch's read are one
    statement)."""
    ids = _stage(pg_engine, topic, ("p1", "p2"))
    relay = _relay(pg_engine, settings, 1024 * 1024)
    with pg_engine.connect() as other_replica:
        other_replica.exec_driver_sql("SELECT pg_advisory_xact_lock(%(k)s)", {"k": 0x7061696E})
        assert relay.relay_once() == 0
        assert relay.pending() == 2
        other_replica.rollback()  # the other replica's round ends
    assert relay.relay_once() == 2
    relay.stop()
    assert relay.pending() == 0
    assert sorted(event_id for _, event_id in _read_all(settings, topic, 2)) == sorted(ids)
