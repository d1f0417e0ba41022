"""A clinician's change of an urgent-review Task (``PUT``/``PATCH /fhir/Task/{id}``): only the
workflow fields change, and completing it releases the pathway decision it held."""

from __future__ import annotations

from typing import Any

from painflow_assessment import decision, intakes
from painflow_assessment.context import AssessmentContext
from painflow_assessment.tasks import OPEN, task_kind
from painflow_shared.codes import TaskType
from painflow_shared.fhir.errors import BusinessRuleViolation
from painflow_shared.fhir.parse import parse_resource
from painflow_shared.fhir.patch import apply_json_patch

CLINICIAN_FIELDS = ("status", "statusReason", "businessStatus", "owner", "note")
CLINICIAN_STATUSES = frozenset({"in-progress", "completed"})


def update_review(
    ctx: AssessmentContext, proposed: dict[str, Any], if_match: int | None
) -> dict[str, Any]:
    current = ctx.store.read("Task", proposed["id"])
    if task_kind(current) != TaskType.URGENT_REVIEW:
        raise BusinessRuleViolation(
            "only an urgent-review Task is changed here; a questionnaire Task completes with "
            "its QuestionnaireResponse and the intake Task with the pathway decision",
            expression="Task.code",
        )
    target = proposed.get("status", current["status"])
    if target != current["status"] and (
        current["status"] not in OPEN or target not in CLINICIAN_STATUSES
    ):
        raise BusinessRuleViolation(
            "an open urgent review moves to in-progress or completed", expression="Task.status"
        )
    merged = {**current, **{k: proposed[k] for k in CLINICIAN_FIELDS if k in proposed}}
    merged["lastModified"] = ctx.now()
    stored, _ = ctx.store.update(merged, if_match=if_match)
    patient_id = str((ctx.local_of(current.get("for")) or "").rpartition("/")[2])
    case = intakes.open_case(ctx, patient_id)
    if stored["status"] == "completed" and case is not None:
        decision.decide_when_ready(ctx, case)
    return stored


def patch_review(
    ctx: AssessmentContext, task_id: str, operations: list[dict[str, Any]], if_match: int | None
) -> dict[str, Any]:
    current = ctx.store.read("Task", task_id)
    patched = apply_json_patch(current, operations, allowed=CLINICIAN_FIELDS)
    parse_resource(patched, expected_type="Task")
    return update_review(ctx, patched, if_match)
