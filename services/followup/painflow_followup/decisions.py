"""The next step (issue 11 item 3): facts gathered here, decided by the domain's progression
rules, proposed as a ServiceRequest (``intent`` proposal) and published as ``next-step``.

A complication proposes an urgent review at once, once per procedure; an outcome that the
rules would again answer with an urgent review proposes nothing new. A discharge cancels the
plan's remaining outcome Tasks (the patient goes back to the referrer).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import col, select

from painflow_followup.context import FollowupContext, Resource
from painflow_followup.domain.plans import build_next_step_proposal
from painflow_followup.domain.progression import Decision, OutcomeFacts, decide_next_step
from painflow_followup.domain.task_state import cancel_outcome_task
from painflow_followup.tables import IntakeBaseline, OutcomeTask, ProcedureRecord
from painflow_shared.codes import NextStep
from painflow_shared.events.types import FollowupEvent
from painflow_shared.fhir.ids import new_id

DISCHARGED = "discharged back to the referrer"


@dataclass(frozen=True)
class Outcome:
    """What one recorded outcome measured, for the rules."""

    task_id: str | None
    time_point: str | None
    relief_percent: float | None
    nrs_now: float | None
    function_now: float | None
    observations: tuple[Resource, ...]  # the outcome Observations the decision names


def propose_urgent_review(ctx: FollowupContext, record: ProcedureRecord) -> None:
    if record.urgent_review_id is not None:
        return
    facts = OutcomeFacts(
        cpt_codes=tuple(record.cpt_codes), complications=tuple(record.complications)
    )
    decision = decide_next_step(facts, ctx.policies.progression)
    if decision is not None:
        _propose(ctx, record, decision, ())


def decide_after_outcome(ctx: FollowupContext, record: ProcedureRecord, outcome: Outcome) -> None:
    decision = decide_next_step(_facts(ctx, record, outcome), ctx.policies.progression)
    if decision is None:
        return
    if decision.code is NextStep.URGENT_REVIEW and record.urgent_review_id is not None:
        return  # already proposed: a clinician reviews before anything else
    _propose(ctx, record, decision, outcome.observations)
    if decision.code is NextStep.DISCHARGE:
        _cancel_plan(ctx, record)


def _facts(ctx: FollowupContext, record: ProcedureRecord, outcome: Outcome) -> OutcomeFacts:
    baseline = ctx.session.get(IntakeBaseline, record.patient_id)
    earlier = tuple(v for k, v in record.reliefs.items() if k != outcome.time_point)
    return OutcomeFacts(
        cpt_codes=tuple(record.cpt_codes),
        procedure_purpose=record.purpose,
        block_number=record.block_number,
        time_point=outcome.time_point,
        relief_percent=outcome.relief_percent,
        earlier_relief_percents=earlier,
        first_block_relief_percent=_first_block_relief(ctx, record),
        complications=tuple(record.complications),
        nrs_baseline=baseline.nrs if baseline else None,
        nrs_now=outcome.nrs_now,
        function_measure=baseline.function_measure if baseline else None,
        function_baseline=baseline.function_score if baseline else None,
        function_now=outcome.function_now,
        pending=_pending(ctx, record),
    )


def _first_block_relief(ctx: FollowupContext, record: ProcedureRecord) -> float | None:
    if (record.block_number or 1) < 2 or record.previous_order_id is None:
        return None
    first = ctx.session.exec(
        select(ProcedureRecord).where(
            ProcedureRecord.order_id == record.previous_order_id,
            ProcedureRecord.patient_id == record.patient_id,
        )
    ).first()
    return next(iter(first.reliefs.values()), None) if first else None


def _pending(ctx: FollowupContext, record: ProcedureRecord) -> bool:
    """An open outcome Task of another procedure: the patient is not done with the program."""
    other = ctx.session.exec(
        select(OutcomeTask.task_id).where(
            OutcomeTask.patient_id == record.patient_id,
            col(OutcomeTask.open).is_(True),
            OutcomeTask.procedure_id != record.procedure_id,
        )
    ).first()
    return other is not None


def _propose(
    ctx: FollowupContext,
    record: ProcedureRecord,
    decision: Decision,
    observations: Sequence[Resource],
) -> None:
    proposal = build_next_step_proposal(
        decision,
        proposal_id=new_id(),
        patient_id=record.patient_id,
        order_reference=record.order_reference or record.procedure_reference,
        observation_references=[f"Observation/{o['id']}" for o in observations],
        now=ctx.now(),
    )
    stored = ctx.store.create(proposal, resource_id=proposal["id"])
    if decision.code is NextStep.URGENT_REVIEW:
        record.urgent_review_id = stored["id"]
        ctx.session.add(record)
    ctx.uow.publish(
        FollowupEvent.NEXT_STEP,
        patient_id=record.patient_id,
        focus=[stored],
        include=[*observations, ctx.patient(record.patient_id)],
    )


def _cancel_plan(ctx: FollowupContext, record: ProcedureRecord) -> None:
    cancel_open_tasks(ctx, record.procedure_id, DISCHARGED)


def cancel_open_tasks(ctx: FollowupContext, procedure_id: str, reason: str) -> int:
    """Cancel a procedure's open outcome Tasks (a discharge, a revoked order, a cancelled
    referral); each stays in the store with its ``statusReason``."""
    rows = ctx.session.exec(
        select(OutcomeTask).where(
            OutcomeTask.procedure_id == procedure_id, col(OutcomeTask.open).is_(True)
        )
    ).all()
    for row in rows:
        task = ctx.store.read("Task", row.task_id)
        ctx.store.update(cancel_outcome_task(task, reason=reason, now=ctx.now()))
        row.open = False
        ctx.session.add(row)
    return len(rows)
