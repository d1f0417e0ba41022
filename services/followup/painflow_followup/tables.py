"""The follow-up service's own tables (beyond the shared resource store, outbox and inbox).

- ``followup_journey_event``: one row per event of the four topics, the journey's timeline;
- ``followup_resource_copy``: the latest copy of every resource the events carried (for
  ``$everything``, and the orders' URLs at the assessment service);
- ``followup_baseline``: each patient's intake baseline (NRS, ODI/NDI) from the assessment;
- ``followup_procedure``: each performed procedure with what its rules need (type, chain, the
  pre-procedure NRS, complications, the relief of its first time point);
- ``followup_outcome_task``: each outcome-collection Task with its window's end, the rows the
  overdue job locks (``SELECT ... FOR UPDATE SKIP LOCKED``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime
from sqlmodel import Field, SQLModel


def _when(nullable: bool = False) -> Any:
    return Field(
        default=None if nullable else ...,
        sa_column=Column(DateTime(timezone=True), nullable=nullable),
    )


class JourneyEvent(SQLModel, table=True):
    __tablename__ = "followup_journey_event"

    event_id: str = Field(primary_key=True, max_length=64)
    event_type: str = Field(max_length=128)
    patient_id: str = Field(max_length=64, index=True)
    occurred_at: datetime = _when()  # the step's clinical time
    published_at: datetime = _when()  # ce_time
    trace_id: str | None = Field(default=None, max_length=32)
    resources: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    summary: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class ResourceCopy(SQLModel, table=True):
    __tablename__ = "followup_resource_copy"

    resource_type: str = Field(primary_key=True, max_length=64)
    resource_id: str = Field(primary_key=True, max_length=64)
    patient_id: str = Field(max_length=64, index=True)
    full_url: str = Field(max_length=512)
    source: str = Field(max_length=128)  # ce_source of the event: /painflow/assessment
    episode_id: str | None = Field(default=None, max_length=64)
    seen_at: datetime = _when()  # ce_time of the event that carried this version
    content: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class IntakeBaseline(SQLModel, table=True):
    __tablename__ = "followup_baseline"

    patient_id: str = Field(primary_key=True, max_length=64)
    nrs: float | None = None
    nrs_reference: str | None = Field(default=None, max_length=512)
    function_measure: str | None = Field(default=None, max_length=16)  # odi, ndi
    function_score: float | None = None
    measured_at: datetime = _when()


class ProcedureRecord(SQLModel, table=True):
    __tablename__ = "followup_procedure"

    procedure_id: str = Field(primary_key=True, max_length=64)
    patient_id: str = Field(max_length=64, index=True)
    procedure_reference: str = Field(max_length=512)  # absolute at scheduling
    order_id: str | None = Field(default=None, max_length=64, index=True)
    order_reference: str | None = Field(default=None, max_length=512)
    previous_order_id: str | None = Field(default=None, max_length=64)  # the order's basedOn
    procedure_type: str | None = Field(default=None, max_length=64)
    purpose: str | None = Field(default=None, max_length=64)
    region: str | None = Field(default=None, max_length=32)
    cpt_codes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    block_number: int | None = None
    pre_procedure_nrs: float | None = None
    complications: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    care_plan_id: str | None = Field(default=None, max_length=64)
    # percent relief by time point id, as recorded: the chain's and the duration's evidence
    reliefs: dict[str, float] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    urgent_review_id: str | None = Field(default=None, max_length=64)
    performed_end: datetime | None = _when(nullable=True)


class OutcomeTask(SQLModel, table=True):
    __tablename__ = "followup_outcome_task"

    task_id: str = Field(primary_key=True, max_length=64)
    patient_id: str = Field(max_length=64, index=True)
    procedure_id: str = Field(max_length=64, index=True)
    window_end: datetime = _when()
    open: bool = True  # False once completed or cancelled
    overdue_marked: bool = False  # followup-overdue published: never twice
