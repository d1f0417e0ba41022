"""Topic names (one per publishing service, plus a DLQ each) and their creation."""

from __future__ import annotations

import logging
import threading
import time

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from painflow_shared.events.clients import make_admin
from painflow_shared.events.limits import TOPIC_MAX_MESSAGE_BYTES
from painflow_shared.events.types import (  # noqa: F401  (the topic names' one home)
    ALL_TOPICS,
    ASSESSMENT_TOPIC,
    FOLLOWUP_TOPIC,
    REFERRAL_TOPIC,
    SCHEDULING_TOPIC,
)
from painflow_shared.settings import SharedSettings

log = logging.getLogger(__name__)


# Set on every topic we create, so the size limit does not depend on the broker's defaults.
TOPIC_CONFIGS = {"max.message.bytes": str(TOPIC_MAX_MESSAGE_BYTES)}


def dlq_topic(topic: str) -> str:
    return f"{topic}.dlq"


def ensure_topics(settings: SharedSettings, topics: tuple[str, ...] = ALL_TOPICS) -> None:
    """Create the topics (and their DLQs) if they are missing; existing ones are left alone
    (an operator changes an existing topic's ``max.message.bytes`` with kafka-configs.sh)."""
    names = [settings.topic(t) for t in topics] + [dlq_topic(settings.topic(t)) for t in topics]
    admin = make_admin(settings, client_id=f"{settings.service_name}-admin")
    try:
        existing = set(admin.list_topics())
        missing = [n for n in names if n not in existing]
        for name in missing:
            try:
                admin.create_topics([_new_topic(name, settings.topic_partitions)])
                log.info("created topic %s", name)
            except TopicAlreadyExistsError:
                pass
        _wait_until_led(admin, names)
    finally:
        admin.close()


def _new_topic(name: str, partitions: int) -> NewTopic:
    return NewTopic(
        name, num_partitions=partitions, replication_factor=1, topic_configs=TOPIC_CONFIGS
    )


def _wait_until_led(admin: KafkaAdminClient, names: list[str], timeout: float = 60.0) -> None:
    """Return once every partition of ``names`` has a leader.

    A consumer that joins its group before then is assigned nothing ("no partition metadata")
    and can sit idle until the next rebalance.
    """
    deadline = time.monotonic() + timeout
    while True:
        described = admin.describe_topics(names)
        ready = [
            t
            for t in described
            if not t.get("error_code")
            and t.get("partitions")
            and all(p.get("leader_id", -1) >= 0 for p in t["partitions"])
        ]
        if len(ready) == len(names):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"topics without leaders after {timeout}s: {len(names) - len(ready)}"
            )
        time.sleep(0.2)


class TopicSetup:
    """Creates the topics once per process, on the first connection that needs them."""

    def __init__(self, settings: SharedSettings) -> None:
        self.settings = settings
        self._done = False
        self._lock = threading.Lock()

    def ensure(self) -> None:
        with self._lock:
            if not self._done:
                ensure_topics(self.settings)
                self._done = True
