"""Recording an outcome (issue 11 item 2): the Observations, the Task it completes, the
``outcome-recorded`` event, then the decision (decisions.py).

Relief is the patient's percent relief when given; otherwise it is derived from the NRS, for a
diagnostic block against the same day's pre-procedure NRS, otherwise against the intake
baseline (the time point's ``baseline`` in the plan policy). A clinically important change is
flagged in each Observation's ``interpretation``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import col, select

from painflow_followup import decisions
from painflow_followup.context import FollowupContext, Resource
from painflow_followup.domain import observations as build
from painflow_followup.domain.outcomes import (
    Change,
    pgic_change,
    relief_change,
    relief_from_nrs,
    score_change,
)
from painflow_followup.domain.plan_policy import Baseline, TimePoint, time_points_for
from painflow_followup.domain.plans import time_point_of
from painflow_followup.domain.task_state import complete_outcome_task, task_for_outcome
from painflow_followup.tables import IntakeBaseline, OutcomeTask, ProcedureRecord
from painflow_shared.codes import CodeSystem, Outcome
from painflow_shared.events.types import FollowupEvent
from painflow_shared.fhir.ids import new_id


@dataclass(frozen=True)
class OutcomeInput:
    record: ProcedureRecord
    moment: datetime
    nrs: int | None = None
    percent: float | None = None
    pgic: int | None = None
    function: Mapping[str, float] = field(default_factory=dict)
    response: Resource | None = None  # the stored QuestionnaireResponse
    posted: Resource | None = None  # the Observation as posted (normalised)


def record_outcome(ctx: FollowupContext, given: OutcomeInput) -> list[Resource]:
    """Store the outcome's Observations, complete its Task, publish, decide; the Observations."""
    record = given.record
    task = _task(ctx, record, given.moment)
    point = _time_point(ctx, record, time_point_of(task) if task else None)
    observations = _observations(ctx, given, point)
    stored = [ctx.store.create(o, resource_id=o["id"]) for o in observations]
    include: list[Resource] = [given.response] if given.response else []
    if task is not None:
        output = f"QuestionnaireResponse/{given.response['id']}" if given.response else None
        done = complete_outcome_task(
            task, output_reference=output or f"Observation/{stored[0]['id']}", now=given.moment
        )
        include.append(ctx.store.update(done)[0])
        _close(ctx, task["id"])
    relief = _relief_value(stored)
    if point is not None and relief is not None:
        record.reliefs = {**record.reliefs, point.id: relief}
        ctx.session.add(record)
    patient = ctx.patient(record.patient_id)
    ctx.uow.publish(
        FollowupEvent.OUTCOME_RECORDED,
        patient_id=record.patient_id,
        focus=stored,
        include=[*include, patient],
    )
    outcome = decisions.Outcome(
        task_id=task["id"] if task else None,
        time_point=point.id if point else None,
        relief_percent=relief,
        nrs_now=given.nrs,
        function_now=next(iter(given.function.values()), None),
        observations=tuple(o for o in stored if _is_relief(o)) or tuple(stored),
    )
    decisions.decide_after_outcome(ctx, record, outcome)
    return stored


def _task(ctx: FollowupContext, record: ProcedureRecord, moment: datetime) -> Resource | None:
    rows = ctx.session.exec(
        select(OutcomeTask.task_id).where(
            OutcomeTask.procedure_id == record.procedure_id, col(OutcomeTask.open).is_(True)
        )
    ).all()
    tasks = [ctx.store.read("Task", task_id) for task_id in rows]
    return task_for_outcome(tasks, record.procedure_reference, moment)


def _close(ctx: FollowupContext, task_id: str) -> None:
    row = ctx.session.get(OutcomeTask, task_id)
    if row is not None:
        row.open = False
        ctx.session.add(row)


def _time_point(
    ctx: FollowupContext, record: ProcedureRecord, point_id: str | None
) -> TimePoint | None:
    ptype = ctx.policies.plans.procedure_type(record.procedure_type or "")
    if ptype is None or point_id is None:
        return None
    return next(
        (tp for tp in time_points_for(ctx.policies.plans, ptype) if tp.id == point_id), None
    )


def _observations(
    ctx: FollowupContext, given: OutcomeInput, point: TimePoint | None
) -> list[Resource]:
    record, measures = given.record, ctx.policies.measures
    baseline = ctx.session.get(IntakeBaseline, record.patient_id)
    derived = (f"QuestionnaireResponse/{given.response['id']}",) if given.response else ()
    obs_ctx = build.ObservationContext(
        record.patient_id, record.procedure_reference, given.moment, derived
    )
    found: list[Resource] = []
    if given.nrs is not None:
        found.append(_nrs(ctx, obs_ctx, given, baseline))
    relief = _relief(ctx, obs_ctx, given, point, baseline, found)
    if relief is not None:
        found.append(relief)
    if given.pgic is not None:
        pgic = pgic_change(given.pgic, measures)
        found.append(build.pgic_observation(obs_ctx, new_id(), given.pgic, pgic))
    for name, score in given.function.items():
        measure = measures.functions[name]
        change: Change | None = None
        if baseline and baseline.function_measure == name and baseline.function_score is not None:
            change = score_change(baseline.function_score, score, measure.change, name.upper())
        found.append(build.function_observation(obs_ctx, new_id(), measure, score, change))
    return found


def _nrs(
    ctx: FollowupContext,
    obs_ctx: build.ObservationContext,
    given: OutcomeInput,
    baseline: IntakeBaseline | None,
) -> Resource:
    assert given.nrs is not None
    change: Change | None = None
    if baseline is not None and baseline.nrs is not None:
        change = score_change(baseline.nrs, given.nrs, ctx.policies.measures.nrs_change, "pain")
    built = build.nrs_observation(obs_ctx, new_id(), given.nrs, ctx.policies.measures, change)
    return _as_posted(built, given.posted) if _posted_is(given, build_kind="nrs") else built


def _relief(
    ctx: FollowupContext,
    obs_ctx: build.ObservationContext,
    given: OutcomeInput,
    point: TimePoint | None,
    baseline: IntakeBaseline | None,
    earlier: list[Resource],
) -> Resource | None:
    measures = ctx.policies.measures
    if given.percent is not None:
        change = relief_change(given.percent, measures)
        built = build.percent_relief_observation(obs_ctx, new_id(), given.percent, change)
        return _as_posted(built, given.posted) if _posted_is(given, "relief") else built
    if given.nrs is None:
        return None
    kind = point.baseline if point is not None else Baseline.INTAKE
    if kind is Baseline.PRE_PROCEDURE:
        against, reference = given.record.pre_procedure_nrs, None
    else:
        against = baseline.nrs if baseline else None
        reference = baseline.nrs_reference if baseline else None
    relief = relief_from_nrs(given.nrs, against, kind)
    if relief.percent is None:
        return None
    nrs_refs = tuple(f"Observation/{o['id']}" for o in earlier)
    from_nrs = build.ObservationContext(
        obs_ctx.patient_id,
        obs_ctx.procedure_reference,
        obs_ctx.effective,
        (*obs_ctx.derived_from, *nrs_refs),
    )
    change = relief_change(relief.percent, measures)
    return build.percent_relief_observation(
        from_nrs, new_id(), relief.percent, change, relief, reference
    )


def _posted_is(given: OutcomeInput, build_kind: str) -> bool:
    if given.posted is None:
        return False
    return (build_kind == "relief") == (given.percent is not None)


def _as_posted(built: Resource, posted: Resource | None) -> Resource:
    """The posted Observation as stored: its own elements, our id, references and flag."""
    assert posted is not None
    ours: Resource = {k: built[k] for k in ("id", "subject", "partOf") if k in built}
    stored = {**posted, **ours}
    stored.setdefault("effectiveDateTime", built["effectiveDateTime"])
    stored.setdefault("category", built["category"])
    stored.pop("interpretation", None)
    if "interpretation" in built:
        stored["interpretation"] = built["interpretation"]
    return stored


def _is_relief(observation: Resource) -> bool:
    return any(
        c.get("system") == CodeSystem.OUTCOME and c.get("code") == Outcome.PERCENT_RELIEF
        for c in (observation.get("code") or {}).get("coding") or []
    )


def _relief_value(observations: list[Resource]) -> float | None:
    for observation in observations:
        if _is_relief(observation):
            value = (observation.get("valueQuantity") or {}).get("value")
            return float(value) if isinstance(value, int | float) else None
    return None
