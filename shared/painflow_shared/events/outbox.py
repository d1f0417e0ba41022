"""The transactional outbox: an event is a row written in the caller's transaction.

``record_event`` adds the row through the caller's session and never commits: the event exists
exactly when the state it describes does. The current trace context is stored on the row so
the relay's publish joins the trace of the request that caused it. An event larger than the
limit is refused here (``PayloadTooLarge``), so the caller's whole transaction rolls back rather
than staging something the broker would never take (see events/limits.py).

A row is pending until the relay marks it sent (``sent_at``) or parks it (``parked_at``,
``parked_reason``) because the broker can never take it; an operator moves a parked row back
to pending with ``python -m painflow_shared.events.parked``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from opentelemetry import propagate
from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, Integer, String, Text, text
from sqlmodel import Field, Session, SQLModel, col, func, select
from sqlmodel.sql.expression import SelectOfScalar

from painflow_shared.events.envelope import Envelope
from painflow_shared.events.limits import MAX_EVENT_BYTES
from painflow_shared.fhir.dates import utcnow
from painflow_shared.fhir.errors import PayloadTooLarge
from painflow_shared.schema import PENDING_ROWS


def _partial_index(name: str, where: str) -> Index:
    condition = text(where)
    return Index(name, "seq", postgresql_where=condition, sqlite_where=condition)


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "event_outbox"
    __table_args__ = (
        _partial_index("ix_event_outbox_pending", PENDING_ROWS),
        _partial_index("ix_event_outbox_parked", "parked_at IS NOT NULL"),
    )

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
    parked_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    parked_reason: str | None = Field(default=None, sa_column=Column(String(500)))


STAGED_FLAG = "painflow.outbox.staged"  # set on a session that staged events; read on commit


def record_event(
    session: Session, topic: str, envelope: Envelope, *, max_bytes: int = MAX_EVENT_BYTES
) -> OutboxMessage:
    """Stage ``envelope`` for publication on ``topic`` in the caller's transaction.

    Raises ``PayloadTooLarge`` when the serialized event is over ``max_bytes`` (the service's
    ``max_event_bytes``): the caller's transaction must then roll back.
    """
    value = envelope.value()
    if len(value) > max_bytes:
        raise PayloadTooLarge(
            f"the {envelope.type} event this request causes would be {len(value)} bytes, over "
            f"the {max_bytes}-byte limit for one event: an event carries the patient's current "
            "record and must fit one Kafka message; nothing was stored"
        )
    carrier: dict[str, Any] = {}
    propagate.inject(carrier)
    row = OutboxMessage(
        event_id=envelope.id,
        event_type=envelope.type,
        topic=topic,
        key=envelope.key,
        headers=envelope.headers(),
        payload=value.decode("utf-8"),
        trace_carrier={str(k): str(v) for k, v in carrier.items()},
        created_at=utcnow(),
    )
    session.add(row)
    session.info[STAGED_FLAG] = True
    return row


def pending_rows() -> SelectOfScalar[OutboxMessage]:
    """Rows to publish, oldest first (served by the partial index ix_event_outbox_pending)."""
    return (
        select(OutboxMessage)
        .where(col(OutboxMessage.sent_at).is_(None), col(OutboxMessage.parked_at).is_(None))
        .order_by(col(OutboxMessage.seq))
    )


@dataclass(frozen=True)
class Backlog:
    pending: int
    parked: int
    oldest_pending_seconds: float  # 0 when nothing is pending


def outbox_backlog(session: Session) -> Backlog:
    """What waits in the outbox: three small queries, each on a partial index."""
    pending = session.exec(select(func.count()).select_from(pending_rows().subquery())).one()
    parked = session.exec(
        select(func.count())
        .select_from(OutboxMessage)
        .where(col(OutboxMessage.parked_at).is_not(None))
    ).one()
    oldest = session.exec(
        select(OutboxMessage.created_at)
        .where(col(OutboxMessage.sent_at).is_(None), col(OutboxMessage.parked_at).is_(None))
        .order_by(col(OutboxMessage.seq))
        .limit(1)
    ).first()
    return Backlog(int(pending), int(parked), _age_seconds(oldest))


def _age_seconds(created_at: datetime | None) -> float:
    if created_at is None:
        return 0.0
    if created_at.tzinfo is None:  # SQLite hands back naive UTC
        created_at = created_at.replace(tzinfo=UTC)
    return max(0.0, (utcnow() - created_at).total_seconds())
