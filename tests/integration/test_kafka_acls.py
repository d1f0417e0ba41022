"""The broker authenticates every client and lets each service's principal use only its topics.

The ACLs come from painflow_shared/events/acls.py, applied for this run's scratch prefix; the
clients are the ones the services use (make_producer, make_consumer), as each principal.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError, TopicAuthorizationFailedError

from painflow_shared.events.acls import apply_acls, platform_acls
from painflow_shared.events.clients import make_consumer, make_producer
from painflow_shared.events.topics import ensure_topics
from painflow_shared.events.types import (
    ASSESSMENT_TOPIC,
    FOLLOWUP_TOPIC,
    REFERRAL_TOPIC,
)
from painflow_shared.settings import SharedSettings, dev_kafka_password
from painflow_shared.testing.fixtures import wait_for
from painflow_shared.testing.infra import kafka_config

pytestmark = pytest.mark.integration


def as_user(kafka: str, prefix: str, user: str, password: str | None = None) -> SharedSettings:
    """Settings of a client authenticated as ``user`` (kafka.sh's password for it by default)."""
    env = os.environ.get(f"KAFKA_PASSWORD_{user.upper()}")
    secret = password or env or dev_kafka_password(user)
    return SharedSettings(
        service_name=f"acl-{user}",
        kafka_bootstrap_servers=kafka,
        kafka_sasl_username=user,
        kafka_sasl_password=secret,
        topic_prefix=prefix,
        topic_partitions=1,
        trace_console=False,
    )


@pytest.fixture(scope="module")
def scratch(kafka: str, run_id: str) -> Iterator[tuple[str, str]]:
    """(topic prefix, group suffix): this module's topics, with every service's ACLs on them."""
    prefix, suffix = f"test-{run_id}-acl{uuid.uuid4().hex[:6]}.", f"-{run_id}"
    admin_settings = as_user(kafka, prefix, "admin")
    ensure_topics(admin_settings)
    admin = KafkaAdminClient(client_id="acl-test", **admin_settings.kafka_client_config())
    acls = list(platform_acls(prefix, suffix))
    apply_acls(admin, acls)
    try:
        yield prefix, suffix
    finally:
        admin.delete_acls(acls)
        admin.delete_topics([t for t in admin.list_topics() if t.startswith(prefix)])
        admin.close()


def records_on(kafka: str, topic: str) -> int:
    """How many records ``topic`` holds, read as admin."""
    consumer = KafkaConsumer(**kafka_config(kafka), group_id=None)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        return sum(consumer.end_offsets(partitions).values())
    finally:
        consumer.close()


def test_a_service_cannot_publish_on_another_services_topic(
    kafka: str, scratch: tuple[str, str]
) -> None:
    prefix, _ = scratch
    assessment = as_user(kafka, prefix, "assessment")
    forger = make_producer(assessment, client_id="forger")
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            forger.send(prefix + REFERRAL_TOPIC, key=b"p1", value=b"{}").get(timeout=10)
    finally:
        forger.close()  # the refusal is fatal to an idempotent producer
    assert records_on(kafka, prefix + REFERRAL_TOPIC) == 0
    # its own topic, and the DLQ of a topic it consumes
    producer = make_producer(assessment, client_id="assessment")
    try:
        for topic in (prefix + ASSESSMENT_TOPIC, prefix + REFERRAL_TOPIC + ".dlq"):
            assert producer.send(topic, key=b"p1", value=b"{}").get(timeout=10).topic == topic
    finally:
        producer.close()


def test_a_wrong_password_is_refused_at_authentication(
    kafka: str, scratch: tuple[str, str]
) -> None:
    topic = scratch[0] + ASSESSMENT_TOPIC
    before = records_on(kafka, topic)
    wrong = as_user(kafka, scratch[0], "assessment", password="not-the-password")
    with pytest.raises(KafkaError):  # the broker logs "invalid credentials" and hangs up
        KafkaAdminClient(**wrong.kafka_client_config(), bootstrap_timeout_ms=3000)
    with pytest.raises(KafkaError):  # give up in seconds, not kafka-python's default 30 s
        KafkaProducer(
            **wrong.kafka_client_config(), bootstrap_timeout_ms=3000, max_block_ms=3000
        ).send(topic, value=b"{}").get(timeout=5)
    assert records_on(kafka, topic) == before
    # the same client with the right password connects: only the password was refused
    right = KafkaAdminClient(**as_user(kafka, scratch[0], "assessment").kafka_client_config())
    assert topic in right.list_topics()
    right.close()


def test_an_unauthenticated_plaintext_client_gets_nothing_through(
    kafka: str, scratch: tuple[str, str]
) -> None:
    with pytest.raises(KafkaError):
        KafkaProducer(
            bootstrap_servers=kafka,
            security_protocol="PLAINTEXT",
            max_block_ms=3000,
            bootstrap_timeout_ms=3000,
        ).send(scratch[0] + REFERRAL_TOPIC, value=b"{}").get(timeout=5)
    assert records_on(kafka, scratch[0] + REFERRAL_TOPIC) == 0


def test_a_consumer_reads_what_its_service_consumes_and_nothing_else(
    kafka: str, scratch: tuple[str, str]
) -> None:
    prefix, suffix = scratch
    admin = KafkaProducer(**kafka_config(kafka))
    admin.send(prefix + REFERRAL_TOPIC, key=b"p2", value=b"referral event").get(timeout=10)
    admin.close()
    scheduling = as_user(kafka, prefix, "scheduling")
    group = f"painflow-scheduling{suffix}"
    consumer = make_consumer(scheduling, prefix + REFERRAL_TOPIC, group_id=group)
    try:
        got = wait_for(lambda: _poll_values(consumer), timeout=30, what="the referral event")
    finally:
        consumer.close()
    assert got == [b"referral event"]
    # scheduling does not consume the follow-up topic: the broker refuses it even the offsets
    outsider = make_consumer(scheduling, group_id=group)
    outsider.assign([TopicPartition(prefix + FOLLOWUP_TOPIC, 0)])
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            wait_for(lambda: _poll_values(outsider), timeout=15, what="a refusal")
    finally:
        outsider.close()


def _poll_values(consumer: KafkaConsumer) -> list[bytes]:
    batches = consumer.poll(timeout_ms=500)
    return [record.value for records in batches.values() for record in records]
