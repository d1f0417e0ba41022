"""Client updates of scheduling's Tasks (PUT or JSON Patch): a prescriber accepts or rejects a
hold instruction, a nurse completes the reconciliation, the payer's authorization number
completes a prior-authorization Task. The schedule-procedure Task is the service's own."""

from __future__ import annotations

from typing import Any

from painflow_scheduling.context import SchedulingContext
from painflow_scheduling.domain.authorization import authorization_number
from painflow_scheduling.domain.fhir_values import concept_code
from painflow_scheduling.facts import based_on_order
from painflow_scheduling.orders import refresh_order
from painflow_shared.codes import CodeSystem, TaskType
from painflow_shared.fhir.errors import BusinessRuleViolation, PreconditionFailed

# what a client may change on a Task; the rest is the service's
TASK_FIELDS = (
    "status",
    "statusReason",
    "businessStatus",
    "output",
    "note",
    "owner",
    "meta",
    "text",
)


def update_task(
    ctx: SchedulingContext, body: dict[str, Any], if_match: int | None
) -> dict[str, Any]:
    current = ctx.store.read("Task", body["id"])
    if if_match is not None and str(if_match) != current["meta"]["versionId"]:
        raise PreconditionFailed(f"version {if_match} is not the current version")
    kind = concept_code(current.get("code"), CodeSystem.TASK_TYPE)
    if kind == TaskType.SCHEDULE_PROCEDURE:
        raise BusinessRuleViolation(
            "the schedule-procedure Task follows the order and its booking; it is not edited",
            expression="Task.code",
        )
    for key in sorted(set(current) | set(body)):
        if key not in TASK_FIELDS and current.get(key) != body.get(key):
            raise BusinessRuleViolation(
                f"only {', '.join(TASK_FIELDS[:-2])} change on a Task here",
                expression=f"Task.{key}",
            )
    completing = kind == TaskType.PRIOR_AUTHORIZATION and body.get("status") == "completed"
    if completing and not authorization_number(body):
        raise BusinessRuleViolation(
            "a completed prior-authorization Task carries output type.text "
            "'authorization-number' with the number as valueString",
            expression="Task.output",
        )
    stored = ctx.store.update({k: v for k, v in body.items() if k != "meta"})[0]
    order = based_on_order(ctx, stored)
    if order is not None and kind == TaskType.PRIOR_AUTHORIZATION:
        refresh_order(ctx, order)  # the schedule Task no longer says it waits for it
    return stored
