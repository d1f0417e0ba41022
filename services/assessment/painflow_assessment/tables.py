"""The assessment worklist: one row per referral the program may assess."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime
from sqlmodel import Field, SQLModel


class IntakeItem(SQLModel, table=True):
    __tablename__ = "assessment_intake"

    service_request_id: str = Field(primary_key=True, max_length=64)
    patient_id: str = Field(max_length=64, index=True)
    episode_id: str | None = Field(default=None, max_length=64)
    status: str = Field(max_length=32, index=True)
    priority: str | None = Field(default=None, max_length=16)
    last_event_id: str = Field(max_length=64)
    last_event_type: str = Field(max_length=128)
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
