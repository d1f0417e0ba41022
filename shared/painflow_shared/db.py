"""Engines, sessions and Alembic migrations for a service's own database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, event
from sqlmodel import Session, create_engine

from painflow_shared import json_codec


def make_engine(database_url: str) -> Engine:
    """One engine per service; SQLite gets WAL and foreign keys, PostgreSQL a small pool."""
    if database_url.startswith("sqlite"):
        _ensure_sqlite_dir(database_url)
        engine = create_engine(
            database_url,
            connect_args={"check_same_thread": False, "timeout": 30},
            json_serializer=json_codec.dumps,
            json_deserializer=json_codec.loads,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # No ping per checkout (a round trip per transaction): connections are recycled before a
    # server or proxy timeout would drop them, and a connection that broke anyway fails its
    # transaction with a DBAPIError that invalidates the pool (a consumer retries the event).
    # force_custom_plan: psycopg prepares a statement after five runs and the server would then
    # keep one generic plan for it, chosen while the tables were still empty (a scan that grows
    # with them): each run is planned for its values instead (tests/test_db_plans.py).
    return create_engine(
        database_url,
        pool_size=10,
        max_overflow=10,
        pool_recycle=1800,
        connect_args={"options": "-c plan_cache_mode=force_custom_plan"},
        json_serializer=json_codec.dumps,
        json_deserializer=json_codec.loads,
    )


def _ensure_sqlite_dir(database_url: str) -> None:
    path = database_url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A unit of work: commit on success, roll back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


_MIGRATION_LOCK_KEY = 0x70666D67  # "pfmg": one advisory lock per service database


def migrate(engine: Engine, migrations_dir: Path) -> None:
    """Apply the service's Alembic migrations up to head.

    On PostgreSQL one process at a time: uvicorn's workers (or replicas) start together, and
    two upgrades of a fresh database would both create ``alembic_version``; the loser failed
    its start-up and took the service down with it. The lock is the transaction's, so DDL and
    lock end together, and the next process finds the schema at head.
    """
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    with engine.begin() as connection:
        if is_postgres(engine):
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_KEY})")
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"
