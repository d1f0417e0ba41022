"""Scheduling service: one active booking per order, enforced by a primary key on the order
(``scheduling_order_booking``); filled from the booked Appointments already stored.

Revision ID: 0004
Revises: 0003
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

RESOURCES = sa.table(
    "fhir_resource",
    sa.column("resource_type", sa.String),
    sa.column("id", sa.String),
    sa.column("deleted", sa.Boolean),
    sa.column("content", sa.JSON),
)


def upgrade() -> None:
    table = op.create_table(
        "scheduling_order_booking",
        sa.Column("order_id", sa.String(64), primary_key=True),
        sa.Column("appointment_id", sa.String(64), nullable=False),
    )
    op.create_index(
        "ix_scheduling_order_booking_appointment_id",
        "scheduling_order_booking",
        ["appointment_id"],
    )
    rows = _booked_orders(op.get_bind())
    if rows:
        op.bulk_insert(table, rows)


def _booked_orders(bind: Any) -> list[dict[str, str]]:
    """The first booked Appointment of each order (a legacy second one keeps no row)."""
    query = sa.select(RESOURCES.c.id, RESOURCES.c.content).where(
        RESOURCES.c.resource_type == "Appointment", RESOURCES.c.deleted == sa.false()
    )
    found: dict[str, str] = {}
    for appointment_id, content in bind.execute(query.order_by(RESOURCES.c.id)):
        if not isinstance(content, dict) or content.get("status") != "booked":
            continue
        for based_on in content.get("basedOn") or []:
            reference = str((based_on or {}).get("reference") or "")
            if "ServiceRequest/" in reference:
                found.setdefault(reference.rsplit("/", 1)[-1], appointment_id)
    return [{"order_id": o, "appointment_id": a} for o, a in found.items()]


def downgrade() -> None:
    op.drop_table("scheduling_order_booking")
