"""Referral service: shared store/outbox/inbox tables and referral_case.

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
        "referral_case",
        sa.Column("service_request_id", sa.String(64), primary_key=True),
        sa.Column("patient_id", sa.String(64), nullable=False, index=True),
        sa.Column("task_id", sa.String(64), nullable=False, unique=True),
        sa.Column("episode_id", sa.String(64), nullable=False),
        sa.Column("identifier_key", sa.String(512), unique=True),
        sa.Column("submission_response", sa.JSON),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("the first migration is not reversible")
