"""The referral service's own tables (beyond the shared resource store, outbox and inbox)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime
from sqlmodel import Field, SQLModel


class ReferralCase(SQLModel, table=True):
    """One accepted referral: its ServiceRequest and what it opened. Also the de-duplication key."""

    __tablename__ = "referral_case"

    service_request_id: str = Field(primary_key=True, max_length=64)
    patient_id: str = Field(max_length=64, index=True)
    task_id: str = Field(max_length=64, unique=True)
    episode_id: str = Field(max_length=64)
    identifier_key: str | None = Field(default=None, max_length=512, unique=True)
    submission_response: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class PatientIdentity(SQLModel, table=True):
    """An EHR identifier names one Patient here: the unique key that makes matching race-free."""

    __tablename__ = "referral_patient_identity"

    system: str = Field(primary_key=True, max_length=255)
    value: str = Field(primary_key=True, max_length=255)
    patient_id: str = Field(max_length=64, index=True)


class ReferralOrder(SQLModel, table=True):
    """A procedure order (at the assessment service) and the referral its chain leads back to:
    how a milestone, and a discharge, reaches the right referral of a patient with several."""

    __tablename__ = "referral_order"

    order_id: str = Field(primary_key=True, max_length=64)
    service_request_id: str = Field(max_length=64, index=True)
