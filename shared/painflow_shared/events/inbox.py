"""The inbox: a consumer records each ``ce_id`` it handled in the same transaction as the effects.

A redelivered event finds its row and has no second effect. A consumer handling a polled batch
in one transaction looks all its ids up in one query (``handled_among``) and adds the rows of
the events it handled together (one multi-row INSERT at the commit).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import Column, DateTime
from sqlmodel import Field, Session, SQLModel, col, select

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


def already_handled(session: Session, consumer: str, event_id: str) -> bool:
    return session.get(InboxEntry, (consumer, event_id)) is not None


def handled_among(session: Session, consumer: str, event_ids: Collection[str]) -> set[str]:
    """Which of ``event_ids`` this consumer already handled: one query for a whole batch."""
    if not event_ids:
        return set()
    query = select(InboxEntry.event_id).where(
        InboxEntry.consumer == consumer, col(InboxEntry.event_id).in_(sorted(set(event_ids)))
    )
    return set(session.exec(query).all())


def mark_handled(
    session: Session,
    *,
    consumer: str,
    event_id: str,
    event_type: str,
    topic: str,
    partition: int,
    offset: int,
) -> None:
    session.add(
        InboxEntry(
            consumer=consumer,
            event_id=event_id,
            event_type=event_type,
            topic=topic,
            partition=partition,
            offset=offset,
            handled_at=utcnow(),
        )
    )
