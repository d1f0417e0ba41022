"""/followups: the nurse's outcome collections at the follow-up service, overdue and due today
(and the next two weeks), each with the outcome questionnaire the service serves; recording
posts a QuestionnaireResponse (``partOf`` the Procedure the Task is about)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from painflow_clinic.fhir import ServiceError, gather
from painflow_clinic.web import FhirDep, FormDep, back, flash, flash_error, render

router = APIRouter()
Resource = dict[str, Any]
OUTCOME_TASK = "https://painflow.dev/fhir/CodeSystem/task-type|outcome-collection"
OUTCOME_QUESTIONNAIRE = "https://painflow.dev/fhir/Questionnaire/outcome"


def bucket(task: Resource, now: datetime) -> str | None:
    """overdue | today | soon (within 14 days) | None (later)."""
    period = (task.get("restriction") or {}).get("period") or {}
    start, end = _instant(period.get("start")), _instant(period.get("end"))
    overdue_code = any(
        c.get("code") == "overdue" for c in (task.get("businessStatus") or {}).get("coding") or []
    )
    if overdue_code or (end is not None and end < now):
        return "overdue"
    if start is None or start <= now:
        return "today"
    return "soon" if start <= now + timedelta(days=14) else None


def _instant(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@router.get("/followups")
async def followups(request: Request, fhir: FhirDep) -> Response:
    tasks, questionnaire = await gather(
        fhir.search("followup", "Task", {"code": OUTCOME_TASK, "status": "requested,in-progress"}),
        fhir.read("followup", "Questionnaire/outcome"),
    )
    now = datetime.now(UTC)
    groups: dict[str, list[Resource]] = {"overdue": [], "today": [], "soon": []}
    for task in sorted(
        tasks, key=lambda t: str(((t.get("restriction") or {}).get("period") or {}).get("end", ""))
    ):
        where = bucket(task, now)
        if where:
            groups[where].append(task)
    return render(
        request, "followups.html", "Follow-ups", groups=groups, items=_items(questionnaire)
    )


def _items(questionnaire: Resource) -> list[Resource]:
    """The questionnaire's top-level answers, and its groups (ODI, NDI) as fieldsets."""
    return [
        {
            "link_id": i["linkId"],
            "text": i.get("text", i["linkId"]),
            "type": i.get("type"),
            "min": _bound(i, "minValue"),
            "max": _bound(i, "maxValue"),
            "items": _items(i) if i.get("item") else [],
        }
        for i in questionnaire.get("item") or []
    ]


def _bound(item: Resource, name: str) -> Any:
    for extension in item.get("extension") or []:
        if str(extension.get("url", "")).endswith(name):
            return extension.get("valueInteger", extension.get("valueDecimal"))
    return None


@router.post("/followups/{task_id}/outcome")
async def record(request: Request, task_id: str, fhir: FhirDep, form: FormDep) -> Response:
    try:
        task = await fhir.read("followup", f"Task/{task_id}")
        questionnaire = await fhir.read("followup", "Questionnaire/outcome")
        response = outcome_response(task, _items(questionnaire), form)
        stored = await fhir.post("followup", "/QuestionnaireResponse", response)
    except ServiceError as error:
        flash_error(request, "Recording the outcome", error)
        return back(f"/followups#task-{task_id}")
    except ValueError as problem:
        flash(request, "error", str(problem))
        return back(f"/followups#task-{task_id}")
    patient = str(task["for"]["reference"]).rsplit("/", 1)[-1]
    flash(
        request,
        "ok",
        f"Outcome recorded (QuestionnaireResponse/{stored['id']}).",
    )
    request.session["last_patient"] = patient
    return back(f"/followups?recorded={patient}")


def outcome_response(task: Resource, items: list[Resource], form: dict[str, str]) -> Resource:
    answers = _answers(items, form)
    if not answers:
        raise ValueError("Enter at least one answer.")
    procedure = str(task["focus"]["reference"]).rsplit("/", 1)[-1]
    return {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": OUTCOME_QUESTIONNAIRE,
        "status": "completed",
        "subject": task["for"],
        "partOf": [{"reference": f"Procedure/{procedure}"}],
        "authored": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "item": answers,
    }


def _answers(items: list[Resource], form: dict[str, str]) -> list[Resource]:
    answers = []
    for item in items:
        if item["items"]:
            inner = _answers(item["items"], form)
            if inner:
                answers.append({"linkId": item["link_id"], "item": inner})
            continue
        raw = form.get(item["link_id"], "").strip()
        if not raw:
            continue
        try:
            value = (
                {"valueDecimal": float(raw)}
                if item["type"] == "decimal"
                else {"valueInteger": int(raw)}
            )
        except ValueError as error:
            raise ValueError(f"{item['text'][:60]}: a number, please") from error
        answers.append({"linkId": item["link_id"], "answer": [value]})
    return answers
