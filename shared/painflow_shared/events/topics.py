"""Topic names (one per publishing service, plus a DLQ each) and their creation."""

from __future__ import annotations

import logging
import threading
import time

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError, TopicAuthorizationFailedError

from painflow_shared.events.acls import SERVICE_TOPICS
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
    (an operator changes an existing topic's ``max.message.bytes`` with kafka-configs.sh).

    A service's own principal may create only its own topic and the DLQs of what it consumes
    (events/acls.py): the others are its publishers' to create, so it skips them and waits for
    the topics it uses."""
    names = [settings.topic(t) for t in topics] + [dlq_topic(settings.topic(t)) for t in topics]
    admin = make_admin(settings, client_id=f"{settings.service_name}-admin")
    try:
        existing = set(admin.list_topics())  # only the topics this principal may describe
        for name in [n for n in names if n not in existing]:
            _create(admin, name, settings.topic_partitions)
        _wait_until_led(admin, [n for n in names if n in used_topics(settings, names)])
    finally:
        admin.close()


def used_topics(settings: SharedSettings, names: list[str]) -> set[str]:
    """The real names of the topics the service writes or reads (all, for any other client)."""
    access = SERVICE_TOPICS.get(settings.service_name)
    if access is None:
        return set(names)
    return {settings.topic(t) for t in (*access.writes(), *access.consumes)}


def _create(admin: KafkaAdminClient, name: str, partitions: int) -> None:
    try:
        admin.create_topics([_new_topic(name, partitions)])
        log.info("created topic %s", name)
    except TopicAlreadyExistsError:
        pass
    except TopicAuthorizationFailedError:
        log.debug("not allowed to create topic %s: left to the principal that may", name)


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
