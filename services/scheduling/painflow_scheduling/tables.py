"""What scheduling must know about a patient before booking a procedure: the safety profile."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime
from sqlmodel import Field, SQLModel


class SafetyProfile(SQLModel, table=True):
    """Medications (anticoagulant holds), allergies (contrast, latex) and open referrals."""

    __tablename__ = "scheduling_safety_profile"

    patient_id: str = Field(primary_key=True, max_length=64)
    medications: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    allergies: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    open_referrals: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    last_event_id: str = Field(max_length=64)
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
