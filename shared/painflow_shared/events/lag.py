"""Consumer lag and DLQ depth, read from the broker the way an external lag exporter does.

Lag is the group's committed offset against each partition's end offset (what
``kafka-consumer-groups.sh --describe`` prints), read with clients of its own rather than by the
consumer thread: a consumer that has stopped, crashed or is stuck in a handler is exactly when
its lag must still move. Samples are taken at most every ``min_interval`` seconds (a scrape or a
readiness probe asks; a sample a few seconds old answers). The DLQ depth is how many records
each ``<topic>.dlq`` holds (end minus beginning offsets: Kafka never deletes one before its
retention).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from kafka import KafkaAdminClient, KafkaConsumer
from kafka.structs import TopicPartition

from painflow_shared.events.clients import make_admin
from painflow_shared.events.topics import dlq_topic
from painflow_shared.settings import SharedSettings

log = logging.getLogger(__name__)

# A lag above this many events that rose over every sample of the window is not "a burst".
LAG_THRESHOLD = 1000
GROWTH_WINDOW_SECONDS = 60.0
MIN_INTERVAL_SECONDS = 5.0
_TIMEOUT_MS = 3000


@dataclass(frozen=True)
class LagSample:
    taken_at: float  # time.monotonic()
    lag: dict[TopicPartition, int]  # per partition of the subscribed topics
    dlq_depth: dict[str, int]  # records in each <topic>.dlq

    @property
    def total(self) -> int:
        return sum(self.lag.values())


def lag_keeps_growing(
    history: list[LagSample], threshold: int = LAG_THRESHOLD, window: float = GROWTH_WINDOW_SECONDS
) -> bool:
    """Above ``threshold`` and never fell across at least three samples spanning half the window.

    A burst that the consumer is working through falls between samples; one that it cannot keep
    up with (or a consumer that stopped) only rises.
    """
    if len(history) < 3 or history[-1].total <= threshold:
        return False
    if history[-1].taken_at - history[0].taken_at < window / 2:
        return False
    totals = [s.total for s in history]
    return all(b >= a for a, b in itertools.pairwise(totals)) and totals[-1] > totals[0]


@dataclass
class LagMonitor:
    """Samples one consumer group's lag on ``topics`` and the depth of their DLQs."""

    settings: SharedSettings
    group: str
    topics: list[str]
    min_interval: float = MIN_INTERVAL_SECONDS
    window: float = GROWTH_WINDOW_SECONDS
    clock: Callable[[], float] = time.monotonic
    _history: deque[LagSample] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _clients: tuple[KafkaConsumer, KafkaAdminClient] | None = None

    def latest(self) -> LagSample | None:
        """A sample at most ``min_interval`` old, taken now if needed; None when the broker
        cannot be read (the previous samples stay for the growth check)."""
        with self._lock:
            now = self.clock()
            if self._history and now - self._history[-1].taken_at < self.min_interval:
                return self._history[-1]
            try:
                sample = self._sample(now)
            except Exception:
                log.warning("cannot read the lag of group %s", self.group, exc_info=True)
                self._close_clients()
                return None
            self._history.append(sample)
            while now - self._history[0].taken_at > self.window:
                self._history.popleft()
            return sample

    def growing(self, threshold: int = LAG_THRESHOLD) -> bool:
        self.latest()
        with self._lock:
            return lag_keeps_growing(list(self._history), threshold, self.window)

    def close(self) -> None:
        with self._lock:
            self._close_clients()

    def _sample(self, now: float) -> LagSample:
        consumer, admin = self._connected()
        partitions = _partitions(consumer, self.topics)
        dlqs = _partitions(consumer, [dlq_topic(t) for t in self.topics])
        end = consumer.end_offsets(partitions + dlqs, timeout_ms=_TIMEOUT_MS)
        start = consumer.beginning_offsets(partitions + dlqs, timeout_ms=_TIMEOUT_MS)
        committed = admin.list_group_offsets(self.group).get(self.group, {})
        lag = {}
        for tp in partitions:
            done = committed.get(tp)
            position = done.offset if done is not None and done.offset >= 0 else start[tp]
            lag[tp] = max(end[tp] - position, 0)
        depth: dict[str, int] = {}
        for tp in dlqs:
            depth[tp.topic] = depth.get(tp.topic, 0) + end[tp] - start[tp]
        return LagSample(taken_at=now, lag=lag, dlq_depth=depth)

    def _connected(self) -> tuple[KafkaConsumer, KafkaAdminClient]:
        if self._clients is None:
            config = self.settings.kafka_client_config()
            name = f"{self.settings.service_name}-lag"
            consumer = KafkaConsumer(
                client_id=name, group_id=None, enable_auto_commit=False, **config
            )
            self._clients = (consumer, make_admin(self.settings, client_id=name))
        return self._clients

    def _close_clients(self) -> None:
        if self._clients is not None:
            for client in self._clients:
                try:
                    client.close()
                except Exception:  # a client that lost its broker may fail to close
                    log.debug("closing a lag client", exc_info=True)
            self._clients = None


def _partitions(consumer: KafkaConsumer, topics: list[str]) -> list[TopicPartition]:
    """The partitions of the topics that exist (topics are created when a service starts)."""
    found = []
    for topic in topics:
        for partition in sorted(consumer.partitions_for_topic(topic) or ()):
            found.append(TopicPartition(topic, partition))
    return found
