"""The Tasks scheduling keeps per order: finding them, and moving them on together."""

from __future__ import annotations

from typing import Any

from painflow_scheduling.context import SchedulingContext
from painflow_scheduling.facts import task_code
from painflow_shared.codes import TaskType

OPEN = frozenset({"draft", "requested", "received", "accepted", "ready", "in-progress", "on-hold"})
# the Tasks a booking creates; cancelled with it, recomputed with a reschedule
BOOKING_TASKS = (TaskType.MEDICATION_HOLD, TaskType.PRE_PROCEDURE_LAB, TaskType.MED_RECONCILIATION)


def order_tasks(ctx: SchedulingContext, order_ref: str, kind: TaskType) -> list[dict[str, Any]]:
    return ctx.find("Task", based_on=order_ref, code=task_code(kind))


def schedule_task(ctx: SchedulingContext, order_ref: str) -> dict[str, Any] | None:
    found = ctx.find("Task", focus=order_ref, code=task_code(TaskType.SCHEDULE_PROCEDURE))
    return found[0] if found else None


def set_task(ctx: SchedulingContext, task: dict[str, Any], **elements: Any) -> dict[str, Any]:
    """Store the Task with ``elements`` changed; when nothing changes, nothing is written."""
    changed = {k: v for k, v in {**task, **elements}.items() if v is not None}
    if changed == task:
        return task
    return ctx.store.update(changed)[0]


def close_tasks(
    ctx: SchedulingContext, order_ref: str, kinds: tuple[TaskType, ...], reason: str
) -> None:
    """Cancel every open Task of these kinds for the order, saying why."""
    for kind in kinds:
        for task in order_tasks(ctx, order_ref, kind):
            if task.get("status") in OPEN:
                set_task(ctx, task, status="cancelled", statusReason={"text": reason})
