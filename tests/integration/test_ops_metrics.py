"""The metrics an SRE watches move as they should: consumer lag, handler outcomes and latency,
relay publish latency, DLQ depth. Read from /metrics, on the real broker and PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from kafka import KafkaProducer

from painflow_shared.events.topics import REFERRAL_TOPIC, dlq_topic
from painflow_shared.events.types import ReferralEvent
from painflow_shared.testing.fixtures import wait_for
from painflow_shared.testing.infra import kafka_config

from .conftest import post_referral
from .metrics_reader import total

pytestmark = pytest.mark.integration
RECEIVED = str(ReferralEvent.RECEIVED)


def _lag(platform, service: str, topic: str) -> float:
    group = platform.settings[service].consumer_group
    return total(platform.url(service), "painflow_consumer_lag", topic=topic, group=group)


def test_lag_rises_while_a_consumer_is_stopped_and_falls_after_it_resumes(platform):
    topic = platform.settings["referral"].topic(REFERRAL_TOPIC)
    consumer = platform.runtime("followup").consumers[0]
    wait_for(lambda: _lag(platform, "followup", topic) == 0, timeout=60, what="no lag at first")
    consumer.stop()
    try:
        for _ in range(3):
            post_referral(platform)
        wait_for(
            lambda: _lag(platform, "followup", topic) >= 3,
            timeout=60,
            what="the stopped consumer's lag to show the three events",
        )
    finally:
        consumer.start()
    wait_for(lambda: consumer.assigned, timeout=60, what="the consumer to rejoin its group")
    wait_for(
        lambda: _lag(platform, "followup", topic) == 0,
        timeout=60,
        what="the lag to fall back to zero once the consumer resumed",
    )


def test_handler_outcomes_latency_and_relay_latency(platform):
    followup, referral = platform.url("followup"), platform.url("referral")
    handled = {"event_type": RECEIVED, "outcome": "handled"}
    before = total(followup, "painflow_consumer_events_total", **handled)
    latency_before = total(followup, "painflow_handler_seconds_count", event_type=RECEIVED)
    published_before = total(referral, "painflow_relay_publish_seconds_count", event_type=RECEIVED)
    post_referral(platform)
    wait_for(
        lambda: total(followup, "painflow_consumer_events_total", **handled) == before + 1,
        what="followup to count one more handled referral",
    )
    assert total(followup, "painflow_handler_seconds_count", event_type=RECEIVED) == (
        latency_before + 1
    )
    assert total(referral, "painflow_relay_publish_seconds_count", event_type=RECEIVED) == (
        published_before + 1
    )
    assert total(referral, "painflow_relay_publish_seconds_sum", event_type=RECEIVED) > 0


def test_a_dead_letter_is_counted_and_deepens_the_dlq(platform, kafka):
    topic = platform.settings["referral"].topic(REFERRAL_TOPIC)
    followup = platform.url("followup")
    dead = {"event_type": "unknown", "outcome": "dead_lettered"}
    before = total(followup, "painflow_consumer_events_total", **dead)
    depth_before = total(followup, "painflow_dlq_depth", topic=dlq_topic(topic))
    producer = KafkaProducer(**kafka_config(kafka))
    key = f"poison-{uuid.uuid4().hex[:8]}".encode()
    producer.send(topic, key=key, value=b"{not FHIR", headers=[("ce_type", b"x")]).get(timeout=10)
    producer.close()
    wait_for(
        lambda: total(followup, "painflow_consumer_events_total", **dead) == before + 1,
        what="followup to count the dead letter",
    )
    # assessment, scheduling and followup each dead-letter it into the same DLQ
    wait_for(
        lambda: total(followup, "painflow_dlq_depth", topic=dlq_topic(topic)) >= depth_before + 3,
        timeout=30,
        what="the DLQ depth to rise by three",
    )
