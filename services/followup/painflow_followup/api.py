"""HTTP of the follow-up service: outcomes in (QuestionnaireResponse, Observation), the outcome
Questionnaire, ``Patient/{id}/$everything`` and the journey for people (``/journeys/{id}``).

Bodies are read asynchronously; the database work runs in the thread pool.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from painflow_followup.everything import everything, journey_of
from painflow_followup.handlers import FollowupHandlers
from painflow_shared.audit.trail import note_returned
from painflow_shared.auth.guard import principal_of, requires
from painflow_shared.fhir.errors import NotFound, UnsupportedSearch
from painflow_shared.fhir.http import read_fhir_body
from painflow_shared.fhir.media import fhir_response
from painflow_shared.fhir.negotiation import negotiated
from painflow_shared.fhir.parse import parse_resource
from painflow_shared.fhir.versions import resource_headers
from painflow_shared.runtime import RuntimeDep, SessionDep

router = APIRouter(prefix="/fhir", tags=["followup"], dependencies=[Depends(negotiated)])
journeys = APIRouter(tags=["followup"])
QUESTIONNAIRE_PARAMS = frozenset({"url", "_id", "_format", "_pretty"})


async def get_handlers(request: Request) -> FollowupHandlers:
    handlers: FollowupHandlers = request.app.state.followup
    return handlers


HandlersDep = Annotated[FollowupHandlers, Depends(get_handlers)]


@router.post("/{resource_type}")
async def create(
    resource_type: str, request: Request, runtime: RuntimeDep, handlers: HandlersDep
) -> Response:
    runtime.require(resource_type, "create")
    body = await read_fhir_body(request, runtime.settings.max_body_bytes)
    parse_resource(body, expected_type=resource_type)
    record = (
        handlers.record_response
        if resource_type == "QuestionnaireResponse"
        else handlers.record_observation
    )
    stored = await run_in_threadpool(record, body)
    headers = resource_headers(stored, runtime.base_url)
    return fhir_response(stored, status_code=201, headers=headers)


@router.get("/Questionnaire")
def questionnaires(request: Request, runtime: RuntimeDep, handlers: HandlersDep) -> Response:
    unknown = sorted({k for k in request.query_params if k not in QUESTIONNAIRE_PARAMS})
    if unknown:
        raise UnsupportedSearch(
            f"Questionnaire takes only url and _id here, not {', '.join(unknown)}"
        )
    questionnaire = handlers.policies.questionnaire_resource
    wanted_url = request.query_params.get("url")
    wanted_id = request.query_params.get("_id")
    found = (wanted_url in (None, questionnaire["url"])) and (
        wanted_id in (None, questionnaire["id"])
    )
    matches = [questionnaire] if found else []
    return fhir_response(_searchset(runtime.base_url, "Questionnaire", matches, str(request.url)))


@router.get("/Questionnaire/{questionnaire_id}")
def questionnaire(questionnaire_id: str, handlers: HandlersDep) -> Response:
    resource = handlers.policies.questionnaire_resource
    if questionnaire_id != resource["id"]:
        raise NotFound(f"Questionnaire/{questionnaire_id} is not known here")
    return fhir_response(resource)


@router.get("/Patient/{patient_id}/$everything")
@requires(("Patient", "r"))
def patient_everything(
    patient_id: str, request: Request, runtime: RuntimeDep, session: SessionDep
) -> Response:
    bundle = everything(session, runtime.registry, runtime.base_url, patient_id)
    # only the types the token may read (a Patient.r token sees the Patient, not the rest)
    may_see = principal_of(request).may_see
    bundle["entry"] = [e for e in bundle.get("entry", []) if may_see(e["resource"])]
    bundle["total"] = len(bundle["entry"])
    note_returned(e["resource"] for e in bundle["entry"])  # the audit names what was returned
    return fhir_response(bundle)


@journeys.get("/journeys/{patient_id}")
@requires(("Patient", "r"))
def journey(patient_id: str, session: SessionDep) -> dict[str, Any]:
    return journey_of(session, patient_id)


@journeys.get("/journey/{patient_id}")
@requires()
def old_journey_path(patient_id: str, request: Request) -> RedirectResponse:
    """Today's path, kept for those who bookmarked it: permanently moved to /journeys/{id}."""
    target = request.url_for("journey", patient_id=patient_id)
    return RedirectResponse(str(target), status_code=308)


def _searchset(
    base: str, resource_type: str, resources: list[dict[str, Any]], self_url: str
) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "link": [{"relation": "self", "url": self_url}],
        "entry": [
            {
                "fullUrl": f"{base}/{resource_type}/{r['id']}",
                "resource": r,
                "search": {"mode": "match"},
            }
            for r in resources
        ],
    }
