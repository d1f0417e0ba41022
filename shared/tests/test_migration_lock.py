"""Workers that start together on a fresh PostgreSQL database migrate it one at a time (a real
PostgreSQL: ``make test`` starts it). Without the lock two upgrades raced to create
``alembic_version`` and the loser's start-up failed, stopping a multi-worker service."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text

from painflow_shared.db import make_engine, migrate
from painflow_shared.testing.infra import new_run_id, pg_admin_url, scratch_databases

pytestmark = pytest.mark.integration

REFERRAL_MIGRATIONS = Path(__file__).resolve().parents[2] / "services/referral/migrations"
WORKERS = 4


@pytest.fixture
def fresh_url() -> Iterator[str]:
    with scratch_databases(pg_admin_url(), new_run_id(), ("migrate",)) as urls:
        yield urls["migrate"]


def _worker(url: str, start: Any, results: Any) -> None:
    """One worker process's start-up: its own engine, then the migration."""
    engine = make_engine(url)
    try:
        start.wait(timeout=60)
        migrate(engine, REFERRAL_MIGRATIONS)
        results.put("ok")
    except BaseException as exc:  # the test reports it
        results.put(f"{type(exc).__name__}: {exc}"[:300])
    finally:
        engine.dispose()


def test_workers_starting_together_migrate_a_fresh_database_once(fresh_url: str) -> None:
    spawn = multiprocessing.get_context("spawn")  # separate processes, as uvicorn's workers
    start, results = spawn.Barrier(WORKERS), spawn.Queue()
    workers = [
        spawn.Process(target=_worker, args=(fresh_url, start, results)) for _ in range(WORKERS)
    ]
    for process in workers:
        process.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for process in workers:
        process.join(timeout=30)
    assert outcomes == ["ok"] * WORKERS
    engine = make_engine(fresh_url)
    try:
        with engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
            tables = set(inspect(conn).get_table_names())
    finally:
        engine.dispose()
    assert len(versions) == 1  # at head, recorded once
    assert {"fhir_resource", "event_outbox", "event_inbox"} <= tables
