"""The relay's pure parts: which failures park a row, how a reason is written, and which relay
a commit wakes when several share one process (two SQLite databases, no broker)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import errors
from sqlalchemy import Engine
from sqlmodel import SQLModel

from painflow_shared.db import make_engine, session_scope
from painflow_shared.events.envelope import build_event
from painflow_shared.events.failures import describe, is_permanent
from painflow_shared.events.outbox import OutboxMessage, record_event
from painflow_shared.events.relay import OutboxRelay
from painflow_shared.fhir.errors import PayloadTooLarge

PERMANENT = [
    errors.MessageSizeTooLargeError("The message is 2000000 bytes when serialized"),
    errors.RecordListTooLargeError(),
    errors.InvalidRecordError(),
    errors.CorruptRecordError(),
    TypeError("Unsupported type for serialized value"),
    UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"),
]
RETRIABLE = [
    errors.KafkaTimeoutError("Failed to update metadata after 5.0 secs."),
    errors.NotLeaderForPartitionError(),
    errors.KafkaConnectionError(),
    errors.UnknownTopicOrPartitionError(),
    errors.NotEnoughReplicasError(),
    errors.TopicAuthorizationFailedError(),  # the producer's fault, not the record's
    errors.IllegalStateError("KafkaProducer already closed!"),
    TimeoutError("no acknowledgement"),
]


@pytest.mark.parametrize("error", PERMANENT, ids=lambda e: type(e).__name__)
def test_errors_of_the_record_itself_are_permanent(error):
    assert is_permanent(error)


@pytest.mark.parametrize("error", RETRIABLE, ids=lambda e: type(e).__name__)
def test_errors_of_the_broker_or_the_producer_are_retried(error):
    assert not is_permanent(error)


def test_a_reason_names_the_error_and_never_quotes_the_record():
    too_large = errors.MessageSizeTooLargeError("The message is 2000000 bytes when serialized")
    assert describe(too_large) == (
        "MessageSizeTooLargeError: The message is 2000000 bytes when serialized"
    )
    encoding = UnicodeEncodeError("utf-8", "Smith\ud800", 5, 6, "surrogates not allowed")
    assert "Smith" not in describe(encoding) and describe(encoding).startswith("UnicodeEncode")
    assert describe(errors.MessageSizeTooLargeError()) == "MessageSizeTooLargeError"


def _event(patient: str, padding: int = 0):
    include = [{"resourceType": "DocumentReference", "id": "d", "description": "x" * padding}]
    return build_event(
        event_type="painflow.referral.received",
        service="referral",
        base_url="http://x/fhir",
        patient_id=patient,
        focus=[{"resourceType": "Patient", "id": patient}],
        include=include,
    )


@pytest.fixture
def engines(tmp_path: Path) -> Iterator[tuple[Engine, Engine]]:
    pair = tuple(make_engine(f"sqlite:///{tmp_path / name}.db") for name in ("a", "b"))
    for engine in pair:
        SQLModel.metadata.create_all(engine, tables=[OutboxMessage.__table__])  # type: ignore[list-item]
    yield pair  # type: ignore[misc]
    for engine in pair:
        engine.dispose()


def _listening(engine: Engine) -> OutboxRelay:
    """A relay that listens for commits but runs no thread, so its wake flag stays observable."""
    relay = OutboxRelay(engine=engine, producer_factory=lambda: None)  # type: ignore[arg-type,return-value]
    relay.listen_for_commits()
    return relay


@pytest.mark.parametrize("first", ["a", "b"])
def test_a_commit_wakes_only_the_relay_of_its_own_database(engines, first):
    engine_a, engine_b = engines
    relays = {}
    for name in (first, "b" if first == "a" else "a"):  # listeners run in registration order
        relays[name] = _listening(engine_a if name == "a" else engine_b)
    try:
        with session_scope(engine_b) as session:
            record_event(session, "topic", _event("p1"))
        assert relays["b"].wake_pending and not relays["a"].wake_pending
        with session_scope(engine_a) as session:
            record_event(session, "topic", _event("p2"))
        assert relays["a"].wake_pending
    finally:
        for relay in relays.values():
            relay.stop()


def test_record_event_refuses_an_event_over_the_limit_and_stages_nothing(engines):
    engine, _ = engines
    with pytest.raises(PayloadTooLarge) as refused, session_scope(engine) as session:
        record_event(session, "topic", _event("p1", padding=5000), max_bytes=4000)
    message = refused.value.diagnostics
    assert "4000-byte limit" in message and "xxxx" not in message
    assert refused.value.status == 413
    assert OutboxRelay(engine=engine, producer_factory=lambda: None).pending() == 0  # type: ignore[arg-type,return-value]
