"""The patient's journey (/patients/{id}), the EHR's launch by identifier
(/patients?identifier=system|value), and any FHIR resource as the services hold it."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from painflow_clinic import journey as view
from painflow_clinic.fhir import SERVICES, ServiceError, gather
from painflow_clinic.thresholds import chart_thresholds
from painflow_clinic.web import FhirDep, UserDep, back, render

router = APIRouter()
Resource = dict[str, Any]


@router.get("/patients")
async def find_patient(
    request: Request, fhir: FhirDep, user: UserDep, identifier: str = ""
) -> Response:
    if "|" not in identifier:
        return render(
            request,
            "patients.html",
            "Find a patient",
            matches=[],
            identifier=identifier,
            problem="Give the EHR's identifier as system|value." if identifier else "",
        )
    matches = await fhir.search("referral", "Patient", {"identifier": identifier})
    if len(matches) == 1:
        return back(f"/patients/{matches[0]['id']}")
    problem = (
        "No patient here has that identifier: check the EHR's identifier system and value."
        if not matches
        else ""
    )
    return render(
        request,
        "patients.html",
        "Patient not found" if not matches else "Find a patient",
        matches=matches,
        identifier=identifier,
        problem=problem,
        status_code=404 if not matches else 200,
    )


@router.get("/patients/{patient_id}")
async def patient_journey(
    request: Request, patient_id: str, fhir: FhirDep, user: UserDep
) -> Response:
    subject = {"patient": f"Patient/{patient_id}"}
    patient, journey, intake_scores, outcomes, thresholds = await gather(
        fhir.read("referral", f"Patient/{patient_id}"),
        fhir.request("followup", "GET", f"/journeys/{patient_id}", fhir=False),
        fhir.search("assessment", "Observation", {**subject, "category": "survey"}),
        fhir.search("followup", "Observation", subject),
        chart_thresholds(fhir),
    )
    for o in intake_scores:
        o["_href"] = f"/resources/assessment/Observation/{o['id']}"
    for o in outcomes:
        o["_href"] = f"/resources/followup/Observation/{o['id']}"
    charts = [
        view.nrs_chart(journey, thresholds),
        view.function_chart(intake_scores + outcomes, journey.get("injury_onset"), thresholds),
        view.mme_chart(journey, thresholds),
    ]
    return render(
        request,
        "journey.html",
        "Patient journey",
        patient=patient,
        journey=journey,
        rows=view.timeline(journey),
        charts=[c for c in charts if c is not None],
        mme_caution=thresholds.mme_lines[0] if thresholds.mme_lines else None,
        current=journey.get("current") or {},
    )


@router.get("/resources/{service}/{resource_type}/{resource_id}")
async def resource(
    request: Request, service: str, resource_type: str, resource_id: str, fhir: FhirDep
) -> Response:
    if service not in SERVICES:
        return Response("unknown service", status_code=404)
    reference = f"{resource_type}/{resource_id}"
    body, error, status = None, None, 200
    try:
        body = json.dumps(await fhir.read(service, reference), indent=2)
    except ServiceError as failed:
        error, status = failed, failed.status if failed.status < 500 else 502
    return render(
        request,
        "resource.html",
        reference,
        service=service,
        reference=reference,
        url=f"{fhir.base(service)}/{reference}",
        body=body,
        error=error,
        status_code=status,
    )
