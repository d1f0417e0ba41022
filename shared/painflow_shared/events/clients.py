"""kafka-python clients configured once for the whole platform's delivery guarantees."""

from __future__ import annotations

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

from painflow_shared.events.limits import MAX_RECORD_BYTES, TOPIC_MAX_MESSAGE_BYTES
from painflow_shared.settings import SharedSettings


def make_producer(
    settings: SharedSettings, *, client_id: str, max_request_size: int = MAX_RECORD_BYTES
) -> KafkaProducer:
    """Idempotent, acks=all: an acknowledged send is on every in-sync replica, once.

    ``max_request_size`` caps one record: ``send()`` raises ``MessageSizeTooLargeError`` for a
    larger one before it reaches the broker (see events/limits.py).
    """
    return KafkaProducer(
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        max_in_flight_requests_per_connection=5,
        linger_ms=2,
        max_block_ms=5_000,
        request_timeout_ms=5_000,
        delivery_timeout_ms=15_000,
        max_request_size=max_request_size,
        **settings.kafka_client_config(),
    )


def make_consumer(settings: SharedSettings, *topics: str, group_id: str) -> KafkaConsumer:
    """Offsets are committed by hand after the effects are committed; never automatically."""
    return KafkaConsumer(
        *topics,
        client_id=f"{group_id}-consumer",
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        consumer_timeout_ms=200,
        max_poll_records=100,
        max_partition_fetch_bytes=TOPIC_MAX_MESSAGE_BYTES,  # the largest batch a topic takes
        session_timeout_ms=10_000,
        heartbeat_interval_ms=1_000,
        metadata_max_age_ms=5_000,  # see topics created after we subscribed within seconds
        fetch_min_bytes=settings.consumer_fetch_min_bytes,
        fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms,
        **settings.kafka_client_config(),
    )


def make_admin(settings: SharedSettings, *, client_id: str, **extra: object) -> KafkaAdminClient:
    """An admin client that gives up on an unreachable broker in seconds, not kafka-python's
    default 30 s, so the relay's first failure (and readiness) shows it promptly."""
    return KafkaAdminClient(
        client_id=client_id, bootstrap_timeout_ms=5_000, **extra, **settings.kafka_client_config()
    )
