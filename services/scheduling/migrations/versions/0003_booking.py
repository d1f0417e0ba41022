"""Scheduling service: slot reservations (one booking per slot) and followed referrals; the
safety-profile projection is replaced by the patient's record in the FHIR store.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scheduling_slot_booking",
        sa.Column("slot_id", sa.String(64), primary_key=True),
        sa.Column("appointment_id", sa.String(64), nullable=False),
    )
    op.create_index(
        "ix_scheduling_slot_booking_appointment_id", "scheduling_slot_booking", ["appointment_id"]
    )
    op.create_table(
        "scheduling_referral",
        sa.Column("referral_id", sa.String(64), primary_key=True),
        sa.Column("patient_id", sa.String(64), nullable=False),
        sa.Column("open", sa.Boolean, nullable=False),
    )
    op.create_index("ix_scheduling_referral_patient_id", "scheduling_referral", ["patient_id"])
    op.drop_table("scheduling_safety_profile")


def downgrade() -> None:
    op.create_table(
        "scheduling_safety_profile",
        sa.Column("patient_id", sa.String(64), primary_key=True),
        sa.Column("medications", sa.JSON, nullable=False),
        sa.Column("allergies", sa.JSON, nullable=False),
        sa.Column("open_referrals", sa.JSON, nullable=False),
        sa.Column("last_event_id", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.drop_table("scheduling_referral")
    op.drop_table("scheduling_slot_booking")
