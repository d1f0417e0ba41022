"""The follow-up plan of a performed procedure: one CarePlan and one outcome-collection Task per
time point, each Task open for its window (contracts/examples: followup-scheduled).

R4's ``CarePlan.basedOn`` may only name a CarePlan, so the plan names the order it follows and
the Procedure in ``supportingInfo`` (contracts/README.md); each Task names the Procedure in
``focus``. Pure: resources in, resources out; ids and "now" are given by the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from painflow_followup.domain.plan_policy import (
    PlanPolicy,
    ProcedureType,
    TimePoint,
    time_points_for,
)
from painflow_followup.domain.progression import Decision
from painflow_followup.domain.task_state import (
    mark_overdue,
    needs_overdue_mark,
    overdue,
    overdue_business_status,
)
from painflow_followup.domain.timing import Window, window_after
from painflow_shared.codes import NextStep, Questionnaire, TaskType, coding
from painflow_shared.fhir.dates import fhir_instant, parse_fhir_date
from painflow_shared.fhir.errors import BusinessRuleViolation
from painflow_shared.fhir.references import reference_of, reference_string

__all__ = [  # overdue detection lives in task_state; handlers may reach it from here
    "FollowupPlan",
    "PlanTarget",
    "build_followup_plan",
    "build_next_step_proposal",
    "mark_overdue",
    "needs_overdue_mark",
    "overdue",
    "overdue_business_status",
    "plan_target_from",
    "task_window",
    "time_point_of",
]

Resource = dict[str, Any]
TIME_POINT_INPUT = "time-point"  # Task.input type text holding the time point id
QUESTIONNAIRE_INPUT = "questionnaire"


@dataclass(frozen=True)
class PlanTarget:
    """What a plan follows: the patient, the Procedure, its order and the Condition(s)."""

    patient_id: str
    procedure_reference: str  # as the Tasks name it: absolute at scheduling, or Procedure/id
    order_reference: str  # the procedure order: absolute at assessment, or ServiceRequest/id
    condition_references: tuple[str, ...]
    performed_end: datetime
    procedure_phrase: str  # "left L5-S1 transforaminal epidural steroid injection"


@dataclass(frozen=True)
class FollowupPlan:
    care_plan: Resource
    tasks: tuple[Resource, ...]  # one per time point, in the order of ``time_points``
    time_points: tuple[TimePoint, ...]


def plan_target_from(
    procedure: Resource, *, patient_id: str, procedure_reference: str, order_reference: str
) -> PlanTarget:
    """Read a performed Procedure into a PlanTarget; 422 when it has no performed time."""
    period = procedure.get("performedPeriod") or {}
    end = parse_fhir_date(
        period.get("end") or procedure.get("performedDateTime") or period.get("start")
    )
    if end is None:
        raise BusinessRuleViolation(
            "a performed Procedure needs performedPeriod.end (or performedDateTime)",
            expression="Procedure.performedPeriod.end",
        )
    text = str((procedure.get("code") or {}).get("text") or "procedure")
    return PlanTarget(
        patient_id=patient_id,
        procedure_reference=procedure_reference,
        order_reference=order_reference,
        condition_references=tuple(
            ref for ref in map(reference_of, procedure.get("reasonReference") or []) if ref
        ),
        performed_end=end,
        procedure_phrase=text[:1].lower() + text[1:],
    )


def task_window(target: PlanTarget, time_point: TimePoint) -> Window:
    """The window of one time point, counted from the Procedure's ``performedPeriod.end``."""
    return window_after(
        target.performed_end, time_point.window_start, time_point.window_end, time_point.align
    )


def build_followup_plan(
    policy: PlanPolicy,
    procedure_type: ProcedureType,
    target: PlanTarget,
    *,
    new_id: Callable[[], str],
    now: datetime,
) -> FollowupPlan:
    """The CarePlan and its Tasks for ``target`` (the ``followup-scheduled`` resources)."""
    points = time_points_for(policy, procedure_type)
    plan_id = new_id()
    tasks = tuple(_task(target, tp, plan_id, new_id(), now) for tp in points)
    windows = [task_window(target, tp) for tp in points]
    care_plan: Resource = {
        "resourceType": "CarePlan",
        "id": plan_id,
        "status": "active",
        "intent": "plan",
        "category": [{"text": "Procedure follow-up"}],
        "title": f"Follow-up after {target.procedure_phrase}",
        "subject": {"reference": reference_string("Patient", target.patient_id)},
        "period": {
            "start": target.performed_end.date().isoformat(),
            "end": max(w.end for w in windows).date().isoformat(),
        },
        "created": fhir_instant(now),
        "supportingInfo": [
            {"reference": target.order_reference},
            {"reference": target.procedure_reference},
        ],
        "activity": [{"reference": {"reference": f"Task/{t['id']}"}} for t in tasks],
        "note": [{"text": _plan_note(policy, procedure_type, points)}],
    }
    if target.condition_references:
        care_plan["addresses"] = [{"reference": r} for r in target.condition_references]
    return FollowupPlan(care_plan=care_plan, tasks=tasks, time_points=points)


def _task(target: PlanTarget, tp: TimePoint, plan_id: str, task_id: str, now: datetime) -> Resource:
    window = task_window(target, tp)
    return {
        "resourceType": "Task",
        "id": task_id,
        "basedOn": [{"reference": reference_string("CarePlan", plan_id)}],
        "status": "requested",
        "intent": "order",
        "code": {"coding": [coding(TaskType.OUTCOME_COLLECTION, "Collect an outcome")]},
        "description": f"{tp.label} outcome after the {target.procedure_phrase}",
        "focus": {"reference": target.procedure_reference},
        "for": {"reference": reference_string("Patient", target.patient_id)},
        "authoredOn": fhir_instant(now),
        "lastModified": fhir_instant(now),
        "restriction": {
            "period": {"start": fhir_instant(window.start), "end": fhir_instant(window.end)}
        },
        "input": [
            {"type": {"text": QUESTIONNAIRE_INPUT}, "valueCanonical": str(Questionnaire.OUTCOME)},
            {"type": {"text": TIME_POINT_INPUT}, "valueString": tp.id},
        ],
    }


def _plan_note(policy: PlanPolicy, ptype: ProcedureType, points: Sequence[TimePoint]) -> str:
    labels = [tp.label for tp in points]
    listed = labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} and {labels[-1]}"
    doubt = " Marked uncertain: a site reviews these time points." if ptype.uncertain else ""
    return (
        f"Time points (policy {policy.name} {policy.version}, {ptype.label}: {ptype.source}): "
        f"{listed}.{doubt}"
    )


def time_point_of(task: Resource) -> str | None:
    """The time point id a Task was created for (its ``time-point`` input)."""
    for item in task.get("input") or []:
        if (item.get("type") or {}).get("text") == TIME_POINT_INPUT:
            value = item.get("valueString")
            return str(value) if value else None
    return None


def build_next_step_proposal(
    decision: Decision,
    *,
    proposal_id: str,
    patient_id: str,
    order_reference: str,
    observation_references: Sequence[str],
    now: datetime,
) -> Resource:
    """The decision as a ServiceRequest: ``intent`` proposal, never an order (contracts/README.md).

    ``basedOn`` the order of the procedure it follows (the chain a discharge walks back to the
    referral), ``reasonReference`` the outcome Observations, ``note`` the explanation.
    """
    proposal: Resource = {
        "resourceType": "ServiceRequest",
        "id": proposal_id,
        "basedOn": [{"reference": order_reference}],
        "status": "active",
        "intent": "proposal",
        "priority": "urgent" if decision.code is NextStep.URGENT_REVIEW else "routine",
        "code": {"coding": [coding(decision.code, decision.display)]},
        "subject": {"reference": reference_string("Patient", patient_id)},
        "authoredOn": fhir_instant(now),
        "note": [{"text": decision.explanation}],
    }
    if observation_references:
        proposal["reasonReference"] = [{"reference": r} for r in observation_references]
    return proposal
