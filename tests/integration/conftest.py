"""Integration tests: every test here runs against the real Kafka broker and PostgreSQL.

The ``platform`` fixture runs the four services as real HTTP servers in this process, each on its
own fresh PostgreSQL database and on Kafka topics unique to this run, and captures every span.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import func
from sqlmodel import Session, select

from painflow_shared.events.outbox import OutboxMessage
from painflow_shared.fhir.store import StoredResource
from painflow_shared.settings import SharedSettings
from painflow_shared.testing.factories import referral_bundle, response_location
from painflow_shared.testing.fixtures import Platform, service_settings, wait_for
from painflow_shared.testing.identity import Identity
from painflow_shared.testing.infra import pg_admin_url, scratch_databases
from painflow_shared.testing.servers import start_server

from .api import api

FHIR_JSON = {"content-type": "application/fhir+json"}

pytestmark = pytest.mark.integration


def post_referral(platform: Any, bundle: dict[str, Any] | None = None) -> tuple[str, str]:
    """POST a referral transaction; returns (patient id, service request id)."""
    response = api.post(
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


SERVICES = ("referral", "assessment", "scheduling", "followup")


@pytest.fixture(scope="session", autouse=True)
def authorised(identity: Identity) -> Iterator[None]:
    """Every service these tests start trusts the local Keycloak, and every call they make
    (through ``api``) carries the Keycloak ``admin`` client's token (system/*.cruds); the tests
    of tokens and scopes themselves are tests/integration/test_authorization.py."""
    saved = os.environ.get("PAINFLOW_AUTH_ISSUER")
    os.environ["PAINFLOW_AUTH_ISSUER"] = identity.issuer
    api.auth = identity.auth("admin")
    # the key tests mint with is published before any service first reads the realm's keys
    identity.register_signer()
    yield
    if saved is None:
        os.environ.pop("PAINFLOW_AUTH_ISSUER", None)
    else:
        os.environ["PAINFLOW_AUTH_ISSUER"] = saved


@pytest.fixture(scope="session")
def database_urls(run_id: str) -> Iterator[dict[str, str]]:
    with scratch_databases(pg_admin_url(), run_id, SERVICES) as urls:
        yield urls


@pytest.fixture(scope="session")
def platform(
    run_id: str,
    database_urls: dict[str, str],
    kafka: str,
    span_exporter: InMemorySpanExporter,
    identity: Identity,
) -> Iterator[Platform]:
    from painflow_assessment.app import create_app as assessment_app
    from painflow_assessment.settings import AssessmentSettings
    from painflow_followup.app import create_app as followup_app
    from painflow_followup.settings import FollowupSettings
    from painflow_referral.app import create_app as referral_app
    from painflow_referral.settings import ReferralSettings
    from painflow_scheduling.app import create_app as scheduling_app
    from painflow_scheduling.settings import SchedulingSettings

    factories: dict[str, tuple[Callable[[Any], Any], type[SharedSettings]]] = {
        "referral": (referral_app, ReferralSettings),
        "assessment": (assessment_app, AssessmentSettings),
        "scheduling": (scheduling_app, SchedulingSettings),
        "followup": (followup_app, FollowupSettings),
    }
    platform = Platform(servers={}, spans=span_exporter, run_id=run_id, auth=api.auth)
    for name, (_, cls) in factories.items():
        platform.settings[name] = service_settings(
            name,
            cls,
            run_id=run_id,
            database_url=database_urls[name],
            kafka=kafka,
            auth_issuer=identity.issuer,
            rate_limit="",  # the suite is one client at full speed; the limit's own test sets one
        )
    _name_each_other(platform.settings)
    try:
        for name, (factory, _) in factories.items():
            settings = platform.settings[name]
            platform.servers[name] = start_server(factory(settings), settings.port)
        consumers = [c for name in factories for c in platform.runtime(name).consumers]
        wait_for(lambda: all(c.assigned for c in consumers), timeout=90, what="consumer groups")
        yield platform
    finally:
        for server in platform.servers.values():
            server.stop()


def _name_each_other(settings: dict[str, SharedSettings]) -> None:
    """Each service knows where the others are (they run on ports chosen for this run)."""
    for own in settings.values():
        own.referral_base_url = settings["referral"].public_base_url
        if hasattr(own, "assessment_base_url"):
            own.assessment_base_url = settings["assessment"].public_base_url
    # the whole-journey tests walk months of follow-up in seconds (as make demo does): they
    # perform booked slots before their time and date outcomes inside windows still ahead
    settings["followup"].accept_future_outcomes = True  # type: ignore[attr-defined]
    settings["scheduling"].accept_future_procedures = True  # type: ignore[attr-defined]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that restart shared infrastructure run last, so nothing else sees the restart."""
    items.sort(key=lambda item: item.get_closest_marker("disruptive") is not None)
