"""Follow-up service: the audit trail (AuditEvent and Provenance rows, painflow_shared/audit).

Revision ID: 0004
Revises: 0003
"""

from alembic import op

from painflow_shared.schema import create_audit_tables_v3, drop_audit_tables_v3

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_audit_tables_v3(op)


def downgrade() -> None:
    drop_audit_tables_v3(op)
