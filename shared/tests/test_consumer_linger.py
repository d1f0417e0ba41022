"""The consumer's linger (PAINFLOW_CONSUMER_LINGER_MS): after a batch that did not fill a poll
it waits before polling again, so that under load the next batch gathers more events; a full
batch or an empty poll goes straight on (pure control flow: a scripted consumer stands in for
KafkaConsumer, and the batches' handling is recorded, not run)."""

from __future__ import annotations

import time
from typing import Any

from painflow_shared.events.consumer import EventConsumer
from painflow_shared.settings import SharedSettings

from .conftest import scripted_consumer

MAX_POLL_RECORDS = 4


class Record:
    def __init__(self, offset: int) -> None:
        self.topic, self.partition, self.offset = "t", 0, offset


class Scripted:
    """Each poll returns the next scripted number of records at once (no broker wait)."""

    config = {"client_id": "t-consumer", "max_poll_records": MAX_POLL_RECORDS}

    def __init__(self, owner: EventConsumer, sizes: list[int]) -> None:
        self.owner, self.sizes, self.offset = owner, list(sizes), 0
        self.polled_at: list[float] = []

    def assignment(self) -> set[str]:
        return {"partition-0"}

    def poll(self, timeout_ms: int) -> dict[Any, list[Record]]:
        self.polled_at.append(time.monotonic())
        if not self.sizes:
            self.owner._stop.set()  # the test's end
            return {}
        records = [Record(self.offset + i) for i in range(self.sizes.pop(0))]
        self.offset += len(records)
        return {"t-0": records} if records else {}

    def commit_async(self, offsets: Any) -> None:
        pass


def _consumer(linger_seconds: float) -> tuple[EventConsumer, list[int]]:
    consumer = scripted_consumer(linger_seconds=linger_seconds)
    batches: list[int] = []
    consumer.process_batch = lambda records: batches.append(len(records))
    return consumer, batches


def _gaps(scripted: Scripted) -> list[float]:
    return [b - a for a, b in zip(scripted.polled_at, scripted.polled_at[1:], strict=False)]


def test_after_a_batch_that_did_not_fill_the_poll_the_consumer_waits_its_linger() -> None:
    consumer, batches = _consumer(0.2)
    scripted = Scripted(consumer, [2, 1])
    consumer._drain(scripted)
    assert batches == [2, 1]
    gaps = _gaps(scripted)
    assert gaps[0] >= 0.2 and gaps[1] >= 0.2  # each partial batch: the next poll 200 ms later


def test_a_full_batch_or_an_empty_poll_polls_again_at_once() -> None:
    consumer, batches = _consumer(0.2)
    scripted = Scripted(consumer, [MAX_POLL_RECORDS, 0, MAX_POLL_RECORDS])
    consumer._drain(scripted)
    assert batches == [MAX_POLL_RECORDS, MAX_POLL_RECORDS]
    assert max(_gaps(scripted)) < 0.15  # a backlog is drained without pauses


def test_without_a_linger_the_next_poll_follows_at_once() -> None:
    consumer, batches = _consumer(0.0)
    scripted = Scripted(consumer, [1, 1, 1])
    consumer._drain(scripted)
    assert batches == [1, 1, 1]
    assert max(_gaps(scripted)) < 0.15


def test_stopping_ends_a_linger_at_once() -> None:
    consumer, _ = _consumer(30.0)
    scripted = Scripted(consumer, [1])
    scripted.poll = _stop_after(scripted, consumer)  # type: ignore[method-assign]
    started = time.monotonic()
    consumer._drain(scripted)
    assert time.monotonic() - started < 5  # not the 30 s linger


def _stop_after(scripted: Scripted, consumer: EventConsumer) -> Any:
    poll = scripted.poll

    def polling(timeout_ms: int) -> dict[Any, list[Record]]:
        result = poll(timeout_ms)
        consumer._stop.set()  # e.g. the service shutting down while the consumer lingers
        return result

    return polling


def test_the_linger_is_a_setting_in_milliseconds(monkeypatch: Any) -> None:
    monkeypatch.setenv("PAINFLOW_CONSUMER_LINGER_MS", "40")
    assert SharedSettings().consumer_linger_ms == 40
