"""``audit_record``: every AuditEvent and Provenance of a service, as JSON with its search keys.

The DDL is ``schema.create_audit_tables_v3``; this model mirrors it for queries and inserts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index
from sqlmodel import Field, SQLModel


class AuditRecord(SQLModel, table=True):
    __tablename__ = "audit_record"
    __table_args__ = (
        Index("ix_audit_record_patient", "kind", "patient_id", "recorded"),
        Index("ix_audit_record_agent", "kind", "agent", "recorded"),
        Index("ix_audit_record_recorded", "kind", "recorded"),
        Index("ix_audit_record_target", "kind", "target"),
    )

    id: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=16)  # AuditEvent | Provenance
    recorded: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    patient_id: str | None = Field(default=None, max_length=64)
    agent: str | None = Field(default=None, max_length=255)  # the client id
    target: str | None = Field(default=None, max_length=255)  # a Provenance's Type/id
    content: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
