"""Replay scenario: a backlog of N referral events into one consumer (the assessment service).

The events are the referral service's own, from this run's outbox: each is cloned with every
UUID in it (event id, Patient, ServiceRequest, Condition ids... every id ``new_id`` makes) mapped
to a fresh one, so each clone is a new referral of a new patient, consistent inside itself and
valid against the contract. The other services are stopped first (their consumers would take
the same events and the CPU), the N records are produced onto the topics the referral service
publishes to, and the rate is read from the consumer's inbox: N over the time from its first to
its last ``handled_at`` of these events (the consumer's throughput on a backlog, with the
producer's time left out). Bounded by ``timeout``: what was handled by then is reported.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import psycopg
from deployed import Deployment
from kafka import KafkaProducer

from painflow_shared.testing.infra import kafka_config

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def templates(dep: Deployment, limit: int = 500) -> list[tuple[str, str, dict[str, str], str]]:
    with psycopg.connect(dep.db("referral")) as conn:
        rows = conn.execute(
            "SELECT topic, key, headers, payload FROM event_outbox"
            " WHERE sent_at IS NOT NULL ORDER BY seq LIMIT %s",
            (limit,),
        ).fetchall()
    return [(t, k, h, p) for t, k, h, p in rows]


def clone(record: tuple[str, str, dict[str, str], str]) -> tuple[str, str, dict[str, str], str]:
    """The same event about a new patient: every UUID in it replaced, consistently."""
    fresh: dict[str, str] = {}

    def swap(match: re.Match[str]) -> str:
        return fresh.setdefault(match.group(0), str(uuid.uuid4()))

    topic, key, headers, payload = record
    return (
        topic,
        UUID.sub(swap, key),
        {k: UUID.sub(swap, v) for k, v in headers.items()},
        UUID.sub(swap, payload),
    )


def produce(dep: Deployment, records: list[tuple[str, str, dict[str, str], str]]) -> float:
    producer = KafkaProducer(**kafka_config(dep.kafka), acks="all", linger_ms=5)
    started = time.monotonic()
    try:
        for topic, key, headers, payload in records:
            producer.send(
                topic,
                key=key.encode(),
                value=payload.encode(),
                headers=[(k, v.encode()) for k, v in headers.items()],
            )
        producer.flush(60)
    finally:
        producer.close(10)
    return time.monotonic() - started


def replay(dep: Deployment, count: int, timeout: float) -> dict[str, Any]:
    base = templates(dep)
    if not base:
        return {"error": "no published referral event to replay"}
    for name in ("referral", "scheduling", "followup"):
        dep.started.stop(name)
    records = [clone(base[i % len(base)]) for i in range(count)]
    ids = [headers["ce_id"] for _, _, headers, _ in records]
    produce_seconds = produce(dep, records)
    started = time.monotonic()
    handled: list[Any] = []
    while time.monotonic() - started < timeout:
        handled = _handled_times(dep, ids)
        if len(handled) >= count:
            break
        time.sleep(1.0)
    span = (max(handled) - min(handled)).total_seconds() if len(handled) > 1 else 0.0
    return {
        "events": count,
        "distinct_templates": len(base),
        "produce_seconds": round(produce_seconds, 2),
        "handled": len(handled),
        "first_to_last_handled_seconds": round(span, 2),
        "events_per_second": round(len(handled) / span, 1) if span > 0 else None,
        "timeout_seconds": timeout,
    }


def _handled_times(dep: Deployment, ids: list[str]) -> list[Any]:
    with psycopg.connect(dep.db("assessment")) as conn:
        rows = conn.execute(
            "SELECT handled_at FROM event_inbox WHERE consumer = %s AND event_id = ANY(%s)",
            (dep.consumer_group("assessment"), ids),
        ).fetchall()
    return [r[0] for r in rows]
