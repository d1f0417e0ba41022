"""/intake: patients in assessment at the assessment service: questionnaires done and missing,
scores with their bands, the pathway decision and its explanation. A clinician confirms or
overrides a procedure order; the assessment service records either as a Provenance (the
``X-Provenance`` header of ``PUT ServiceRequest/{id}``): a confirmation changes nothing and
orders nothing again, an override revokes the order."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from painflow_clinic.fhir import Fhir, ServiceError, gather
from painflow_clinic.web import (
    FhirDep,
    FormDep,
    UserDep,
    back,
    flash,
    flash_error,
    render,
    settings_of,
)

router = APIRouter()
Resource = dict[str, Any]
QUESTIONNAIRE_TASK = "https://painflow.dev/fhir/CodeSystem/task-type|questionnaire"
DECISION_SYSTEM = "https://painflow.dev/fhir/CodeSystem/pathway-decision"
REVIEWS = {"confirm": "confirmed", "override": "overridden, the order is revoked"}
SCORE_NAMES = {
    "72514-3": "NRS",
    "91147-9": "PEG",
    "44261-6": "PHQ-9",
    "70274-6": "GAD-7",
    "97909-6": "ODI",
    "82237-9": "NDI",
}


@router.get("/intake")
async def intake(request: Request, fhir: FhirDep) -> Response:
    worklist = await fhir.request("assessment", "GET", "/worklist", fhir=False)
    items = [i for i in worklist if i.get("status") != "awaiting-triage"][:30]
    patients = await gather(*(_patient(fhir, str(i["patient_id"])) for i in items))
    rows = [{**p, "item": i} for i, p in zip(items, patients, strict=True)]
    return render(request, "intake.html", "Intake", rows=rows)


async def _patient(fhir: Fhir, patient_id: str) -> Resource:
    subject = {"patient": f"Patient/{patient_id}"}
    tasks, scores, impressions, orders = await gather(
        fhir.search("assessment", "Task", {**subject, "code": QUESTIONNAIRE_TASK}),
        fhir.search("assessment", "Observation", {**subject, "category": "survey"}),
        fhir.search("assessment", "ClinicalImpression", subject),
        fhir.search("assessment", "ServiceRequest", {**subject, "intent": "order"}),
    )
    return {
        "patient_id": patient_id,
        "done": [t for t in tasks if t.get("status") == "completed"],
        "missing": [t for t in tasks if t.get("status") in ("requested", "in-progress", "ready")],
        "scores": [_score(o) for o in scores],
        "decisions": [_decision(c) for c in impressions],
        "orders": [o for o in orders if o.get("status") == "active"],
    }


def questionnaire_name(task: Resource) -> str:
    canonical = next(
        (i["valueCanonical"] for i in task.get("input") or [] if "valueCanonical" in i), ""
    )
    return str(canonical).rsplit("/", 1)[-1].upper()


def _score(observation: Resource) -> Resource:
    codings = (observation.get("code") or {}).get("coding") or []
    code = next((c.get("code") for c in codings), "")
    value = observation.get("valueInteger", (observation.get("valueQuantity") or {}).get("value"))
    unit = (observation.get("valueQuantity") or {}).get("unit", "")
    bands = [i.get("text") for i in observation.get("interpretation") or [] if i.get("text")]
    return {
        "id": observation["id"],
        "name": SCORE_NAMES.get(str(code), str(code)),
        "value": value,
        "unit": "" if unit == "{score}" else unit,
        "band": ", ".join(bands),
    }


def _decision(impression: Resource) -> Resource:
    codes = [
        c.get("display") or c.get("code")
        for f in impression.get("finding") or []
        for c in (f.get("itemCodeableConcept") or {}).get("coding") or []
        if c.get("system") == DECISION_SYSTEM
    ]
    return {
        "id": impression["id"],
        "decision": ", ".join(codes),
        "summary": impression.get("summary", ""),
    }


@router.post("/intake/orders/{order_id}")
async def review_order(
    request: Request, order_id: str, fhir: FhirDep, form: FormDep, user: UserDep
) -> Response:
    """Confirm or override (revoke) the order, with the clinician's reason."""
    action, reason = form.get("action", ""), form.get("reason", "").strip()
    if action not in REVIEWS or not reason:
        flash(request, "error", "Confirming or overriding needs a reason.")
        return back("/intake")
    provenance = {
        "resourceType": "Provenance",
        "agent": [{"who": user.as_agent(settings_of(request))}],
        "reason": [{"text": f"{action}: {reason}"}],
    }
    try:
        await _review(fhir, order_id, action, provenance)
    except ServiceError as error:
        flash_error(request, f"Recording the {action} of ServiceRequest/{order_id}", error)
        return back("/intake")
    flash(request, "ok", f"ServiceRequest/{order_id}: {REVIEWS[action]} (Provenance recorded).")
    return back("/intake")


async def _review(fhir: Fhir, order_id: str, action: str, provenance: Resource) -> None:
    """Both are a PUT with X-Provenance. Confirm sends the order as it stands, which the
    assessment service records as a confirmation (a Provenance, no new version, no second
    ``procedure-ordered``); override revokes it (``order-revoked``)."""
    order = await fhir.read("assessment", f"ServiceRequest/{order_id}")
    if action == "override":
        order["status"] = "revoked"
    await fhir.put(
        "assessment",
        f"/ServiceRequest/{order_id}",
        order,
        **{
            "x-provenance": json.dumps(provenance),
            "if-match": f'W/"{order["meta"]["versionId"]}"',
        },
    )
