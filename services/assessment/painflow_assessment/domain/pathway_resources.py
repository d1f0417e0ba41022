"""The FHIR resources of a pathway decision: the ClinicalImpression and the multidisciplinary
CarePlan (shapes fixed in contracts/: ``pathwayImpression`` and ``carePlan``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from painflow_assessment.domain.elements import reference
from painflow_assessment.domain.pathway import PathwayDecision
from painflow_assessment.domain.policy import PathwayPolicy
from painflow_shared.codes import CareActivity, coding

_ACTIVITY_DISPLAY = {
    CareActivity.PHYSICAL_THERAPY: "Physical therapy",
    CareActivity.COGNITIVE_BEHAVIOURAL_THERAPY: "Cognitive behavioural therapy",
    CareActivity.MEDICATION_MANAGEMENT: "Medication management",
    CareActivity.INTERVENTIONAL_PROCEDURE: "Interventional procedure",
}


def clinical_impression(
    decision: PathwayDecision,
    pathway: PathwayPolicy,
    *,
    impression_id: str,
    patient: str,
    referral: str,
    investigations: Sequence[str],
    effective: str,
    assessor: str | None = None,
) -> dict[str, Any]:
    """``status`` completed, ``subject``, ``supportingInfo`` the referral, ``investigation`` the
    score Observations, ``finding`` the working diagnosis and the decision, ``summary`` the
    explanation."""
    resource: dict[str, Any] = {
        "resourceType": "ClinicalImpression",
        "id": impression_id,
        "status": "completed",
        "code": {"text": "Interventional pain intake assessment"},
        "subject": reference(patient),
        "effectiveDateTime": effective,
        "date": effective,
        "supportingInfo": [reference(referral)],
        "summary": decision.explanation,
        "finding": [*_diagnosis_finding(decision), _decision_finding(decision, pathway)],
    }
    if assessor:
        resource["assessor"] = reference(assessor)
    if decision.diagnosis:
        resource["problem"] = [reference(decision.diagnosis.reference)]
    if investigations:
        resource["investigation"] = [
            {
                "code": {"text": "Intake questionnaires and opioid load"},
                "item": [reference(target) for target in investigations],
            }
        ]
    return resource


def _diagnosis_finding(decision: PathwayDecision) -> list[dict[str, Any]]:
    diagnosis = decision.diagnosis
    if diagnosis is None or not diagnosis.code or not diagnosis.system:
        return []
    found = {"system": diagnosis.system, "code": diagnosis.code}
    if diagnosis.display:
        found["display"] = diagnosis.display
    return [
        {
            "itemCodeableConcept": {"coding": [found]},
            "itemReference": reference(diagnosis.reference),
        }
    ]


def _decision_finding(decision: PathwayDecision, pathway: PathwayPolicy) -> dict[str, Any]:
    title = pathway.rules[decision.code.value].title
    return {"itemCodeableConcept": {"coding": [coding(decision.code, title)]}}


def care_plan(
    decision: PathwayDecision,
    *,
    care_plan_id: str,
    patient: str,
    orders: Sequence[str],
    created: str,
) -> dict[str, Any]:
    """The multidisciplinary CarePlan: ``addresses`` the working diagnosis, one activity per
    planned therapy and one per procedure order (``orders``: their references)."""
    activities: list[dict[str, Any]] = [
        _activity(planned.activity, planned.description)
        for planned in decision.activities
        if planned.activity != CareActivity.INTERVENTIONAL_PROCEDURE
    ]
    activities += [{"reference": reference(order)} for order in orders]
    resource: dict[str, Any] = {
        "resourceType": "CarePlan",
        "id": care_plan_id,
        "status": "active",
        "intent": "plan",
        "title": "Multidisciplinary pain plan",
        "description": decision.explanation,
        "subject": reference(patient),
        "period": {"start": created[:10]},
        "created": created,
        "activity": activities,
    }
    if decision.diagnosis:
        resource["addresses"] = [reference(decision.diagnosis.reference)]
    return resource


def _activity(activity: CareActivity, description: str) -> dict[str, Any]:
    return {
        "detail": {
            "kind": "ServiceRequest",
            "code": {"coding": [coding(activity, _ACTIVITY_DISPLAY[activity])]},
            "status": "not-started",
            "description": description,
        }
    }
