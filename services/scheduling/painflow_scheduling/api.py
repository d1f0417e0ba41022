"""FHIR REST of the scheduling service: parse at the door, hand to the handlers, answer in FHIR.

Bodies are read asynchronously; database work runs in the thread pool.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from painflow_scheduling.handlers import SchedulingHandlers
from painflow_scheduling.operations import OPERATIONS, operation_definition
from painflow_scheduling.overrides import override_extension
from painflow_shared.auth.guard import requires
from painflow_shared.disconnect import run_cancellable
from painflow_shared.fhir.errors import (
    FhirError,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    UnsupportedSearch,
    rebase_paths,
)
from painflow_shared.fhir.http import read_body, read_fhir_body
from painflow_shared.fhir.media import fhir_response
from painflow_shared.fhir.parse import parse_resource
from painflow_shared.fhir.patch import apply_json_patch, read_json_patch
from painflow_shared.fhir.versions import parse_if_match, resource_headers
from painflow_shared.runtime import RuntimeDep

router = APIRouter(prefix="/fhir", tags=["scheduling"])
views = APIRouter(prefix="/patients", tags=["scheduling"])
Resource = dict[str, Any]
APPOINTMENT_PATCHABLE = ("status", "cancelationReason", "comment", "patientInstruction")
DEFINITION_PARAMS = ("_id", "code", "name", "url")
TASK_PATCHABLE = ("status", "statusReason", "businessStatus", "output", "note", "owner")


async def get_handlers(request: Request) -> SchedulingHandlers:
    handlers: SchedulingHandlers = request.app.state.scheduling
    return handlers


HandlersDep = Annotated[SchedulingHandlers, Depends(get_handlers)]


async def _body(request: Request, runtime: RuntimeDep, resource_type: str) -> Resource:
    body = await read_fhir_body(request, runtime.settings.max_body_bytes)
    parse_resource(body, expected_type=resource_type)
    return body


def _created(stored: Resource, runtime: RuntimeDep, status: int = 201) -> Response:
    return fhir_response(
        stored, status_code=status, headers=resource_headers(stored, runtime.base_url)
    )


@router.post("/Schedule")
async def create_schedule(request: Request, runtime: RuntimeDep, h: HandlersDep) -> Response:
    body = await _body(request, runtime, "Schedule")
    return _created(await run_in_threadpool(h.create_schedule, body), runtime)


@router.post("/Slot")
async def create_slot(request: Request, runtime: RuntimeDep, h: HandlersDep) -> Response:
    body = await _body(request, runtime, "Slot")
    return _created(await run_in_threadpool(h.create_slot, body), runtime)


@router.post("/Schedule/{schedule_id}/$generate-slots")
@requires(("Slot", "c"), ("Schedule", "r"))
async def generate_slots(
    schedule_id: str, request: Request, runtime: RuntimeDep, h: HandlersDep
) -> Response:
    params = await _body(request, runtime, "Parameters")
    return fhir_response(await run_in_threadpool(h.generate_slots, schedule_id, params))


@router.post("/Appointment")
async def create_appointment(request: Request, runtime: RuntimeDep, h: HandlersDep) -> Response:
    body = await _body(request, runtime, "Appointment")
    work = partial(h.book, body, request.headers.get("if-none-exist"))
    stored, status = await run_cancellable(request, work)
    return _created(stored, runtime, status)


@router.post("/Slot/{slot_id}/$book")
@requires(("Appointment", "c"), ("Slot", "u"))
async def book_slot(
    slot_id: str, request: Request, runtime: RuntimeDep, h: HandlersDep
) -> Response:
    params = await _body(request, runtime, "Parameters")
    appointment, if_none_exist = _appointment_from(slot_id, params)
    try:
        work = partial(h.book, appointment, if_none_exist, patient_from_order=True)
        stored, status = await run_in_threadpool(work)
    except FhirError as exc:
        rebase_paths(exc, "Appointment.basedOn", "Parameters.parameter.where(name='order')")
        raise rebase_paths(
            exc, "Appointment.slot", "Parameters.parameter.where(name='slot')"
        ) from None
    return _created(stored, runtime, status)


def _appointment_from(slot_id: str, params: Resource) -> tuple[Resource, str | None]:
    values: dict[str, list[Any]] = {}
    for p in params.get("parameter") or []:
        value = p.get("part") or next((v for k, v in p.items() if k.startswith("value")), None)
        values.setdefault(str(p.get("name")), []).append(value)
    orders = values.get("order") or []
    if len(orders) != 1 or not isinstance(orders[0], dict):
        raise InvalidRequest(
            "$book takes one order (valueReference ServiceRequest/id)",
            expression="Parameters.parameter.where(name='order')",
        )
    slots = [{"reference": f"Slot/{slot_id}"}, *values.get("slot", [])]
    appointment: Resource = {
        "resourceType": "Appointment",
        "status": "booked",
        "basedOn": orders,
        "slot": slots,
    }
    overrides = [
        {p.get("name"): _part_value(p) for p in parts}
        for parts in values.get("allergy-override", [])
    ]
    if overrides:
        appointment["extension"] = [override_extension(o) for o in overrides]
    identifier = (values.get("identifier") or [None])[0]
    if isinstance(identifier, dict) and identifier.get("value"):
        appointment["identifier"] = [identifier]
        return appointment, f"identifier={identifier.get('system', '')}|{identifier['value']}"
    return appointment, None


def _part_value(part: Resource) -> Any:
    return next((v for k, v in part.items() if k.startswith("value")), None)


@router.put("/Appointment/{appointment_id}")
async def update_appointment(
    appointment_id: str, request: Request, runtime: RuntimeDep, h: HandlersDep
) -> Response:
    body = await _body(request, runtime, "Appointment")
    _same_id(body, appointment_id, "Appointment")
    version = parse_if_match(request.headers.get("if-match"))
    stored = await run_in_threadpool(h.update_appointment, body, version)
    return fhir_response(stored, headers=resource_headers(stored, runtime.base_url))


@router.patch("/Appointment/{appointment_id}")
async def patch_appointment(
    appointment_id: str, request: Request, runtime: RuntimeDep, h: HandlersDep
) -> Response:
    patch = await _patch(request, runtime, "Appointment", APPOINTMENT_PATCHABLE)
    version = parse_if_match(request.headers.get("if-match"))
    stored = await run_in_threadpool(h.patch_appointment, appointment_id, patch, version)
    return fhir_response(stored, headers=resource_headers(stored, runtime.base_url))


async def _patch(
    request: Request, runtime: RuntimeDep, resource_type: str, allowed: tuple[str, ...]
) -> Callable[[Resource], Resource]:
    raw = await read_body(request, runtime.settings.max_body_bytes)
    operations = read_json_patch(request.headers.get("content-type"), raw)

    def patch(current: Resource) -> Resource:
        patched = apply_json_patch(current, operations, allowed=allowed)
        parse_resource(patched, expected_type=resource_type)
        return patched

    return patch


@router.post("/Appointment/{appointment_id}/$reschedule")
@requires(("Appointment", "u"), ("Slot", "u"))
async def reschedule(
    appointment_id: str, request: Request, runtime: RuntimeDep, h: HandlersDep
) -> Response:
    params = await _body(request, runtime, "Parameters")
    try:
        stored = await run_in_threadpool(h.reschedule, appointment_id, params)
    except FhirError as exc:
        raise rebase_paths(
            exc, "Appointment.slot", "Parameters.parameter.where(name='slot')"
        ) from None
    return fhir_response(stored, headers=resource_headers(stored, runtime.base_url))


@router.get("/ServiceRequest/{order_id}/$booking-constraints")
@requires(("ServiceRequest", "r"))
async def constraints(order_id: str, h: HandlersDep) -> Response:
    return fhir_response(await run_in_threadpool(h.booking_constraints, order_id))


@router.post("/Procedure")
async def create_procedure(request: Request, runtime: RuntimeDep, h: HandlersDep) -> Response:
    body = await _body(request, runtime, "Procedure")
    return _created(await run_in_threadpool(h.record_procedure, body), runtime)


@router.put("/Task/{task_id}")
async def update_task(
    task_id: str, request: Request, runtime: RuntimeDep, h: HandlersDep
) -> Response:
    body = await _body(request, runtime, "Task")
    _same_id(body, task_id, "Task")
    version = parse_if_match(request.headers.get("if-match"))
    stored = await run_in_threadpool(h.update_task, body, version)
    return fhir_response(stored, headers=resource_headers(stored, runtime.base_url))


@router.patch("/Task/{task_id}")
async def patch_task(
    task_id: str, request: Request, runtime: RuntimeDep, h: HandlersDep
) -> Response:
    patch = await _patch(request, runtime, "Task", TASK_PATCHABLE)
    version = parse_if_match(request.headers.get("if-match"))
    stored = await run_in_threadpool(h.patch_task, task_id, patch, version)
    return fhir_response(stored, headers=resource_headers(stored, runtime.base_url))


def _same_id(body: Resource, resource_id: str, resource_type: str) -> None:
    if body.get("id") != resource_id:
        raise InvalidRequest("the resource id must match the URL", expression=f"{resource_type}.id")


@router.get("/OperationDefinition")
def search_operation_definitions(request: Request, runtime: RuntimeDep) -> Response:
    criteria = list(request.query_params.multi_items())
    for name, _ in criteria:
        if name not in {*DEFINITION_PARAMS, "_format", "_pretty"}:
            raise UnsupportedSearch(
                f"OperationDefinition searches by {', '.join(DEFINITION_PARAMS)}",
                expression=name if name.isidentifier() else None,
            )
    found = [operation_definition(i, runtime.base_url) for i in OPERATIONS]
    for name, value in criteria:
        key = {"_id": "id"}.get(name, name)
        if key in ("id", "url", "code", "name"):
            found = [d for d in found if d[key] in value.split(",")]
    return fhir_response(
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(found),
            "link": [{"relation": "self", "url": str(request.url)}],
            "entry": [
                {"fullUrl": d["url"], "resource": d, "search": {"mode": "match"}} for d in found
            ],
        }
    )


@router.get("/OperationDefinition/{definition_id}")
def read_operation_definition(definition_id: str, runtime: RuntimeDep) -> Response:
    if definition_id not in OPERATIONS:
        raise NotFound(f"OperationDefinition/{definition_id} is not known here")
    return fhir_response(operation_definition(definition_id, runtime.base_url))


@router.delete("/{resource_type}/{resource_id}")
async def delete(resource_type: str, resource_id: str) -> Response:
    raise MethodNotAllowed(
        f"{resource_type} is not deleted here: cancel an Appointment with status cancelled"
    )


@views.get("/{patient_id}/safety-profile")
@requires(("Patient", "r"), ("MedicationStatement", "r"), ("AllergyIntolerance", "r"))
async def safety_profile(patient_id: str, h: HandlersDep) -> Response:
    """A convenience view (not FHIR): the patient's medications, allergies and open referrals."""
    profile = await run_in_threadpool(h.safety_profile, patient_id)
    if profile is None:
        raise NotFound(f"scheduling has no record for Patient/{patient_id}")
    return JSONResponse(profile)
