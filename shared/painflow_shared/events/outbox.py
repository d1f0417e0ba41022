"""The transactional outbox: an event is a row written in the caller's transaction.

``record_event`` adds the row through the caller's session and never commits: the event exists
exactly when the state it describes does. The current trace context is stored on the row so
the relay's publish joins the trace of the request that caused it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from opentelemetry import propagate
from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, Integer, Text
from sqlmodel import Field, Session, SQLModel

from painflow_shared.events.envelope import Envelope
from painflow_shared.fhir.dates import utcnow


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "event_outbox"
    __table_args__ = (Index("ix_event_outbox_unsent", "sent_at", "seq"),)

    seq: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    event_id: str = Field(max_length=64, unique=True)
    event_type: str = Field(max_length=128)
    topic: str = Field(max_length=255)
    key: str = Field(max_length=128)
    headers: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    payload: str = Field(sa_column=Column(Text, nullable=False))
    trace_carrier: dict[str, str] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    sent_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text))


STAGED_FLAG = "painflow.outbox.staged"  # set on a session that staged events; read on commit


def record_event(session: Session, topic: str, envelope: Envelope) -> OutboxMessage:
    """Stage ``envelope`` for publication on ``topic`` in the caller's transaction."""
    carrier: dict[str, Any] = {}
    propagate.inject(carrier)
    row = OutboxMessage(
        event_id=envelope.id,
        event_type=envelope.type,
        topic=topic,
        key=envelope.key,
        headers=envelope.headers(),
        payload=envelope.value().decode("utf-8"),
        trace_carrier={str(k): str(v) for k, v in carrier.items()},
        created_at=utcnow(),
    )
    session.add(row)
    session.info[STAGED_FLAG] = True
    return row
