"""/triage: the coordinator's queue at the referral service. Waiting referrals (fast-track
first, then the oldest), those on hold with what is missing, red-flag redirects apart; accept,
or reject with a reason (a JSON Patch of the triage Task)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from painflow_clinic.fhir import Fhir, ServiceError, gather
from painflow_clinic.web import FhirDep, FormDep, back, flash, flash_error, render

router = APIRouter()
Resource = dict[str, Any]


def business_code(task: Resource) -> str | None:
    codings = (task.get("businessStatus") or {}).get("coding") or []
    return next((str(c["code"]) for c in codings if c.get("code")), None)


def queue_order(task: Resource) -> tuple[int, str]:
    """Fast-track first, then by when the referral came (oldest first)."""
    return (0 if business_code(task) == "fast-track" else 1, str(task.get("authoredOn") or ""))


@router.get("/triage")
async def triage(request: Request, fhir: FhirDep) -> Response:
    waiting, on_hold, rejected = await gather(
        fhir.search("referral", "Task", {"status": "received"}),
        fhir.search("referral", "Task", {"status": "on-hold"}),
        fhir.search("referral", "Task", {"status": "rejected"}),
    )
    redirected = [t for t in rejected if business_code(t) == "redirected"]
    tasks = waiting + on_hold + redirected
    referrals = await _referrals(fhir, tasks)
    rows = lambda found: [_row(t, referrals) for t in sorted(found, key=queue_order)]  # noqa: E731
    return render(
        request,
        "triage.html",
        "Triage",
        waiting=rows(waiting),
        on_hold=rows(on_hold),
        redirected=rows(redirected),
    )


async def _referrals(fhir: Any, tasks: list[Resource]) -> dict[str, Resource]:
    """ServiceRequest id -> {request, patient}, in one search with the patients included."""
    ids = sorted({str(t["focus"]["reference"]).rsplit("/", 1)[-1] for t in tasks if t.get("focus")})
    if not ids:
        return {}
    entries = await fhir.search_entries(
        "referral", "ServiceRequest", {"_id": ",".join(ids), "_include": "ServiceRequest:patient"}
    )
    patients = {
        f"Patient/{e['resource']['id']}": e["resource"]
        for e in entries
        if e["resource"]["resourceType"] == "Patient"
    }
    return {
        e["resource"]["id"]: {
            "request": e["resource"],
            "patient": patients.get((e["resource"].get("subject") or {}).get("reference", "")),
        }
        for e in entries
        if e["resource"]["resourceType"] == "ServiceRequest"
    }


def _row(task: Resource, referrals: dict[str, Resource]) -> Resource:
    request_id = str((task.get("focus") or {}).get("reference", "")).rsplit("/", 1)[-1]
    found = referrals.get(request_id) or {}
    return {
        "task": task,
        "request": found.get("request") or {},
        "patient": found.get("patient") or {},
        "fast_track": business_code(task) == "fast-track",
        "why": (task.get("businessStatus") or {}).get("text") or "",
    }


@router.post("/triage/{task_id}/accept")
async def accept(request: Request, task_id: str, fhir: FhirDep, form: FormDep) -> Response:
    operations = [{"op": "replace", "path": "/status", "value": "accepted"}]
    done = f"Referral accepted (Task/{task_id}); intake opens next."
    return await _patch_task(request, fhir, task_id, operations, "Accepting the referral", done)


@router.post("/triage/{task_id}/reject")
async def reject(request: Request, task_id: str, fhir: FhirDep, form: FormDep) -> Response:
    reason = form.get("reason", "").strip()
    operations: list[dict[str, Any]] = [
        {"op": "replace", "path": "/status", "value": "rejected"},
        {"op": "add", "path": "/statusReason", "value": {"text": reason}},
    ]
    if not reason:
        flash(request, "error", "A rejection needs a reason.")
        return back("/triage")
    done = f"Referral rejected (Task/{task_id})."
    return await _patch_task(request, fhir, task_id, operations, "Rejecting the referral", done)


async def _patch_task(
    request: Request,
    fhir: Fhir,
    task_id: str,
    operations: list[dict[str, Any]],
    doing: str,
    done: str,
) -> Response:
    """The triage Task changed as the clinician chose, and back to the list saying how it went."""
    try:
        await fhir.patch("referral", f"/Task/{task_id}", operations)
    except ServiceError as error:
        flash_error(request, doing, error)
        return back("/triage")
    flash(request, "ok", done)
    return back("/triage")
