"""Every row a unit of work inserts, in one statement.

A referral POST inserts into seven tables (the resources, their history and search-index rows,
the patient's identity, the case, the outbox, the audit); a consumer's batch into four or five
(its inbox, its own rows, its copies of resources and their history). The ORM sends one INSERT
per table, so a unit of work paid a round trip per table it touched. Here, in a session that
staged rows (``stage``, ``provide``: the store, the audit, a consumer batch's inbox), the
session's flush first writes all of its inserts together:

- the rows staged as dictionaries, and
- the session's new ORM objects (``Session.add``) of plain tables. Afterwards they are
  persistent, exactly as if the ORM had inserted them: a later change to one is an UPDATE.

On PostgreSQL each table's rows are one ``INSERT ... SELECT FROM unnest(...)`` with an array per
column, sent in binary (one Bind/Execute, where an executemany runs one per row), and the tables
are chained as data-modifying CTEs of one statement. The schema has no foreign keys, so the
order of the tables within it does not matter. Elsewhere (SQLite: the unit tests) it is one
executemany per table, the same rows.

What stays with the ORM's own flush, unchanged: an object of a table with a column type this
does not map, or a column left for the database to fill (except an autoincrement key, which is
left out: such an object, an outbox row, is taken out of the session, its key unread); every new
object when the session also deletes one (the ORM turns a delete and an add of one key into an
UPDATE); a table whose existing rows this flush also updates (the ORM updates before it inserts,
which a unique key may need).

Rows staged with ``claim=True`` (a batch's inbox rows) are inserted ``ON CONFLICT DO NOTHING``;
if any of them was there already, the write raises ``AlreadyClaimed`` and the caller's
transaction must roll back (a consumer then handles the batch's events one at a time, each
claimed before it is handled).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    DateTime,
    Float,
    Integer,
    String,
    Table,
    event,
    insert,
    inspect,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import InstanceState, Mapper
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.types import TypeDecorator, TypeEngine

from painflow_shared import json_codec

Rows = list[dict[str, Any]]
Provider = Callable[[], Iterable[tuple[Table, Rows]]]

_INFO_KEY = "painflow.staged_inserts"


class AlreadyClaimed(Exception):
    """Rows staged with ``claim=True`` were there already: another transaction took them."""

    def __init__(self, table: str, missing: int) -> None:
        super().__init__(f"{missing} row(s) of {table} were already there")
        self.missing = missing


@dataclass
class _Staged:
    table: Table
    rows: Rows
    claim: bool = False


@dataclass
class Staging:
    """A session's staged rows and the providers asked for theirs at each write."""

    staged: list[_Staged] = field(default_factory=list)
    providers: list[Provider] = field(default_factory=list)

    def take(self) -> list[_Staged]:
        taken, self.staged = self.staged, []
        for provider in self.providers:
            taken.extend(_Staged(table, rows) for table, rows in provider() if rows)
        return [s for s in taken if s.rows]


def staging(session: OrmSession) -> Staging:
    """The session's staging, made on first use: from then on its flushes write this way."""
    found = session.info.get(_INFO_KEY)
    if found is None:
        found = session.info[_INFO_KEY] = Staging()
    return cast(Staging, found)


def stage(session: OrmSession, table: Table, rows: Rows, *, claim: bool = False) -> None:
    """Insert these rows with the session's next write (its flush, or ``write``)."""
    if rows:
        staging(session).staged.append(_Staged(table, rows, claim))


def provide(session: OrmSession, provider: Provider) -> None:
    """Ask ``provider`` for rows to insert at each of the session's writes."""
    staging(session).providers.append(provider)


def write(session: OrmSession) -> None:
    """Write what the session staged and its new objects now, in one statement; the commit
    that follows flushes only what is left (UPDATEs, DELETEs). A session whose only writes were
    staged rows would not flush at all: this is what writes them then."""
    found = session.info.get(_INFO_KEY)
    if found is not None:
        _write(session, cast(Staging, found))


@event.listens_for(OrmSession, "before_flush")
def _before_flush(session: OrmSession, _context: object, _instances: object) -> None:
    found = session.info.get(_INFO_KEY)
    if found is not None:
        _write(session, cast(Staging, found))


def _write(session: OrmSession, staged: Staging) -> None:
    batches = staged.take()
    objects = _new_objects(session)
    for plan, states in objects:
        batches.append(_Staged(plan.table, [plan.row(state) for state in states]))
    if not batches:
        return
    _insert(session, batches)
    kept: set[InstanceState[Any]] = set()
    for plan, states in objects:
        for state in states:
            if plan.keeps(state):
                kept.add(state)
            else:
                session.expunge(state.obj())
    # written: persistent now, exactly as the ORM's own flush leaves an object it inserted (a
    # rollback takes them out of the session again). This is the session method that flush
    # calls; SQLAlchemy is pinned in uv.lock and test_staged_inserts.py checks the outcome.
    # The public route (expunge, make_transient_to_detached, add) cost ~30 us an object under
    # cProfile, this one ~4.
    session._register_persistent(kept)


def _new_objects(session: OrmSession) -> list[tuple[_Plan, list[InstanceState[Any]]]]:
    """The session's new objects this writes, by table (in the order they were added)."""
    if not session.new or session.deleted:
        return []
    updated = {inspect(o).mapper.local_table for o in session.dirty}
    by_plan: dict[_Plan, list[InstanceState[Any]]] = {}
    states = sorted((inspect(o) for o in session.new), key=lambda s: s.insert_order)
    for state in states:
        plan = _plan(state.mapper)
        if plan is not None and plan.table not in updated and plan.complete(state):
            by_plan.setdefault(plan, []).append(state)
    return list(by_plan.items())


@dataclass(frozen=True, eq=False)
class _Column:
    key: str  # the mapped attribute
    column: Column[Any]
    default: Any  # a scalar Python default, or _NONE


_NONE = object()


@dataclass(frozen=True, eq=False)
class _Plan:
    """How one mapped table's objects become rows."""

    table: Table
    columns: tuple[_Column, ...]
    auto_key: str | None  # an autoincrement key's attribute: left out when None

    def complete(self, state: InstanceState[Any]) -> bool:
        values = state.dict
        return all(c.key in values or c.default is not _NONE for c in self.columns)

    def row(self, state: InstanceState[Any]) -> dict[str, Any]:
        values = state.dict
        row = {}
        for c in self.columns:
            if c.key not in values:
                values[c.key] = c.default  # what the ORM would have set
            value = values[c.key]
            if value is None and c.key == self.auto_key:
                continue
            row[c.column.name] = value
        return row

    def keeps(self, state: InstanceState[Any]) -> bool:
        """Persistent from now on: unless its key is the database's, never read back."""
        return self.auto_key is None or state.dict.get(self.auto_key) is not None


_plans: dict[Mapper[Any], _Plan | None] = {}


def _plan(mapper: Mapper[Any]) -> _Plan | None:
    try:
        return _plans[mapper]
    except KeyError:
        plan = _plans[mapper] = _make_plan(mapper)
        return plan


def _make_plan(mapper: Mapper[Any]) -> _Plan | None:
    table = mapper.local_table
    if (
        not isinstance(table, Table)
        or mapper.inherits is not None
        or len(mapper.tables) != 1
        or mapper.relationships
        or mapper.version_id_col is not None
    ):
        return None
    auto = table.autoincrement_column
    columns = []
    auto_key = None
    for column in table.columns:
        if _array_type(column) is None:
            return None
        key = mapper.get_property_by_column(column).key
        if column is auto:
            auto_key = key
        default = column.default
        if default is not None and getattr(default, "is_scalar", False):
            value = default.arg  # type: ignore[attr-defined]
        elif column is auto or (
            column.nullable and default is None and column.server_default is None
        ):
            value = None
        else:
            value = _NONE  # the ORM or the database would compute it: the ORM writes the object
        columns.append(_Column(key, column, value))
    return _Plan(table, tuple(columns), auto_key)


def _insert(session: OrmSession, batches: list[_Staged]) -> None:
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        _insert_postgresql(connection, _by_shape(batches))
        return
    for batch in _by_shape(batches):
        if batch.claim:
            claim = sqlite.insert(batch.table).values(batch.rows).on_conflict_do_nothing()
            claimed = connection.execute(claim.returning(*batch.table.primary_key))
            _check_claimed(batch, len(claimed.all()))
        else:
            connection.execute(insert(batch.table), batch.rows)


def _insert_postgresql(connection: Connection, batches: list[_Staged]) -> None:
    quote = connection.dialect.identifier_preparer
    values: dict[str, list[Any]] = {}
    inserts: list[str] = []
    claims: list[tuple[int, _Staged]] = []
    for n, batch in enumerate(batches):
        columns = [c for c in batch.table.columns if c.name in batch.rows[0]]
        names = [f"t{n}c{i}" for i in range(len(columns))]
        arrays = ", ".join(
            f"%({name})b::{_array_type(c)}" for name, c in zip(names, columns, strict=True)
        )
        quoted = ", ".join(quote.format_column(c) for c in columns)  # "offset" is a keyword
        statement = (
            f"INSERT INTO {quote.format_table(batch.table)} ({quoted}) "
            f"SELECT * FROM unnest({arrays})"
        )
        if batch.claim:
            statement += " ON CONFLICT DO NOTHING RETURNING 1"
            claims.append((n, batch))
        inserts.append(statement)
        for name, column in zip(names, columns, strict=True):
            convert = _converter(column)
            values[name] = [convert(r[column.name]) for r in batch.rows]
    if claims:
        chain = ", ".join(f"w{n} AS ({statement})" for n, statement in enumerate(inserts))
        counts = ", ".join(f"(SELECT count(*) FROM w{n})" for n, _ in claims)
        result = connection.exec_driver_sql(f"WITH {chain} SELECT {counts}", values).one()
        for (_, batch), count in zip(claims, result, strict=True):
            _check_claimed(batch, count)
        return
    *first, last = inserts
    chain = ", ".join(f"w{n} AS ({statement})" for n, statement in enumerate(first))
    connection.exec_driver_sql(f"WITH {chain} {last}" if chain else last, values)


def _by_shape(batches: list[_Staged]) -> list[_Staged]:
    """One batch per table, claim and set of columns (the claims first, so a row another
    transaction holds is waited for before anything else is written)."""
    merged: dict[tuple[str, bool, tuple[str, ...]], _Staged] = {}
    for batch in sorted(batches, key=lambda b: not b.claim):
        for row in batch.rows:
            shape = (batch.table.name, batch.claim, tuple(row))
            found = merged.get(shape)
            if found is None:
                merged[shape] = _Staged(batch.table, [row], batch.claim)
            else:
                found.rows.append(row)
    return list(merged.values())


def _check_claimed(batch: _Staged, inserted: int) -> None:
    if inserted < len(batch.rows):
        raise AlreadyClaimed(batch.table.name, len(batch.rows) - inserted)


def _array_type(column: Column[Any]) -> str | None:
    kind = _base_type(column)
    if isinstance(kind, JSON):
        return "json[]"
    if isinstance(kind, DateTime):
        return "timestamptz[]" if kind.timezone else "timestamp[]"
    if isinstance(kind, Boolean):
        return "boolean[]"
    if isinstance(kind, Integer):  # BigInteger too
        return "bigint[]"
    if isinstance(kind, Float):
        return "float8[]"
    if isinstance(kind, String):  # Text, and SQLModel's AutoString
        return "text[]"
    return None


def _converter(column: Column[Any]) -> Callable[[Any], Any]:
    """A value as psycopg sends it in the column's array: one Python type per array."""
    try:
        return _converters[column]
    except KeyError:
        convert = _converters[column] = _make_converter(column)
        return convert


_converters: dict[Column[Any], Callable[[Any], Any]] = {}


def _make_converter(column: Column[Any]) -> Callable[[Any], Any]:
    kind = _base_type(column)
    convert: Callable[[Any], Any]
    if isinstance(kind, JSON):
        # None is JSON null, as the ORM writes it, unless the column says SQL NULL
        convert = _json_or_null if kind.none_as_null else json_codec.dumps
    elif isinstance(kind, DateTime):
        convert = _same
    elif isinstance(kind, Boolean):
        convert = _maybe(bool)
    elif isinstance(kind, Integer):
        convert = _maybe(int)
    elif isinstance(kind, Float):
        convert = _maybe(float)
    else:
        convert = _text
    decorator = column.type
    if isinstance(decorator, TypeDecorator) and _overrides_bind(decorator):
        from sqlalchemy.dialects.postgresql import psycopg

        dialect = psycopg.dialect()
        return lambda v: convert(decorator.process_bind_param(v, dialect))
    return convert


def _base_type(column: Column[Any]) -> TypeEngine[Any]:
    """The column's type, or the type a TypeDecorator (SQLModel's AutoString) stores as."""
    kind = column.type
    return kind.impl_instance if isinstance(kind, TypeDecorator) else kind


def _overrides_bind(decorator: TypeDecorator[Any]) -> bool:
    return type(decorator).process_bind_param is not TypeDecorator.process_bind_param


def _maybe(kind: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda v: None if v is None else kind(v)


def _json_or_null(value: Any) -> Any:
    return None if value is None else json_codec.dumps(value)


def _text(value: Any) -> Any:
    return value if value is None or type(value) is str else str(value)


def _same(value: Any) -> Any:
    return value
