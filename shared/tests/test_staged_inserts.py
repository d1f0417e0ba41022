"""Every row a unit of work inserts, in one statement (``staged_inserts``), on PostgreSQL and
SQLite: what is written, what the ORM objects are afterwards, and what a claim refuses."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, inspect
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, col, create_engine, select

from painflow_shared import staged_inserts
from painflow_shared.db import migrate
from painflow_shared.events.envelope import build_event
from painflow_shared.events.inbox import InboxEntry, claim_with_commit
from painflow_shared.events.outbox import OutboxMessage, record_event
from painflow_shared.fhir.store_tables import StoredResource

from .conftest import MIGRATIONS, statements_in_this_thread

pytestmark = pytest.mark.integration
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


@pytest.fixture(params=["postgresql", "sqlite"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    if request.param == "postgresql":
        yield request.getfixturevalue("pg_engine")
        return
    engine = create_engine(
        "sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool
    )
    migrate(engine, MIGRATIONS)
    yield engine
    engine.dispose()


def _resource(resource_id: str, version: int = 1) -> StoredResource:
    content = {"resourceType": "Patient", "id": resource_id, "active": True}
    return StoredResource(
        resource_type="Patient", id=resource_id, version_id=version, last_updated=NOW,
        content=content,
    )  # fmt: skip


def _inbox(event_id: str, offset: int = 0) -> dict[str, Any]:
    return {"event_id": event_id, "event_type": "t", "topic": "x", "partition": 0, "offset": offset}


def test_new_rows_of_several_tables_go_in_together_and_their_objects_stay_in_the_session(
    engine: Engine,
) -> None:
    envelope = build_event(
        event_type="painflow.referral.received", service="referral", base_url="http://x",
        patient_id="p1", focus=[{"resourceType": "Patient", "id": "p1"}], include=[],
    )  # fmt: skip
    with Session(engine, expire_on_commit=False) as session:
        first, second = _resource("p1"), _resource("p2")
        session.add_all([first, second])
        outbox = record_event(session, "topic", envelope)
        claim_with_commit(session, "unit", [_inbox("e1"), _inbox("e2", 1)])
        seen, stop = statements_in_this_thread(engine)
        staged_inserts.write(session)
        stop()
        # a resource row is persistent now, as if the ORM had inserted it; the outbox row's key
        # is the database's, so its object is out of the session
        assert inspect(first).persistent and inspect(second).persistent
        assert inspect(outbox).transient
        first.version_id = 2  # a change after the write is an UPDATE at the commit
        session.commit()
    if engine.dialect.name == "postgresql":
        assert len(seen) == 1, seen  # inbox, outbox, two resources
    with Session(engine) as session:
        versions = dict(session.exec(select(StoredResource.id, StoredResource.version_id)).all())
        assert versions == {"p1": 2, "p2": 1}
        [stored] = session.exec(select(OutboxMessage)).all()
        assert stored.event_id == envelope.id and stored.seq is not None and stored.attempts == 0
        inbox = session.exec(select(InboxEntry.event_id).order_by(col(InboxEntry.event_id)))
        assert inbox.all() == ["e1", "e2"]


def test_a_claim_of_an_event_already_there_fails_the_whole_write(engine: Engine) -> None:
    with Session(engine) as session:
        claim_with_commit(session, "unit", [_inbox("e1")])
        staged_inserts.write(session)
        session.commit()
    with Session(engine) as session:
        session.add(_resource("p1"))
        claim_with_commit(session, "unit", [_inbox("e2"), _inbox("e1")])
        with pytest.raises(staged_inserts.AlreadyClaimed):
            staged_inserts.write(session)
        session.rollback()
    with Session(engine) as session:
        assert session.exec(select(StoredResource)).all() == []
        assert session.exec(select(InboxEntry.event_id)).all() == ["e1"]


def test_new_rows_of_a_table_the_flush_also_updates_are_left_to_the_orm(engine: Engine) -> None:
    """The ORM updates a table's rows before it inserts into it (a unique key may need that
    order): such a table's new objects are written by the ORM's own flush, as before."""
    with Session(engine) as session:
        session.add(_resource("p1"))
        staged_inserts.staging(session)
        session.commit()
    with Session(engine) as session:
        staged_inserts.staging(session)
        stored = session.get(StoredResource, ("Patient", "p1"))
        assert stored is not None
        stored.version_id = 2
        session.add(_resource("p2"))
        seen, stop = statements_in_this_thread(engine)
        session.commit()
        stop()
    assert [s.split()[0] for s in seen] == ["UPDATE", "INSERT"], seen
    with Session(engine) as session:
        versions = dict(session.exec(select(StoredResource.id, StoredResource.version_id)).all())
        assert versions == {"p1": 2, "p2": 1}
