"""Only the shared tables: for the shared library's own tests.

Revision ID: 0001
Revises:
"""

from alembic import op

from painflow_shared.schema import create_shared_tables_v1

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_shared_tables_v1(op)


def downgrade() -> None:
    raise NotImplementedError
