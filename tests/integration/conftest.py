"""Integration tests: every test here runs against the real Kafka broker and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from painflow_shared.events.outbox import OutboxMessage
from painflow_shared.fhir.store import StoredResource
from painflow_shared.testing.factories import referral_bundle, response_location

FHIR_JSON = {"content-type": "application/fhir+json"}

pytestmark = pytest.mark.integration


def post_referral(platform: Any, bundle: dict[str, Any] | None = None) -> tuple[str, str]:
    """POST a referral transaction; returns (patient id, service request id)."""
    response = httpx.post(
        platform.fhir("referral"), json=bundle or referral_bundle(), headers=FHIR_JSON, timeout=30
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return response_location(body, "Patient").split("/")[1], response_location(
        body, "ServiceRequest"
    ).split("/")[1]


def stored_counts(platform: Any, service: str = "referral") -> tuple[int, int]:
    """(resources stored, events staged) in a service's database."""
    with Session(platform.runtime(service).engine) as session:
        resources = session.exec(select(func.count()).select_from(StoredResource)).one()
        events = session.exec(select(func.count()).select_from(OutboxMessage)).one()
    return int(resources), int(events)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that restart shared infrastructure run last, so nothing else sees the restart."""
    items.sort(key=lambda item: item.get_closest_marker("disruptive") is not None)
