"""At-least-once delivery with no second effect: the relay stopped and restarted, events
published twice, a poison message in the stream. All against the real broker and PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from kafka import KafkaConsumer, KafkaProducer
from sqlalchemy import func, update
from sqlmodel import Session, col, select

from painflow_assessment.tables import IntakeItem
from painflow_followup.tables import JourneyEvent
from painflow_shared.events.inbox import InboxEntry
from painflow_shared.events.outbox import OutboxMessage
from painflow_shared.events.topics import REFERRAL_TOPIC
from painflow_shared.events.types import ReferralEvent
from painflow_shared.testing.fixtures import wait_for
from painflow_shared.testing.infra import kafka_config

from .conftest import post_referral

pytestmark = pytest.mark.integration
N = 12


def _journey_steps(platform, patient_ids: list[str]) -> dict[str, int]:
    with Session(platform.runtime("followup").engine) as session:
        rows = session.exec(
            select(JourneyEvent.patient_id, func.count())
            .where(
                col(JourneyEvent.patient_id).in_(patient_ids),
                JourneyEvent.event_type == ReferralEvent.RECEIVED,
            )
            .group_by(JourneyEvent.patient_id)
        ).all()
    return {patient: count for patient, count in rows}


def _worklist_size(platform, request_ids: list[str]) -> int:
    with Session(platform.runtime("assessment").engine) as session:
        return int(
            session.exec(
                select(func.count())
                .select_from(IntakeItem)
                .where(col(IntakeItem.service_request_id).in_(request_ids))
            ).one()
        )


def test_referrals_posted_while_the_relay_is_down_arrive_once_each(platform):
    relay = platform.runtime("referral").relay
    relay.stop()
    try:
        posted = [post_referral(platform) for _ in range(N)]
        assert relay.pending() >= N, "the events wait in the outbox while the relay is down"
        patients = [p for p, _ in posted]
        assert _journey_steps(platform, patients) == {}
    finally:
        relay.start()
    wait_for(lambda: relay.pending() == 0, what="the outbox to drain")
    wait_for(
        lambda: len(_journey_steps(platform, patients)) == N, what="every referral in followup"
    )
    wait_for(
        lambda: _worklist_size(platform, [r for _, r in posted]) == N,
        what="every referral in assessment",
    )
    assert _journey_steps(platform, patients) == {p: 1 for p in patients}


def test_events_published_twice_have_one_effect(platform):
    posted = [post_referral(platform) for _ in range(4)]
    patients = [p for p, _ in posted]
    wait_for(lambda: len(_journey_steps(platform, patients)) == 4, what="first delivery")
    before = _duplicates_seen(platform)
    with Session(platform.runtime("referral").engine) as session:
        # as if the relay had crashed after the broker's ack, before marking the rows sent
        session.execute(
            update(OutboxMessage).where(col(OutboxMessage.key).in_(patients)).values(sent_at=None)
        )
        session.commit()
    wait_for(
        lambda: _duplicates_seen(platform) - before >= 4, what="the consumers to see the repeats"
    )
    assert _journey_steps(platform, patients) == {p: 1 for p in patients}


def _duplicates_seen(platform) -> int:
    return sum(c.stats.duplicates for c in platform.runtime("followup").consumers)


def test_poison_message_goes_to_the_dlq_and_the_partition_moves_on(platform, kafka):
    topic = platform.settings["referral"].topic(REFERRAL_TOPIC)
    producer = KafkaProducer(**kafka_config(kafka))
    key = f"poison-{uuid.uuid4().hex[:8]}".encode()
    producer.send(
        topic,
        key=key,
        value=b"{this is not FHIR",
        headers=[("ce_type", b"painflow.referral.received")],
    ).get(timeout=10)
    producer.close()
    patient_id, _ = post_referral(platform)
    wait_for(
        lambda: _journey_steps(platform, [patient_id]) == {patient_id: 1},
        what="the next referral after the poison",
    )

    dlq = KafkaConsumer(
        f"{topic}.dlq",
        **kafka_config(kafka),
        auto_offset_reset="earliest",
        consumer_timeout_ms=2000,
        group_id=None,
    )
    try:
        expected = {
            platform.settings[s].consumer_group for s in ("assessment", "scheduling", "followup")
        }
        seen: list = []

        def poisoned():
            seen.extend(r for r in dlq if r.key == key)
            groups = {dict(r.headers)["x-dlq-consumer-group"].decode() for r in seen}
            return seen if groups == expected else None

        records = wait_for(
            poisoned, timeout=30, what="the poison message in the DLQ from every consumer group"
        )
    finally:
        dlq.close()
    assert len(records) == 3
    headers = dict(records[0].headers)
    assert headers["x-dlq-reason"] == b"unparseable"
    assert headers["x-dlq-original-topic"].decode() == topic
    assert b"CloudEvents" in headers["x-dlq-error"]
    assert records[0].value == b"{this is not FHIR"


def test_inbox_rows_commit_with_the_effects(platform):
    patient_id, request_id = post_referral(platform)
    wait_for(lambda: _worklist_size(platform, [request_id]) == 1, what="the worklist")
    with Session(platform.runtime("referral").engine) as session:
        event_ids = [
            row.event_id
            for row in session.exec(
                select(OutboxMessage).where(OutboxMessage.key == patient_id)
            ).all()
        ]
    with Session(platform.runtime("assessment").engine) as session:
        handled = session.exec(
            select(InboxEntry).where(col(InboxEntry.event_id).in_(event_ids))
        ).all()
    assert event_ids and {row.event_id for row in handled} == set(event_ids)
