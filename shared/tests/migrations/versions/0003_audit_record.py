"""The shared tables, for the library's tests: the audit trail (painflow_shared/audit).

Revision ID: 0003
Revises: 0002
"""

from alembic import op

from painflow_shared.schema import create_audit_tables_v3, drop_audit_tables_v3

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_audit_tables_v3(op)


def downgrade() -> None:
    drop_audit_tables_v3(op)
