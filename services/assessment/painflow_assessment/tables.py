"""The assessment's own tables beside the FHIR store: the worklist and one row per intake.

``IntakeCase`` is the natural key of an intake: one per referral (``referral_id`` +
``round``; a follow-up's ``reassessment`` opens the next round), so a replayed or re-sent
``accepted`` never opens a second intake.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, DateTime, UniqueConstraint
from sqlmodel import Field, SQLModel


class IntakeItem(SQLModel, table=True):
    """The convenience worklist (``GET /worklist``): where each referral stands."""

    __tablename__ = "assessment_intake"

    service_request_id: str = Field(primary_key=True, max_length=64)
    patient_id: str = Field(max_length=64, index=True)
    episode_id: str | None = Field(default=None, max_length=64)
    status: str = Field(max_length=32, index=True)
    priority: str | None = Field(default=None, max_length=16)
    last_event_id: str = Field(max_length=64)
    last_event_type: str = Field(max_length=128)
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class IntakeCase(SQLModel, table=True):
    """One intake round: its parent Task, the referral it assesses and where it stands."""

    __tablename__ = "assessment_case"
    __table_args__ = (UniqueConstraint("referral_id", "round", name="uq_assessment_case_round"),)

    intake_task_id: str = Field(primary_key=True, max_length=64)
    referral_id: str = Field(max_length=64, index=True)
    round: int = 1
    referral_url: str = Field(max_length=512)  # the referral ServiceRequest at its service
    patient_id: str = Field(max_length=64, index=True)
    status: str = Field(max_length=16, index=True)  # open | decided | closed
    region: str | None = Field(default=None, max_length=32)
    reasons: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
