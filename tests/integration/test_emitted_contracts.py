"""Every event the referral service really emits matches its contract in contracts/."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, col, select

from painflow_shared.events.outbox import OutboxMessage
from painflow_shared.testing.factories import referral_bundle
from painflow_shared.testing.fixtures import wait_for

from .api import api
from .conftest import FHIR_JSON, post_referral
from .events_reader import referral_events_for

pytestmark = pytest.mark.integration


def _task(platform, request_id):
    url = f"{platform.fhir('referral')}/Task"
    return api.get(url, params={"focus": f"ServiceRequest/{request_id}"}).json()["entry"][0][
        "resource"
    ]


def _decide(platform, request_id, status, reason=None):
    task = {**_task(platform, request_id), "status": status}
    if reason:
        task["statusReason"] = {"text": reason}
    url = f"{platform.fhir('referral')}/Task/{task['id']}"
    assert api.put(url, json=task, headers=FHIR_JSON).status_code == 200


def test_every_referral_event_type_validates_against_its_schema(platform):
    _, accepted = post_referral(platform)
    _decide(platform, accepted, "accepted")
    _, rejected = post_referral(platform)
    _decide(platform, rejected, "rejected", "not a candidate")
    _, redirected = post_referral(platform, referral_bundle(condition_code="G83.4"))
    _, cancelled = post_referral(platform)
    current = api.get(f"{platform.fhir('referral')}/ServiceRequest/{cancelled}").json()
    revoke = {**current, "status": "revoked"}
    url = f"{platform.fhir('referral')}/ServiceRequest/{cancelled}"
    assert api.put(url, json=revoke, headers=FHIR_JSON).status_code == 200
    expected = {
        accepted: "painflow.referral.accepted",
        rejected: "painflow.referral.rejected",
        redirected: "painflow.referral.redirected",
        cancelled: "painflow.referral.cancelled",
    }
    for request_id, event_type in expected.items():
        wait_for(
            lambda r=request_id, e=event_type: e in referral_events_for(platform, r),
            what=event_type,
        )

    contracts = platform.runtime("referral").contracts
    with Session(platform.runtime("referral").engine) as session:
        rows = session.exec(
            select(OutboxMessage).where(col(OutboxMessage.sent_at).is_not(None))
        ).all()
    seen = set()
    for row in rows:
        contracts.validate(row.headers, json.loads(row.payload))  # raises ContractViolation
        seen.add(row.event_type)
    assert seen >= {"painflow.referral.received", *expected.values()}

    # and the consumers took every one of them (a contract breach would have been dead-lettered)
    closing = {
        accepted: "ready-for-intake",
        rejected: "closed-rejected",
        redirected: "closed-redirected",
        cancelled: "closed-cancelled",
    }
    for request_id, status in closing.items():
        url = f"{platform.url('assessment')}/worklist/{request_id}"
        wait_for(lambda u=url, s=status: api.get(u).json().get("status") == s, what=status)
