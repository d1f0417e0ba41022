"""Fixtures for the shared library's own tests."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer
from kafka.admin import NewTopic
from sqlalchemy import Engine, create_engine, event

from painflow_shared.db import make_engine, migrate
from painflow_shared.events.consumer import EventConsumer
from painflow_shared.fhir.search_params import SearchParamRegistry
from painflow_shared.settings import SharedSettings
from painflow_shared.testing.infra import pg_admin_url, scratch_databases
from painflow_shared.unit_of_work import EventSource, UnitOfWorkFactory

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


@pytest.fixture
def settings(kafka: str) -> SharedSettings:
    """Settings for the library's own tests on the run's broker."""
    return SharedSettings(service_name="unit", kafka_bootstrap_servers=kafka, trace_console=False)


@contextmanager
def scratch_topic(
    settings: SharedSettings,
    purpose: str,
    *,
    partitions: int,
    dlq: bool = False,
    configs: dict[str, str] | None = None,
) -> Iterator[str]:
    """A topic (and its ``.dlq``) unique to one test, deleted afterwards."""
    name = f"test-{purpose}-{uuid.uuid4().hex[:10]}"
    topics = [NewTopic(name, partitions, 1, topic_configs=configs or {})]
    if dlq:
        topics.append(NewTopic(f"{name}.dlq", 1, 1))
    admin = KafkaAdminClient(**settings.kafka_client_config())
    admin.create_topics(topics)
    try:
        yield name
    finally:
        admin.delete_topics([t.name for t in topics])
        admin.close()


def dead_letters(settings: SharedSettings, topic: str) -> list[dict[str, bytes]]:
    """The headers of every record on ``topic``'s dead-letter topic, in order."""
    dead = KafkaConsumer(
        f"{topic}.dlq",
        auto_offset_reset="earliest",
        consumer_timeout_ms=3000,
        group_id=None,
        **settings.kafka_client_config(),
    )
    records = list(dead)
    dead.close()
    return [dict(record.headers) for record in records]


def statements_in_this_thread(engine: Engine) -> tuple[list[str], Callable[[], None]]:
    """The SQL ``engine`` runs from now on in the calling thread, and how to stop counting."""
    seen: list[str] = []
    me = threading.get_ident()

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if threading.get_ident() == me:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    return seen, lambda: event.remove(engine, "before_cursor_execute", count)


def scripted_consumer(**options: Any) -> EventConsumer:
    """An EventConsumer on an in-memory SQLite unit of work, for tests that hand ``_drain`` a
    scripted stand-in for KafkaConsumer (pure control flow: no broker, no handlers)."""
    units = UnitOfWorkFactory(
        create_engine("sqlite://"), SearchParamRegistry({}), EventSource("t", "x")
    )
    return EventConsumer(
        name="t",
        units=units,
        consumer_factory=lambda: None,  # type: ignore[arg-type,return-value]
        producer_factory=lambda: None,  # type: ignore[arg-type,return-value]
        handlers={},
        **options,
    )
