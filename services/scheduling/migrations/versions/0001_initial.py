"""Scheduling service: shared store/outbox/inbox tables and the safety profile.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from painflow_shared.schema import create_shared_tables_v1

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_shared_tables_v1(op)
    op.create_table(
        "scheduling_safety_profile",
        sa.Column("patient_id", sa.String(64), primary_key=True),
        sa.Column("medications", sa.JSON, nullable=False),
        sa.Column("allergies", sa.JSON, nullable=False),
        sa.Column("open_referrals", sa.JSON, nullable=False),
        sa.Column("last_event_id", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("the first migration is not reversible")
