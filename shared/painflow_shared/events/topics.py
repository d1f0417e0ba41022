"""Topic names (one per publishing service, plus a DLQ each) and their creation."""

from __future__ import annotations

import logging
import threading

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from painflow_shared.settings import SharedSettings

log = logging.getLogger(__name__)

REFERRAL_TOPIC = "painflow.referral.v1"
ASSESSMENT_TOPIC = "painflow.assessment.v1"
SCHEDULING_TOPIC = "painflow.scheduling.v1"
FOLLOWUP_TOPIC = "painflow.followup.v1"
ALL_TOPICS = (REFERRAL_TOPIC, ASSESSMENT_TOPIC, SCHEDULING_TOPIC, FOLLOWUP_TOPIC)


def dlq_topic(topic: str) -> str:
    return f"{topic}.dlq"


def ensure_topics(settings: SharedSettings, topics: tuple[str, ...] = ALL_TOPICS) -> None:
    """Create the topics (and their DLQs) if they are missing; existing ones are left alone."""
    names = [settings.topic(t) for t in topics] + [dlq_topic(settings.topic(t)) for t in topics]
    admin = KafkaAdminClient(
        client_id=f"{settings.service_name}-admin", **settings.kafka_client_config()
    )
    try:
        existing = set(admin.list_topics())
        missing = [n for n in names if n not in existing]
        for name in missing:
            try:
                admin.create_topics(
                    [NewTopic(name, num_partitions=settings.topic_partitions, replication_factor=1)]
                )
                log.info("created topic %s", name)
            except TopicAlreadyExistsError:
                pass
    finally:
        admin.close()


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
