"""Referral service: one row per EHR patient identifier, so concurrent intakes match one Patient.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "referral_patient_identity",
        sa.Column("system", sa.String(255), primary_key=True),
        sa.Column("value", sa.String(255), primary_key=True),
        sa.Column("patient_id", sa.String(64), nullable=False, index=True),
    )


def downgrade() -> None:
    op.drop_table("referral_patient_identity")
