"""The referral handlers through the very code production runs, on an in-memory SQLite unit of
work: no PostgreSQL, no Kafka, no HTTP. What a handler records is what reaches the outbox."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, select

from painflow_referral.app import MIGRATIONS
from painflow_referral.handlers import ReferralHandlers
from painflow_referral.policies import load_policy
from painflow_referral.remote import RemoteFhir
from painflow_referral.search import referral_registry
from painflow_referral.tables import ReferralCase
from painflow_shared.codes import CodeSystem, NextStep
from painflow_shared.events.envelope import build_event
from painflow_shared.events.outbox import OutboxMessage
from painflow_shared.events.types import FollowupEvent, ReferralEvent
from painflow_shared.fhir.remote_client import RemoteFhirClient
from painflow_shared.fhir.remote_policy import RemotePolicy
from painflow_shared.testing.factories import referral_bundle
from painflow_shared.unit_of_work import EventSource, in_memory_units

TODAY = date(2026, 11, 23)


@pytest.fixture
def handlers() -> ReferralHandlers:
    source = EventSource("referral", "http://referral.test/fhir", topic_prefix="unit.")
    units = in_memory_units(MIGRATIONS, referral_registry(), source)
    remote = RemoteFhir(RemoteFhirClient(policy=RemotePolicy(), max_bytes=1024))
    return ReferralHandlers(
        units=units,
        policy=load_policy(),
        remote_policy=RemotePolicy(),
        remote=remote,
        today=lambda: TODAY,
    )


def _outbox(handlers: ReferralHandlers) -> list[tuple[str, str]]:
    with Session(handlers.units.engine) as session:
        rows = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.seq))).all()
    return [(row.event_type, row.topic) for row in rows]


def _case(handlers: ReferralHandlers) -> ReferralCase:
    with Session(handlers.units.engine) as session:
        return session.exec(select(ReferralCase)).one()


def _task(handlers: ReferralHandlers) -> dict[str, Any]:
    case = _case(handlers)
    return handlers.run(lambda ctx: ctx.store.read("Task", case.task_id))


def test_a_referral_opens_a_case_and_records_received_on_the_referral_topic(handlers):
    response = handlers.submit_transaction(referral_bundle(onset=TODAY - timedelta(weeks=30)))

    statuses = [entry["response"]["status"] for entry in response["entry"]]
    assert statuses == ["201 Created"] * 3
    assert _outbox(handlers) == [(ReferralEvent.RECEIVED, "unit.painflow.referral.v1")]
    task = _task(handlers)
    assert task["status"] == "received"
    assert task["businessStatus"]["coding"][0]["code"] == "awaiting-coordinator"


def test_a_red_flag_is_received_then_redirected_in_one_unit_of_work(handlers):
    handlers.submit_transaction(referral_bundle(condition_code="G83.4"))

    assert [t for t, _ in _outbox(handlers)] == [ReferralEvent.RECEIVED, ReferralEvent.REDIRECTED]
    assert _task(handlers)["status"] == "rejected"


def test_the_same_referral_again_is_a_replay_with_no_new_event(handlers):
    bundle = referral_bundle()
    first = handlers.submit_transaction(bundle)
    again = handlers.submit_transaction(bundle)

    assert [e["response"]["location"] for e in again["entry"]] == [
        e["response"]["location"] for e in first["entry"]
    ]
    assert {e["response"]["status"] for e in again["entry"]} == {"200 OK"}
    assert len(_outbox(handlers)) == 1


def test_a_coordinator_acceptance_records_accepted(handlers):
    handlers.submit_transaction(referral_bundle())
    task = _task(handlers)

    handlers.update_task({**task, "status": "accepted"}, if_match=None)

    assert [t for t, _ in _outbox(handlers)][-1] == ReferralEvent.ACCEPTED
    assert _task(handlers)["status"] == "accepted"


def test_a_failed_command_leaves_nothing_behind(handlers):
    handlers.submit_transaction(referral_bundle())
    task = _task(handlers)

    with pytest.raises(Exception, match="statusReason"):
        handlers.update_task({**task, "status": "rejected"}, if_match=None)

    assert _task(handlers)["status"] == "received"
    assert len(_outbox(handlers)) == 1


def _next_step(patient_id: str, code: str) -> Any:
    proposal = {
        "resourceType": "ServiceRequest",
        "id": "next-1",
        "status": "active",
        "intent": "proposal",
        "code": {"coding": [{"system": CodeSystem.NEXT_STEP, "code": code}]},
        "subject": {"reference": f"Patient/{patient_id}"},
    }
    return build_event(
        event_type=FollowupEvent.NEXT_STEP,
        service="followup",
        base_url="http://followup.test/fhir",
        patient_id=patient_id,
        focus=[proposal],
        include=[],
    )


def test_follow_up_events_move_the_accepted_referral_on_until_discharge(handlers):
    handlers.submit_transaction(referral_bundle())
    handlers.update_task({**_task(handlers), "status": "accepted"}, if_match=None)
    handle = handlers.event_handlers()[FollowupEvent.NEXT_STEP]
    patient_id = _case(handlers).patient_id

    with handlers.units.begin() as uow:
        handle(uow, _next_step(patient_id, NextStep.SECOND_COMPARATIVE_BLOCK))
    assert _task(handlers)["status"] == "in-progress"

    with handlers.units.begin() as uow:
        handle(uow, _next_step(patient_id, NextStep.DISCHARGE))
    assert _task(handlers)["status"] == "completed"


def test_the_referral_hears_the_assessment_scheduling_and_follow_up_topics(handlers):
    topics = handlers.subscriptions()
    assert set(topics) == {
        "painflow.assessment.v1",
        "painflow.scheduling.v1",
        "painflow.followup.v1",
    }
    assert FollowupEvent.NEXT_STEP in topics["painflow.followup.v1"]
    assert ReferralEvent.RECEIVED not in {t for table in topics.values() for t in table}
