"""The Tasks of the assessment, as plain FHIR JSON: the intake, its questionnaires and the
urgent clinician review (shapes fixed in contracts/ for ``started`` and ``safety-flag``)."""

from __future__ import annotations

from typing import Any

from painflow_shared.codes import CodeSystem, TaskType
from painflow_shared.fhir.references import reference_string

_DISPLAY = {
    TaskType.INTAKE: "Intake assessment",
    TaskType.QUESTIONNAIRE: "Complete a questionnaire",
    TaskType.URGENT_REVIEW: "Urgent clinician review",
}
OPEN = frozenset({"draft", "requested", "received", "accepted", "ready", "in-progress", "on-hold"})


def task_code(kind: TaskType) -> dict[str, Any]:
    return {
        "coding": [
            {"system": str(CodeSystem.TASK_TYPE), "code": kind.value, "display": _DISPLAY[kind]}
        ]
    }


def task_kind(task: dict[str, Any]) -> str | None:
    for coding in (task.get("code") or {}).get("coding") or []:
        if coding.get("system") == CodeSystem.TASK_TYPE:
            return str(coding.get("code"))
    return None


def _task(kind: TaskType, task_id: str, patient_id: str, now: str, status: str) -> dict[str, Any]:
    return {
        "resourceType": "Task",
        "id": task_id,
        "status": status,
        "intent": "order",
        "code": task_code(kind),
        "for": {"reference": reference_string("Patient", patient_id)},
        "authoredOn": now,
        "lastModified": now,
    }


def intake_task(
    task_id: str, patient_id: str, referral_url: str, now: str, based_on: list[str]
) -> dict[str, Any]:
    task = _task(TaskType.INTAKE, task_id, patient_id, now, "in-progress")
    task["description"] = "Intake questionnaires for the interventional pain assessment"
    task["focus"] = {"reference": referral_url}
    task["basedOn"] = [{"reference": ref} for ref in [referral_url, *based_on]]
    return task


def questionnaire_task(
    task_id: str, patient_id: str, intake_id: str, canonical: str, title: str, now: str
) -> dict[str, Any]:
    task = _task(TaskType.QUESTIONNAIRE, task_id, patient_id, now, "requested")
    task["description"] = f"Please complete: {title}"
    task["partOf"] = [{"reference": reference_string("Task", intake_id)}]
    task["input"] = [{"type": {"text": "questionnaire"}, "valueCanonical": canonical}]
    return task


def urgent_review_task(
    task_id: str, patient_id: str, focus: str, reason: str | None, description: str, now: str
) -> dict[str, Any]:
    task = _task(TaskType.URGENT_REVIEW, task_id, patient_id, now, "requested")
    task["priority"] = "stat"
    task["description"] = description
    task["focus"] = {"reference": focus}
    if reason:
        task["reasonReference"] = {"reference": reason}
    return task


def questionnaire_of(task: dict[str, Any]) -> str | None:
    for item in task.get("input") or []:
        if isinstance(item.get("valueCanonical"), str):
            return str(item["valueCanonical"]).partition("|")[0]
    return None
