"""Follow-up service: plans, outcomes and the journey of every topic.

The journey projection of the referral events (``followup_journey_entry``) becomes one row per
event of the four topics (``followup_journey_event``, with the trace id), beside the copies of
what the events carried, each patient's intake baseline, the performed procedures and the
outcome Tasks' windows (the rows the overdue job locks).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _id(name: str, primary_key: bool = False, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.String(64), primary_key=primary_key, nullable=nullable)


def upgrade() -> None:
    op.drop_table("followup_journey_entry")
    op.create_table(
        "followup_journey_event",
        _id("event_id", primary_key=True),
        sa.Column("event_type", sa.String(128), nullable=False),
        _id("patient_id", nullable=False),
        _ts("occurred_at"),
        _ts("published_at"),
        sa.Column("trace_id", sa.String(32)),
        sa.Column("resources", sa.JSON, nullable=False),
        sa.Column("summary", sa.JSON, nullable=False),
    )
    op.create_index("ix_followup_journey_patient", "followup_journey_event", ["patient_id"])
    op.create_table(
        "followup_resource_copy",
        _id("resource_type", primary_key=True),
        _id("resource_id", primary_key=True),
        _id("patient_id", nullable=False),
        sa.Column("full_url", sa.String(512), nullable=False),
        sa.Column("source", sa.String(128), nullable=False),
        _id("episode_id"),
        _ts("seen_at"),
        sa.Column("content", sa.JSON, nullable=False),
    )
    op.create_index("ix_followup_copy_patient", "followup_resource_copy", ["patient_id"])
    op.create_table(
        "followup_baseline",
        _id("patient_id", primary_key=True),
        sa.Column("nrs", sa.Float),
        sa.Column("nrs_reference", sa.String(512)),
        sa.Column("function_measure", sa.String(16)),
        sa.Column("function_score", sa.Float),
        _ts("measured_at"),
    )
    _procedures()
    op.create_table(
        "followup_outcome_task",
        _id("task_id", primary_key=True),
        _id("patient_id", nullable=False),
        _id("procedure_id", nullable=False),
        _ts("window_end"),
        sa.Column("open", sa.Boolean, nullable=False),
        sa.Column("overdue_marked", sa.Boolean, nullable=False),
    )
    op.create_index("ix_followup_outcome_task_patient", "followup_outcome_task", ["patient_id"])
    op.create_index("ix_followup_outcome_task_procedure", "followup_outcome_task", ["procedure_id"])
    op.create_index(
        "ix_followup_outcome_task_due",
        "followup_outcome_task",
        ["open", "overdue_marked", "window_end"],
    )


def _procedures() -> None:
    op.create_table(
        "followup_procedure",
        _id("procedure_id", primary_key=True),
        _id("patient_id", nullable=False),
        sa.Column("procedure_reference", sa.String(512), nullable=False),
        _id("order_id"),
        sa.Column("order_reference", sa.String(512)),
        _id("previous_order_id"),
        _id("procedure_type"),
        _id("purpose"),
        sa.Column("region", sa.String(32)),
        sa.Column("cpt_codes", sa.JSON, nullable=False),
        sa.Column("block_number", sa.Integer),
        sa.Column("pre_procedure_nrs", sa.Float),
        sa.Column("complications", sa.JSON, nullable=False),
        _id("care_plan_id"),
        sa.Column("reliefs", sa.JSON, nullable=False),
        _id("urgent_review_id"),
        _ts("performed_end", nullable=True),
    )
    op.create_index("ix_followup_procedure_patient", "followup_procedure", ["patient_id"])
    op.create_index("ix_followup_procedure_order", "followup_procedure", ["order_id"])


def downgrade() -> None:
    for table in (
        "followup_outcome_task",
        "followup_procedure",
        "followup_baseline",
        "followup_resource_copy",
        "followup_journey_event",
    ):
        op.drop_table(table)
    op.create_table(
        "followup_journey_entry",
        _id("event_id", primary_key=True),
        _id("patient_id", nullable=False),
        _id("episode_id"),
        _ts("occurred_at"),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("event_type", sa.String(128), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
    )
