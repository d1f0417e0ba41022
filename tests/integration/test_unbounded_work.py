"""Work is bounded: a Bundle has at most ``max_bundle_entries`` entries, and work a client
abandoned stops before it commits anything more (on the real referral service and PostgreSQL)."""

from __future__ import annotations

import json
import logging
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlmodel import Session, select

from painflow_shared.fhir.store import StoredResource
from painflow_shared.testing.factories import patient, urn
from painflow_shared.testing.fixtures import wait_for

from .api import api
from .conftest import FHIR_JSON, post_referral

pytestmark = pytest.mark.integration


def _bundle(kind: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": entries}


def _patient_entries(count: int, family: str) -> list[dict[str, Any]]:
    entries = []
    for _ in range(count):
        resource = patient() | {"name": [{"family": family, "given": ["Alex"]}]}
        request = {"method": "POST", "url": "Patient"}
        entries.append({"fullUrl": urn(), "resource": resource, "request": request})
    return entries


def _patients_named(platform: Any, family: str) -> int:
    with Session(platform.runtime("referral").engine) as session:
        rows = session.exec(
            select(StoredResource.content).where(StoredResource.resource_type == "Patient")
        ).all()
    return sum(1 for content in rows if _family(content) == family)


def _family(patient: dict[str, Any]) -> str | None:
    names = patient.get("name") or [{}]  # other tests store Patients without names
    return names[0].get("family")


def _post_and_leave(url: str, bundle: dict[str, Any], leave_when: Callable[[], bool]) -> None:
    """POST ``bundle`` on a raw connection and close it, unanswered, once ``leave_when()``."""
    parts = urlsplit(url)
    body = json.dumps(bundle).encode()
    token = api.auth.access_token()  # type: ignore[union-attr]
    head = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Authorization: Bearer {token}\r\n"
        f"Content-Type: application/fhir+json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(head.encode() + body)
        wait_for(leave_when, timeout=60, interval=0.02, what="the work to start")


def _stop_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "client disconnected" in r.getMessage()]


@pytest.mark.parametrize("kind", ["transaction", "batch"])
def test_a_bundle_over_the_entry_limit_is_refused_before_parsing(platform, kind):
    limit = platform.settings["referral"].max_bundle_entries
    # entries no parser would accept: the count is checked before any of them is looked at
    entries = [{"resource": {"resourceType": "NoSuchType"}}] * (limit + 1)
    response = api.post(
        platform.fhir("referral"), json=_bundle(kind, entries), headers=FHIR_JSON, timeout=30
    )
    assert response.status_code == 413
    issue = response.json()["issue"][0]
    assert issue["code"] == "too-costly"
    assert issue["expression"] == ["Bundle.entry"]
    assert str(limit) in issue["diagnostics"]


def test_a_bundle_at_the_entry_limit_is_processed(platform):
    family = f"Limit{uuid.uuid4().hex[:8]}"
    limit = platform.settings["referral"].max_bundle_entries
    response = api.post(
        platform.fhir("referral"),
        json=_bundle("transaction", _patient_entries(limit, family)),
        headers=FHIR_JSON,
        timeout=120,
    )
    assert response.status_code == 200, response.text[:500]
    assert _patients_named(platform, family) == limit


def test_a_batch_stops_when_its_client_leaves(platform, caplog):
    caplog.set_level(logging.INFO, logger="painflow_shared.http_edge")
    family = f"Gone{uuid.uuid4().hex[:8]}"
    batch = _bundle("batch", _patient_entries(300, family))
    _post_and_leave(platform.fhir("referral"), batch, lambda: _patients_named(platform, family))
    stops = wait_for(lambda: _stop_lines(caplog), what="the batch to stop")
    written = _patients_named(platform, family)
    assert 0 < written < 300
    assert stops == [
        f"client disconnected: stopped POST /fhir ({written} of 300 batch entries done)"
    ]
    time.sleep(1)
    assert _patients_named(platform, family) == written  # nothing after the stop
    metrics = api.get(f"{platform.url('referral')}/metrics").text
    assert 'painflow_http_requests_total{method="POST",route="/fhir",status="499"}' in metrics
    post_referral(platform)  # the service still answers


def test_a_transaction_its_client_left_commits_nothing(platform, caplog):
    caplog.set_level(logging.INFO, logger="painflow_shared.http_edge")
    family = f"Gone{uuid.uuid4().hex[:8]}"
    limit = platform.settings["referral"].max_bundle_entries
    bundle = _bundle("transaction", _patient_entries(limit, family))
    sent = time.monotonic()
    _post_and_leave(platform.fhir("referral"), bundle, lambda: time.monotonic() - sent > 0.5)
    stops = wait_for(lambda: _stop_lines(caplog), timeout=120, what="the transaction to stop")
    assert stops == ["client disconnected: stopped POST /fhir (before commit)"]
    assert _patients_named(platform, family) == 0
    post_referral(platform)
