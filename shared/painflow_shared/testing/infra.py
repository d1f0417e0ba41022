"""Where the test run's real Kafka and PostgreSQL are, and per-run isolation on them."""

from __future__ import annotations

import os
import time
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from painflow_shared.observability import reachable
from painflow_shared.settings import SharedSettings

DEFAULT_PG_ADMIN = "postgresql://painflow:painflow@127.0.0.1:55432/postgres"


def kafka_bootstrap() -> str:
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")


def kafka_config(address: str) -> dict[str, object]:
    """A test's own Kafka client connection (address and SASL credentials), from the settings:
    the super user ``admin`` unless KAFKA_SASL_* say otherwise (README, "Kafka principals")."""
    settings = SharedSettings(kafka_bootstrap_servers=address, trace_console=False)
    return settings.kafka_client_config()


def require_tcp(address: str, what: str, hint: str) -> None:
    if not reachable(address, timeout=3):
        raise RuntimeError(f"{what} is not reachable at {address}. {hint}")


def pg_admin_url(
    hint: str = "Run `make test`, or `bash deploy/postgres/postgres.sh start`.",
) -> str:
    """The test PostgreSQL's admin URL (PAINFLOW_TEST_PG_ADMIN), checked to be reachable."""
    admin = os.environ.get("PAINFLOW_TEST_PG_ADMIN", DEFAULT_PG_ADMIN)
    require_tcp(admin.split("@")[-1].split("/")[0], "PostgreSQL", hint)
    return admin


@contextmanager
def scratch_databases(
    admin_url: str, run_id: str, purposes: tuple[str, ...]
) -> Iterator[dict[str, str]]:
    """One fresh database per purpose (e.g. per service) for this run, dropped afterwards."""
    names = {purpose: f"painflow_test_{run_id}_{purpose}" for purpose in purposes}
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for name in names.values():
            conn.execute(f'CREATE DATABASE "{name}"')
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    try:
        yield {purpose: f"{base}/{name}" for purpose, name in names.items()}
    finally:
        for name in names.values():
            _drop(admin_url, name)


def _drop(admin_url: str, name: str, attempts: int = 10) -> None:
    """Drop a scratch database; an autovacuum worker inside it (not ours to end) just delays it."""
    for attempt in range(attempts):
        try:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except psycopg.errors.InsufficientPrivilege:
            time.sleep(0.5 * (attempt + 1))
    warnings.warn(f"could not drop scratch database {name}; it is left behind", stacklevel=2)


def new_run_id() -> str:
    return uuid.uuid4().hex[:10]
