"""UnitOfWork.get / load: rows by primary key as the unit of work sees them, its staged rows
included, without flushing them (a consumer's batch keeps every event's rows staged until its
commit). Counted on the database the handlers' unit tests use; the integration budget
(tests/integration/test_statement_budget.py) counts the same on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlmodel import Session, select

from painflow_shared.events.inbox import InboxEntry
from painflow_shared.fhir.search_params import SearchParamRegistry
from painflow_shared.unit_of_work import EventSource, UnitOfWorkFactory, in_memory_units

MIGRATIONS = Path(__file__).parent / "migrations"
WHEN = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def units() -> UnitOfWorkFactory:
    return in_memory_units(MIGRATIONS, SearchParamRegistry({}), EventSource("unit", "http://u"))


@pytest.fixture
def statements(units: UnitOfWorkFactory) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(*args: object) -> None:
        seen.append(str(args[2]))

    event.listen(units.engine, "before_cursor_execute", count)
    yield seen
    event.remove(units.engine, "before_cursor_execute", count)


def _entry(event_id: str) -> InboxEntry:
    return InboxEntry(
        consumer="c", event_id=event_id, event_type="t", topic="x", partition=0, offset=0,
        handled_at=WHEN,
    )  # fmt: skip


def _store(units: UnitOfWorkFactory, *event_ids: str) -> None:
    with Session(units.engine) as session:
        session.add_all([_entry(e) for e in event_ids])
        session.commit()


def test_a_row_added_in_the_unit_of_work_is_found_without_a_statement(
    units: UnitOfWorkFactory, statements: list[str]
) -> None:
    with units.begin() as uow:
        added = _entry("e1")
        uow.session.add(added)
        assert uow.get(InboxEntry, ("c", "e1")) is added
        assert statements == []  # not flushed to be found
    with Session(units.engine) as session:  # and the commit stores it once
        assert len(session.exec(select(InboxEntry)).all()) == 1


def test_a_missing_row_is_looked_up_once_and_found_once_added(
    units: UnitOfWorkFactory, statements: list[str]
) -> None:
    with units.begin() as uow:
        uow.session.add(_entry("other"))  # staged: a look-up must not flush it
        assert uow.get(InboxEntry, ("c", "e1")) is None
        assert uow.get(InboxEntry, ("c", "e1")) is None
        assert [s.split()[0] for s in statements] == ["SELECT"]
        added = _entry("e1")
        uow.session.add(added)
        assert uow.get(InboxEntry, ("c", "e1")) is added
        assert len(statements) == 1


def test_load_reads_several_rows_in_one_query_stored_or_not(
    units: UnitOfWorkFactory, statements: list[str]
) -> None:
    _store(units, "e1", "e2")
    statements.clear()
    with units.begin() as uow:
        uow.session.add(_entry("e3"))
        uow.load(InboxEntry, [("c", "e1"), ("c", "e2"), ("c", "e3"), ("c", "e4")])
        assert len(statements) == 1
        found = [uow.get(InboxEntry, ("c", e)) for e in ("e1", "e2", "e3", "e4")]
        assert [f.event_id if f else None for f in found] == ["e1", "e2", "e3", None]
        assert len(statements) == 1


def test_a_row_deleted_in_the_unit_of_work_is_not_found(units: UnitOfWorkFactory) -> None:
    _store(units, "e1")
    with units.begin() as uow:
        row = uow.get(InboxEntry, ("c", "e1"))
        assert row is not None
        uow.session.delete(row)
        assert uow.get(InboxEntry, ("c", "e1")) is None
        uow.session.flush()
        assert uow.get(InboxEntry, ("c", "e1")) is None
