"""Fixtures for the shared library's own tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from painflow_shared.db import make_engine, migrate
from painflow_shared.testing.infra import pg_admin_url, scratch_databases

MIGRATIONS = Path(__file__).parent / "migrations"


@pytest.fixture(scope="session")
def shared_pg_url(run_id: str) -> Iterator[str]:
    with scratch_databases(pg_admin_url(), run_id, ("shared",)) as urls:
        yield urls["shared"]


@pytest.fixture
def pg_engine(shared_pg_url: str) -> Iterator[Engine]:
    """The shared tables on a real PostgreSQL database, emptied before each test."""
    engine = make_engine(shared_pg_url)
    migrate(engine, MIGRATIONS)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "TRUNCATE event_outbox, event_inbox, fhir_resource, fhir_resource_version, "
            "fhir_search_index"
        )
    yield engine
    engine.dispose()
