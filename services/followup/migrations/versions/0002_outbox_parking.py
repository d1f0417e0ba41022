"""Follow-up service: a permanently undeliverable outbox row is parked (parked_at, parked_reason).

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from painflow_shared.schema import add_outbox_parking_v2, drop_outbox_parking_v2

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_outbox_parking_v2(op)


def downgrade() -> None:
    drop_outbox_parking_v2(op)
