"""Every event the assessment service really emits matches its contract in contracts/: each of
its six event types is caused over HTTP and read back from the service's published outbox."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, col, select

from painflow_shared.events.outbox import OutboxMessage
from painflow_shared.events.types import AssessmentEvent
from painflow_shared.testing.fixtures import wait_for

from .api import api
from .conftest import FHIR_JSON
from .test_assessment_journey import accept_referral, answer_intake

pytestmark = pytest.mark.integration


def _sent(platform) -> list[OutboxMessage]:
    with Session(platform.runtime("assessment").engine) as session:
        return list(
            session.exec(select(OutboxMessage).where(col(OutboxMessage.sent_at).is_not(None))).all()
        )


def test_every_assessment_event_type_validates_against_its_schema(platform):
    answer_intake(platform, accept_referral(platform))  # started, completed
    answer_intake(platform, accept_referral(platform), phq9_total=20)  # not-candidate
    flagged = accept_referral(platform)
    answer_intake(platform, flagged, item9=2)  # safety-flag
    base = platform.fhir("assessment")
    order = {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "subject": {"reference": f"Patient/{flagged}"},
        "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "27096"}]},
    }
    created = api.post(f"{base}/ServiceRequest", json=order, headers=FHIR_JSON)
    assert created.status_code == 201, created.text  # procedure-ordered
    revoke = {**created.json(), "status": "revoked"}
    revoked = api.put(f"{base}/ServiceRequest/{revoke['id']}", json=revoke, headers=FHIR_JSON)
    assert revoked.status_code == 200, revoked.text  # order-revoked

    wanted = set(AssessmentEvent)
    wait_for(lambda: wanted <= {row.event_type for row in _sent(platform)}, what="every type")
    contracts = platform.runtime("assessment").contracts
    for row in _sent(platform):
        contracts.validate(row.headers, json.loads(row.payload))  # raises ContractViolation
