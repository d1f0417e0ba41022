"""FHIR REST of the assessment service: parse at the door, hand to the handlers, answer in FHIR.

Writes: ``POST /fhir/QuestionnaireResponse`` (``If-None-Exist`` on identifier),
``POST /fhir/ServiceRequest`` (a clinician's direct order), ``PUT /fhir/ServiceRequest/{id}``
(override with ``X-Provenance``, or revoke), ``PUT``/``PATCH /fhir/Task/{id}`` (an urgent
review). Everything else a client may read comes from the shared read routes. ``GET /worklist``
is a convenience view for people, outside FHIR.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from sqlmodel import col, select
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from painflow_assessment.handlers import AssessmentHandlers
from painflow_assessment.provenance import read_provenance
from painflow_assessment.tables import IntakeItem
from painflow_shared.audit.trail import note_touched
from painflow_shared.auth.guard import requires
from painflow_shared.fhir.errors import InvalidRequest, MethodNotAllowed, NotFound
from painflow_shared.fhir.http import read_fhir_body, read_patch
from painflow_shared.fhir.media import fhir_response
from painflow_shared.fhir.parse import parse_resource
from painflow_shared.fhir.versions import parse_if_match, resource_headers
from painflow_shared.runtime import RuntimeDep, SessionDep

router = APIRouter(prefix="/fhir", tags=["assessment"])
worklist_router = APIRouter(prefix="/worklist", tags=["assessment"])


async def get_handlers(request: Request) -> AssessmentHandlers:
    handlers: AssessmentHandlers = request.app.state.assessment
    return handlers


HandlersDep = Annotated[AssessmentHandlers, Depends(get_handlers)]


async def _resource(request: Request, runtime: RuntimeDep, resource_type: str) -> dict[str, Any]:
    body = await read_fhir_body(request, runtime.settings.max_body_bytes)
    parse_resource(body, expected_type=resource_type)
    return body


@router.post("/QuestionnaireResponse")
async def create_response(request: Request, runtime: RuntimeDep, handlers: HandlersDep) -> Response:
    body = await _resource(request, runtime, "QuestionnaireResponse")
    if_none_exist = request.headers.get("if-none-exist")
    stored, status = await run_in_threadpool(handlers.submit_response, body, if_none_exist)
    headers = resource_headers(stored, runtime.base_url)
    return fhir_response(stored, status_code=status, headers=headers)


@router.post("/ServiceRequest")
async def create_order(request: Request, runtime: RuntimeDep, handlers: HandlersDep) -> Response:
    body = await _resource(request, runtime, "ServiceRequest")
    stored = await run_in_threadpool(handlers.order, body)
    return fhir_response(
        stored, status_code=201, headers=resource_headers(stored, runtime.base_url)
    )


@router.put("/ServiceRequest/{order_id}")
async def update_order(
    order_id: str, request: Request, runtime: RuntimeDep, handlers: HandlersDep
) -> Response:
    body = await _same_id(request, runtime, "ServiceRequest", order_id)
    if_match = parse_if_match(request.headers.get("if-match"))
    provenance = read_provenance(request.headers.get("x-provenance"))
    stored = await run_in_threadpool(handlers.update_order, body, if_match, provenance)
    return fhir_response(stored, headers=resource_headers(stored, runtime.base_url))


@router.put("/Task/{task_id}")
async def update_task(
    task_id: str, request: Request, runtime: RuntimeDep, handlers: HandlersDep
) -> Response:
    body = await _same_id(request, runtime, "Task", task_id)
    if_match = parse_if_match(request.headers.get("if-match"))
    stored = await run_in_threadpool(handlers.update_task, body, if_match)
    return fhir_response(stored, headers=resource_headers(stored, runtime.base_url))


@router.patch("/Task/{task_id}")
async def patch_task(
    task_id: str, request: Request, runtime: RuntimeDep, handlers: HandlersDep
) -> Response:
    operations, if_match = await read_patch(request, runtime.settings.max_body_bytes)
    stored = await run_in_threadpool(handlers.patch_task, task_id, operations, if_match)
    return fhir_response(stored, headers=resource_headers(stored, runtime.base_url))


@router.post("/{resource_type}")
async def create_other(resource_type: str, runtime: RuntimeDep) -> Response:
    runtime.require(resource_type, "create")  # a 404 naming what is supported
    raise AssertionError("every create this service offers has its own route")


@router.put("/{resource_type}/{resource_id}")
async def update_other(resource_type: str, resource_id: str, runtime: RuntimeDep) -> Response:
    runtime.require(resource_type, "update")
    raise AssertionError("every update this service offers has its own route")


@router.delete("/{resource_type}/{resource_id}")
async def delete(resource_type: str, resource_id: str) -> Response:
    raise MethodNotAllowed(
        f"{resource_type} is not deleted here: revoke an order with status revoked"
    )


async def _same_id(
    request: Request, runtime: RuntimeDep, resource_type: str, resource_id: str
) -> dict[str, Any]:
    body = await _resource(request, runtime, resource_type)
    if body.get("id") != resource_id:
        raise InvalidRequest("the resource id must match the URL", expression=f"{resource_type}.id")
    return body


@worklist_router.get("")
@requires(("ServiceRequest", "s"))
def worklist(session: SessionDep, status: str | None = None) -> list[dict[str, Any]]:
    query = select(IntakeItem).order_by(col(IntakeItem.updated_at).desc()).limit(200)
    if status:
        query = query.where(IntakeItem.status == status)
    items = session.exec(query).all()
    for item in items:  # the audit names each referral and patient the worklist showed
        note_touched(f"ServiceRequest/{item.service_request_id}", [item.patient_id])
    return [item.model_dump(mode="json") for item in items]


@worklist_router.get("/{service_request_id}")
@requires(("ServiceRequest", "r"))
def worklist_item(service_request_id: str, session: SessionDep) -> dict[str, Any]:
    item = session.get(IntakeItem, service_request_id)
    if item is None:
        raise NotFound(
            f"no referral ServiceRequest/{service_request_id} on the assessment worklist"
        )
    note_touched(f"ServiceRequest/{item.service_request_id}", [item.patient_id])
    return item.model_dump(mode="json")
