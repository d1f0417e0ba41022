"""Assessment service: one row per intake round (the natural key of an intake).

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
        "assessment_case",
        sa.Column("intake_task_id", sa.String(64), primary_key=True),
        sa.Column("referral_id", sa.String(64), nullable=False, index=True),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("referral_url", sa.String(512), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=False, index=True),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("region", sa.String(32)),
        sa.Column("reasons", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("referral_id", "round", name="uq_assessment_case_round"),
    )


def downgrade() -> None:
    op.drop_table("assessment_case")
