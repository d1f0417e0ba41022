"""The journey projection: each patient's timeline from the injury to today."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime
from sqlmodel import Field, SQLModel


class JourneyEntry(SQLModel, table=True):
    __tablename__ = "followup_journey_entry"

    event_id: str = Field(primary_key=True, max_length=64)
    patient_id: str = Field(max_length=64, index=True)
    episode_id: str | None = Field(default=None, max_length=64, index=True)
    occurred_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    kind: str = Field(max_length=32)  # injury, referral, triage, decision, procedure, outcome
    event_type: str = Field(max_length=128)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
