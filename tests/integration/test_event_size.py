"""Events are bounded at the door: a referral whose event could never be delivered is refused
(413, nothing stored or staged), and a document's content travels by reference, not inline."""

from __future__ import annotations

import base64
import json
import os

import pytest
from sqlmodel import Session, col, select

from painflow_shared.events.limits import MAX_EVENT_BYTES
from painflow_shared.events.outbox import OutboxMessage
from painflow_shared.testing.factories import EHR_PATIENT_SYSTEM, referral_bundle
from painflow_shared.testing.fixtures import wait_for

from .api import api
from .conftest import FHIR_JSON, post_referral, stored_counts

pytestmark = pytest.mark.integration


def _condition_with_notes(count: int, size: int) -> dict:
    """A Condition whose notes add up to ``count * size`` characters (each well under FHIR's
    1 MB string limit), so the request stays under the body limit but its event does not."""
    return {
        "resourceType": "Condition",
        "code": {"text": "Chronic pain"},
        "note": [{"text": "n" * size} for _ in range(count)],
    }


def test_a_referral_whose_event_would_exceed_the_limit_is_refused_and_nothing_is_kept(platform):
    mrn = os.urandom(6).hex()
    bundle = referral_bundle(mrn=mrn, extra=[_condition_with_notes(4, 300_000)])
    before = stored_counts(platform)
    response = api.post(platform.fhir("referral"), json=bundle, headers=FHIR_JSON, timeout=60)

    assert response.status_code == 413, response.text[:500]
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    issue = outcome["issue"][0]
    assert issue["code"] == "too-costly"
    assert f"{MAX_EVENT_BYTES}-byte limit" in issue["diagnostics"]
    assert "nnnn" not in response.text  # the diagnostics name the limit, never the content
    assert stored_counts(platform) == before, "a refused referral stored or staged something"
    found = api.get(
        f"{platform.fhir('referral')}/Patient", params={"identifier": f"{EHR_PATIENT_SYSTEM}|{mrn}"}
    ).json()
    assert not found.get("entry")


def _document(data: bytes) -> dict:
    attachment = {"contentType": "application/pdf", "data": base64.b64encode(data).decode()}
    return {
        "resourceType": "DocumentReference",
        "status": "current",
        "description": "Referral letter",
        "content": [{"attachment": attachment}],
    }


def _event_rows(platform, patient_id: str) -> list[OutboxMessage]:
    with Session(platform.runtime("referral").engine) as session:
        return list(
            session.exec(
                select(OutboxMessage).where(
                    OutboxMessage.key == patient_id, col(OutboxMessage.sent_at).is_not(None)
                )
            ).all()
        )


def test_a_documents_content_travels_by_reference_in_the_event(platform):
    content = os.urandom(3000)
    patient_id, _ = post_referral(platform, referral_bundle(extra=[_document(content)]))
    rows = wait_for(lambda: _event_rows(platform, patient_id), what="the referral event sent")

    value = json.loads(rows[0].payload)
    platform.runtime("referral").contracts.validate(rows[0].headers, value)
    (document,) = [
        e["resource"]
        for e in value["entry"]
        if e["resource"]["resourceType"] == "DocumentReference"
    ]
    attachment = document["content"][0]["attachment"]
    url = f"{platform.fhir('referral')}/DocumentReference/{document['id']}"
    assert "data" not in attachment
    assert attachment == {"contentType": "application/pdf", "url": url, "size": len(content)}

    fetched = api.get(url, headers={"accept": "application/fhir+json"})  # what a consumer does
    assert fetched.status_code == 200
    stored = fetched.json()["content"][0]["attachment"]["data"]
    assert base64.b64decode(stored) == content
