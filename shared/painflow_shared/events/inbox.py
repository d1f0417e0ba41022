"""The inbox: a consumer records each ``ce_id`` it handled in the same transaction as the effects.

A redelivered event finds its row and has no second effect.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime
from sqlmodel import Field, Session, SQLModel

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
