"""The overdue job with two replicas racing on the same PostgreSQL database: each Task past its
window gets exactly one ``followup-overdue`` (``SELECT ... FOR UPDATE SKIP LOCKED``)."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, select

from painflow_followup.app import followup_registry
from painflow_followup.handlers import FollowupHandlers
from painflow_followup.policies import load_policies
from painflow_shared.db import make_engine
from painflow_shared.events.outbox import OutboxMessage
from painflow_shared.events.types import FollowupEvent
from painflow_shared.service import event_source
from painflow_shared.testing.fixtures import wait_for
from painflow_shared.unit_of_work import UnitOfWorkFactory

from .api import api
from .conftest import post_referral
from .followup_events import ESI, now, procedure_performed, publish_scheduling

pytestmark = pytest.mark.integration
PROCEDURES = 6  # an ESI has 5 time points: 30 Tasks, all past their windows


def _replica(platform: Any) -> FollowupHandlers:
    """Another follow-up replica: its own engine on the same database."""
    settings = platform.settings["followup"]
    engine = make_engine(settings.database_url)
    units = UnitOfWorkFactory(engine, followup_registry(), event_source(settings))
    return FollowupHandlers(units, load_policies(), settings)


def _overdue_events(platform: Any, patient_id: str) -> Counter[str]:
    with Session(platform.runtime("followup").engine) as session:
        rows = session.exec(
            select(OutboxMessage).where(
                col(OutboxMessage.event_type) == FollowupEvent.FOLLOWUP_OVERDUE,
                col(OutboxMessage.key) == patient_id,
            )
        ).all()
    contracts = platform.runtime("followup").contracts
    tasks: Counter[str] = Counter()
    for row in rows:
        bundle = json.loads(row.payload)
        contracts.validate(row.headers, bundle)
        tasks[bundle["entry"][0]["resource"]["focus"][0]["reference"]] += 1
    return tasks


def test_two_replicas_racing_publish_one_overdue_event_per_task(platform, kafka):
    patient_id, _ = post_referral(platform)
    long_ago = now() - timedelta(days=800)
    for _ in range(PROCEDURES):
        headers, value, _, _ = procedure_performed(patient_id, cpt=ESI, end=long_ago)
        publish_scheduling(platform, kafka, headers, value)
    url = f"{platform.fhir('followup')}/Task"
    wait_for(
        lambda: (
            api.get(url, params={"patient": f"Patient/{patient_id}"}).json()["total"]
            == PROCEDURES * 5
        ),
        what="every plan's Tasks",
    )
    replicas = [_replica(platform), _replica(platform)]
    barrier = threading.Barrier(len(replicas))
    marked: list[int] = []

    def race(replica: FollowupHandlers) -> None:
        barrier.wait()
        marked.append(replica.mark_overdue())

    threads = [threading.Thread(target=race, args=(r,)) for r in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    per_task = _overdue_events(platform, patient_id)
    assert len(per_task) == PROCEDURES * 5
    assert set(per_task.values()) == {1}
    assert len(marked) == len(replicas), "a replica's pass failed"
    for replica in replicas:
        assert replica.mark_overdue() == 0
        replica.units.engine.dispose()
    overdue = api.get(url, params={"patient": f"Patient/{patient_id}"}).json()["entry"]
    assert {e["resource"]["businessStatus"]["coding"][0]["code"] for e in overdue} == {"overdue"}
