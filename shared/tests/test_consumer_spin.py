"""An idle consumer waits in poll(); one whose poll() keeps its thread busy without returning
anything is in kafka-python's lost-heartbeat state and rejoins (pure logic: a scripted
consumer stands in for KafkaConsumer, whose state cannot be provoked on demand)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from painflow_shared.events.consumer import SPINNING_POLLS, EventConsumer

from .conftest import scripted_consumer


class Scripted:
    """Assigned one partition; each poll waits or burns CPU for 30 ms and returns nothing."""

    config = {"client_id": "t-consumer"}

    def __init__(self, owner: EventConsumer, *, spin: bool, polls: int = 10) -> None:
        self.owner, self.spin, self.left, self.calls = owner, spin, polls, 0

    def assignment(self) -> set[str]:
        return {"partition-0"}

    def poll(self, timeout_ms: int) -> dict[Any, Any]:
        self.calls += 1
        self.left -= 1
        if self.left <= 0:
            self.owner._stop.set()  # the test's end
        until = time.monotonic() + 0.03
        if self.spin:
            while time.monotonic() < until:  # kafka-python's zero-wait fetch loop
                pass
        else:
            time.sleep(0.03)  # waiting for records, as a healthy poll does
        return {}


def test_a_poll_that_spins_without_records_makes_the_consumer_rejoin() -> None:
    consumer = scripted_consumer()
    spinning = Scripted(consumer, spin=True)
    with pytest.raises(RuntimeError, match="spins"):
        consumer._drain(spinning)  # type: ignore[arg-type]
    assert spinning.calls == SPINNING_POLLS  # noticed within a few polls, not after seconds


def test_a_spin_in_the_client_s_io_thread_counts_too() -> None:
    """kafka-python's fetch loop hands the work to its I/O thread while poll() waits on it."""
    consumer = scripted_consumer()
    waiting = Scripted(consumer, spin=False)
    done = threading.Event()

    def io_loop() -> None:
        while not done.is_set():
            pass

    io = threading.Thread(target=io_loop, name="kafka-io-t-consumer", daemon=True)
    io.start()
    try:
        with pytest.raises(RuntimeError, match="spins"):
            consumer._drain(waiting)  # type: ignore[arg-type]
    finally:
        done.set()
        io.join()
    assert waiting.calls == SPINNING_POLLS


def test_an_idle_poll_that_waits_is_left_alone() -> None:
    consumer = scripted_consumer()
    waiting = Scripted(consumer, spin=False, polls=10)
    consumer._drain(waiting)  # type: ignore[arg-type]  # returns when stopped, no rejoin
    assert waiting.calls == 10
