"""Safety: PHQ-9 item 9 above 0 raises a Flag and an urgent clinician-review Task whatever the
total, and the pathway decision waits until a clinician completes that Task."""

from __future__ import annotations

from typing import Any

from painflow_assessment.context import AssessmentContext
from painflow_assessment.tasks import OPEN, urgent_review_task
from painflow_shared.codes import AssessmentCode, CodeSystem, TaskType, coding
from painflow_shared.events.types import AssessmentEvent
from painflow_shared.fhir.ids import new_id
from painflow_shared.fhir.references import reference_string

FLAG_CATEGORY = "http://terminology.hl7.org/CodeSystem/flag-category"
FLAG_DETAIL = "http://hl7.org/fhir/StructureDefinition/flag-detail"
REVIEW_TEXT = (
    "PHQ-9 item 9 answered above 0: review today. The pathway decision waits for this review."
)


def raise_flag(ctx: AssessmentContext, patient_id: str, response: dict[str, Any]) -> None:
    response_ref = reference_string("QuestionnaireResponse", response["id"])
    flag = ctx.store.create(_flag(ctx, patient_id, response_ref))
    task = urgent_review_task(
        new_id(),
        patient_id,
        reference_string("Flag", flag["id"]),
        response_ref,
        REVIEW_TEXT,
        ctx.now(),
    )
    task = ctx.store.create(task, resource_id=task["id"])
    patient = ctx.store.find("Patient", patient_id) or {"resourceType": "Patient", "id": patient_id}
    ctx.uow.publish(
        AssessmentEvent.SAFETY_FLAG, patient_id=patient_id, focus=[flag, task], include=[patient]
    )


def _flag(ctx: AssessmentContext, patient_id: str, response_ref: str) -> dict[str, Any]:
    return {
        "resourceType": "Flag",
        "extension": [{"url": FLAG_DETAIL, "valueReference": {"reference": response_ref}}],
        "status": "active",
        "category": [
            {"coding": [{"system": FLAG_CATEGORY, "code": "safety", "display": "Safety"}]}
        ],
        "code": {
            "coding": [
                coding(
                    AssessmentCode.SELF_HARM_RISK,
                    "Thoughts of self-harm reported (PHQ-9 item 9 above 0)",
                )
            ],
            "text": "Thoughts of self-harm reported: urgent clinician review",
        },
        "subject": {"reference": reference_string("Patient", patient_id)},
        "period": {"start": ctx.now()},
    }


def open_reviews(ctx: AssessmentContext, patient_id: str) -> list[dict[str, Any]]:
    """The patient's urgent-review Tasks a clinician has not closed yet."""
    found = ctx.find(
        "Task",
        ("patient", reference_string("Patient", patient_id)),
        ("code", f"{CodeSystem.TASK_TYPE}|{TaskType.URGENT_REVIEW}"),
    )
    return [task for task in found if task["status"] in OPEN]
