"""A unit of work's own rows by primary key, looked up without flushing what it staged.

``Session.get`` of a row that is not in the identity map first flushes everything the session
staged (autoflush), so a consumer handling a batch in one transaction paid a round trip per table
per event where it could pay one per table per batch; and without autoflush it would not see a
row added earlier in the same unit of work. ``StagedRows`` sees both: the rows this session
added (kept from the moment they are added), the rows it read, and the keys it looked up and
did not find. A concurrent transaction inserting a row looked up as absent makes this one's
commit fail on the primary key instead (a consumer's batch then retries its events one by one).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar, cast

from sqlalchemy import event, inspect, tuple_
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, select

M = TypeVar("M")
Ident = tuple[Any, ...]
RowKey = tuple[type[Any], Ident]


class StagedRows:
    """Rows of one session by (model, primary key); see the module's docstring."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._rows: dict[RowKey, Any] = {}  # added, read or loaded here (strong references)
        self._absent: set[RowKey] = set()  # looked up here and not stored
        session.info[_INFO_KEY] = self  # _on_pending finds it (one listener for all sessions)

    def get(self, model: type[M], key: Any) -> M | None:
        wanted = (model, _ident(key))
        if wanted in self._rows:
            row = self._rows[wanted]
            return None if self._gone(row) else cast(M, row)
        if wanted in self._absent:
            return None
        with self.session.no_autoflush:  # every row it added is in self._rows
            found = self.session.get(model, wanted[1])
        self._remember(wanted, found)
        return found

    def load(self, model: type[Any], keys: Iterable[Any]) -> None:
        """These rows in one query, so that ``get`` of any of them costs no statement next."""
        known = self._rows.keys() | self._absent
        wanted = sorted({(model, _ident(k)) for k in keys} - known)
        if not wanted:
            return
        columns = inspect(model).primary_key
        idents = [ident for _, ident in wanted]
        if len(columns) == 1:
            where = columns[0].in_([ident[0] for ident in idents])
        else:
            where = tuple_(*columns).in_(idents)
        with self.session.no_autoflush:
            rows = self.session.exec(select(model).where(where)).all()
        for row in rows:
            self._rows[(model, _ident_of(row))] = row
        self._absent.update(k for k in wanted if k not in self._rows)

    def _added(self, _session: Session, instance: Any) -> None:
        ident = _ident_of(instance)
        if None not in ident:  # a database-generated key is never looked up by key here
            self._rows[(type(instance), ident)] = instance
            self._absent.discard((type(instance), ident))

    def _remember(self, wanted: RowKey, found: Any) -> None:
        if found is None:
            self._absent.add(wanted)
        else:
            self._rows[wanted] = found

    def _gone(self, row: Any) -> bool:
        """Deleted in this unit of work (flushed or not), or taken out of the session."""
        state = inspect(row)
        return row in self.session.deleted or not (state.pending or state.persistent)


_INFO_KEY = "painflow.staged_rows"


@event.listens_for(OrmSession, "transient_to_pending")
def _on_pending(session: OrmSession, instance: Any) -> None:
    """One class-level listener: a listener per session cost SQLAlchemy a listener collection
    per unit of work (7% of a consumer's CPU under load)."""
    rows = session.info.get(_INFO_KEY)
    if rows is not None:
        rows._added(session, instance)


def _ident(key: Any) -> Ident:
    return tuple(key) if isinstance(key, tuple) else (key,)


def _ident_of(instance: Any) -> Ident:
    return tuple(inspect(instance).mapper.primary_key_from_instance(instance))
