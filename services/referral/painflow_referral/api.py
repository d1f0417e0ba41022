"""FHIR REST of the referral service: parse at the door, hand to intake or cases, answer in FHIR.

Request bodies are read asynchronously; the database work runs in the thread pool so one slow
transaction never blocks the event loop.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from painflow_referral import cases
from painflow_referral.bundle_plan import ACCEPTED_TYPES
from painflow_referral.single import create_one, remote_entries, update_one
from painflow_referral.transactions import run_batch, run_in_transaction, run_transaction
from painflow_shared.disconnect import run_cancellable
from painflow_shared.fhir.bundle_limits import check_entry_count
from painflow_shared.fhir.errors import InvalidRequest, MethodNotAllowed, NotFound
from painflow_shared.fhir.http import parse_if_match, read_body, read_fhir_body, resource_headers
from painflow_shared.fhir.media import fhir_response
from painflow_shared.fhir.parse import parse_resource
from painflow_shared.fhir.patch import apply_json_patch, read_json_patch
from painflow_shared.runtime import RuntimeDep

router = APIRouter(prefix="/fhir", tags=["referral"])
CREATABLE = ACCEPTED_TYPES
UPDATABLE = ACCEPTED_TYPES | {"Task"}


@router.post("")
@router.post("/")
async def transaction_or_batch(request: Request, runtime: RuntimeDep) -> Response:
    body = await read_fhir_body(request, runtime.settings.max_body_bytes)
    check_entry_count(body, runtime.settings.max_bundle_entries)
    kind = body.get("type")
    # until it commits, the work stops when the client disconnects (run_cancellable)
    if kind == "batch" and body.get("resourceType") == "Bundle":
        # a batch's entries stand alone: each is validated (and may fail) on its own
        return fhir_response(await run_cancellable(request, partial(run_batch, request.app, body)))
    parse_resource(body, expected_type="Bundle")
    if kind == "transaction":
        work = partial(run_transaction, request.app, body)
        return fhir_response(await run_cancellable(request, work))
    raise InvalidRequest(
        "POST to the base takes a Bundle of type transaction or batch", expression="Bundle.type"
    )


@router.post("/{resource_type}")
async def create(resource_type: str, request: Request, runtime: RuntimeDep) -> Response:
    _check_type(resource_type, CREATABLE, "create")
    body = await read_fhir_body(request, runtime.settings.max_body_bytes)
    parse_resource(body, expected_type=resource_type)
    if_none_exist = request.headers.get("if-none-exist")
    extra = (
        await run_in_threadpool(remote_entries, request.app, body)
        if resource_type == "ServiceRequest"
        else []
    )
    stored, status = await run_in_threadpool(create_one, request.app, body, if_none_exist, extra)
    return fhir_response(
        stored, status_code=status, headers=resource_headers(stored, runtime.base_url)
    )


@router.put("/{resource_type}/{resource_id}")
async def update(
    resource_type: str, resource_id: str, request: Request, runtime: RuntimeDep
) -> Response:
    _check_type(resource_type, UPDATABLE, "update")
    body = await read_fhir_body(request, runtime.settings.max_body_bytes)
    parse_resource(body, expected_type=resource_type)
    if body.get("id") != resource_id:
        raise InvalidRequest("the resource id must match the URL", expression=f"{resource_type}.id")
    if_match = request.headers.get("if-match")
    if resource_type == "Task":
        version = parse_if_match(if_match)
        stored = await run_in_threadpool(
            run_in_transaction,
            request.app,
            lambda ctx: cases.coordinator_update(ctx, body, version),
        )
        status = 200
    else:
        parse_if_match(if_match)  # a malformed precondition is a 400 before any work
        stored, status = await run_in_threadpool(update_one, request.app, body, if_match)
    headers = resource_headers(stored, runtime.base_url)
    return fhir_response(stored, status_code=status, headers=headers)


@router.patch("/Task/{task_id}")
async def patch_task(task_id: str, request: Request, runtime: RuntimeDep) -> Response:
    raw = await read_body(request, runtime.settings.max_body_bytes)
    operations = read_json_patch(request.headers.get("content-type"), raw)
    if_match = parse_if_match(request.headers.get("if-match"))

    def work(ctx: Any) -> dict[str, Any]:
        current = ctx.store.read("Task", task_id)
        patched = apply_json_patch(current, operations, allowed=cases.COORDINATOR_FIELDS)
        parse_resource(patched, expected_type="Task")
        return cases.coordinator_update(ctx, patched, if_match)

    stored = await run_in_threadpool(run_in_transaction, request.app, work)
    return fhir_response(stored, headers=resource_headers(stored, runtime.base_url))


@router.delete("/{resource_type}/{resource_id}")
async def delete(resource_type: str, resource_id: str) -> Response:
    raise MethodNotAllowed(
        f"{resource_type} is not deleted here: "
        "revoke a referral with ServiceRequest.status = revoked"
    )


def _check_type(resource_type: str, allowed: frozenset[str], interaction: str) -> None:
    if resource_type not in allowed:
        raise NotFound(
            f"{interaction} of {resource_type} is not supported here; see /fhir/metadata"
        )
