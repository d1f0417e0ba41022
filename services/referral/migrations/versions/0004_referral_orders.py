"""Referral service: which referral each procedure order leads back to (the chain of orders).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "referral_order",
        sa.Column("order_id", sa.String(64), primary_key=True),
        sa.Column("service_request_id", sa.String(64), nullable=False, index=True),
    )


def downgrade() -> None:
    op.drop_table("referral_order")
