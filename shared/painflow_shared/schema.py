"""Frozen DDL for the tables every service has (resource store, outbox, inbox).

Each service's first Alembic migration calls ``create_shared_tables_v1``. A later change to these
tables is a new ``..._v2`` function called by a new migration in every service, never an edit here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic.operations import Operations


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def create_shared_tables_v1(op: Operations) -> None:
    op.create_table(
        "fhir_resource",
        sa.Column("resource_type", sa.String(64), primary_key=True),
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("version_id", sa.Integer, nullable=False),
        _ts("last_updated"),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("content", sa.JSON, nullable=False),
    )
    op.create_index("ix_fhir_resource_updated", "fhir_resource", ["resource_type", "last_updated"])
    op.create_table(
        "fhir_resource_version",
        sa.Column("resource_type", sa.String(64), primary_key=True),
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("version_id", sa.Integer, primary_key=True),
        _ts("last_updated"),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("content", sa.JSON, nullable=False),
    )
    op.create_table(
        "fhir_search_index",
        sa.Column(
            "pk",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("resource_type", sa.String(64), nullable=False),
        sa.Column("resource_id", sa.String(64), nullable=False),
        sa.Column("param", sa.String(64), nullable=False),
        sa.Column("system", sa.String(255)),
        sa.Column("value", sa.String(512), nullable=False),
        _ts("date_value", nullable=True),
    )
    op.create_index(
        "ix_fhir_search_lookup", "fhir_search_index", ["resource_type", "param", "value"]
    )
    op.create_index("ix_fhir_search_owner", "fhir_search_index", ["resource_type", "resource_id"])
    _create_event_tables(op)


def _create_event_tables(op: Operations) -> None:
    op.create_table(
        "event_outbox",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("event_type", sa.String(128), nullable=False),
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("headers", sa.JSON, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("trace_carrier", sa.JSON, nullable=False),
        _ts("created_at"),
        _ts("sent_at", nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
    )
    op.create_index("ix_event_outbox_unsent", "event_outbox", ["sent_at", "seq"])
    op.create_table(
        "event_inbox",
        sa.Column("consumer", sa.String(128), primary_key=True),
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("event_type", sa.String(128), nullable=False),
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("partition", sa.Integer, nullable=False),
        sa.Column("offset", sa.BigInteger, nullable=False),
        _ts("handled_at"),
    )


PENDING_ROWS = "sent_at IS NULL AND parked_at IS NULL"  # what the relay publishes next, by seq


def add_outbox_parking_v2(op: Operations) -> None:
    """A row the broker can never take (too large, unserializable) is parked, not retried.

    The relay's query is "pending rows by seq": a partial index holds exactly those, so parked
    and sent rows cost it nothing. A second small partial index serves listing parked rows.
    """
    op.add_column("event_outbox", _ts("parked_at", nullable=True))
    op.add_column("event_outbox", sa.Column("parked_reason", sa.String(500)))
    op.drop_index("ix_event_outbox_unsent", table_name="event_outbox")
    op.create_index(
        "ix_event_outbox_pending",
        "event_outbox",
        ["seq"],
        postgresql_where=sa.text(PENDING_ROWS),
        sqlite_where=sa.text(PENDING_ROWS),
    )
    op.create_index(
        "ix_event_outbox_parked",
        "event_outbox",
        ["seq"],
        postgresql_where=sa.text("parked_at IS NOT NULL"),
        sqlite_where=sa.text("parked_at IS NOT NULL"),
    )


def drop_outbox_parking_v2(op: Operations) -> None:
    """Undo ``add_outbox_parking_v2`` (parked rows become pending again)."""
    op.drop_index("ix_event_outbox_parked", table_name="event_outbox")
    op.drop_index("ix_event_outbox_pending", table_name="event_outbox")
    with op.batch_alter_table("event_outbox") as batch:
        batch.drop_column("parked_reason")
        batch.drop_column("parked_at")
    op.create_index("ix_event_outbox_unsent", "event_outbox", ["sent_at", "seq"])


def create_audit_tables_v3(op: Operations) -> None:
    """``audit_record``: the AuditEvents and Provenances of the service (painflow_shared/audit),
    found by patient, client, date (newest first) and a Provenance's target."""
    op.create_table(
        "audit_record",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        _ts("recorded"),
        sa.Column("patient_id", sa.String(64)),
        sa.Column("agent", sa.String(255)),
        sa.Column("target", sa.String(255)),
        sa.Column("content", sa.JSON, nullable=False),
    )
    op.create_index("ix_audit_record_patient", "audit_record", ["kind", "patient_id", "recorded"])
    op.create_index("ix_audit_record_agent", "audit_record", ["kind", "agent", "recorded"])
    op.create_index("ix_audit_record_recorded", "audit_record", ["kind", "recorded"])
    op.create_index("ix_audit_record_target", "audit_record", ["kind", "target"])


def drop_audit_tables_v3(op: Operations) -> None:
    """Undo ``create_audit_tables_v3`` (the audit is lost: export it first)."""
    op.drop_table("audit_record")
