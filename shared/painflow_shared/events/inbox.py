"""The inbox: a consumer records each ``ce_id`` it handled in the same transaction as the effects.

A redelivered event finds its row and has no second effect. A polled batch in one transaction
stages its events' rows to go in with its effects (``claim_with_commit``): if one of them was
there already, nothing of the batch commits. One event alone is claimed first, in its own
statement (``claim``: the row inserted, or the id already there skipped), then handled if new.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Column, DateTime, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, Session, SQLModel

from painflow_shared import staged_inserts
from painflow_shared.fhir.dates import utcnow


class InboxEntry(SQLModel, table=True):
    __tablename__ = "event_inbox"

    consumer: str = Field(primary_key=True, max_length=128)
    event_id: str = Field(primary_key=True, max_length=64)
    event_type: str = Field(max_length=128)
    topic: str = Field(max_length=255)
    partition: int
    offset: int
    handled_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


def claim_with_commit(
    session: Session, consumer: str, entries: Sequence[Mapping[str, Any]]
) -> None:
    """Stage the inbox rows of these events (as ``claim`` takes them) with the unit of work's
    other inserts: its write raises ``staged_inserts.AlreadyClaimed`` if any was there."""
    staged_inserts.stage(session, _TABLE, _rows(consumer, entries), claim=True)


_TABLE = cast(Table, InboxEntry.__table__)  # type: ignore[attr-defined]


def claim(session: Session, consumer: str, entries: Sequence[Mapping[str, Any]]) -> set[str]:
    """Insert the inbox rows of these events (``event_id``, ``event_type``, ``topic``,
    ``partition``, ``offset``) in one statement and return the ids that were not there yet: the
    events to handle in this transaction. An id this consumer handled before is skipped; one
    that another transaction is inserting makes this wait for it, then is skipped if it
    committed. Rolled back with the transaction if the handling fails."""
    if not entries:
        return set()
    dialect = session.get_bind().dialect.name
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(_TABLE)
    claimed = session.execute(
        statement.values(_rows(consumer, entries))
        .on_conflict_do_nothing()
        .returning(_TABLE.c.event_id)
    )
    return set(claimed.scalars())


def _rows(consumer: str, entries: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The inbox rows of these events, taken now; an event twice among them, once."""
    now = utcnow()
    rows = {e["event_id"]: {**e, "consumer": consumer, "handled_at": now} for e in entries}
    return list(rows.values())
