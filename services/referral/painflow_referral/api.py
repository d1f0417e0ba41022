"""FHIR REST of the referral service: parse at the door, hand to intake or cases, answer in FHIR.

Request bodies are read asynchronously; the database work runs in the thread pool so one slow
transaction never blocks the event loop.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from painflow_referral.handlers import ReferralHandlers
from painflow_referral.single import create_one, remote_entries, update_one
from painflow_shared.auth.guard import check_bundle, principal_of
from painflow_shared.disconnect import run_cancellable
from painflow_shared.fhir.bundle_limits import check_entry_count
from painflow_shared.fhir.errors import InvalidRequest, MethodNotAllowed
from painflow_shared.fhir.http import read_fhir_body, read_patch
from painflow_shared.fhir.media import fhir_response
from painflow_shared.fhir.parse import parse_resource
from painflow_shared.fhir.versions import parse_if_match, resource_headers
from painflow_shared.runtime import RuntimeDep

router = APIRouter(prefix="/fhir", tags=["referral"])


async def get_handlers(request: Request) -> ReferralHandlers:
    handlers: ReferralHandlers = request.app.state.referral
    return handlers


HandlersDep = Annotated[ReferralHandlers, Depends(get_handlers)]


@router.post("")
@router.post("/")
async def transaction_or_batch(
    request: Request, runtime: RuntimeDep, handlers: HandlersDep
) -> Response:
    body = await read_fhir_body(request, runtime.settings.max_body_bytes)
    check_entry_count(body, runtime.settings.max_bundle_entries)
    check_bundle(principal_of(request), body)  # the scope of every entry, before any work
    kind = body.get("type")
    # until it commits, the work stops when the client disconnects (run_cancellable)
    if kind == "batch" and body.get("resourceType") == "Bundle":
        # a batch's entries stand alone: each is validated (and may fail) on its own
        return fhir_response(await run_cancellable(request, partial(handlers.submit_batch, body)))
    parse_resource(body, expected_type="Bundle")
    if kind == "transaction":
        work = partial(handlers.submit_transaction, body)
        return fhir_response(await run_cancellable(request, work))
    raise InvalidRequest(
        "POST to the base takes a Bundle of type transaction or batch", expression="Bundle.type"
    )


@router.post("/{resource_type}")
async def create(
    resource_type: str, request: Request, runtime: RuntimeDep, handlers: HandlersDep
) -> Response:
    runtime.require(resource_type, "create")
    body = await read_fhir_body(request, runtime.settings.max_body_bytes)
    parse_resource(body, expected_type=resource_type)
    if_none_exist = request.headers.get("if-none-exist")
    extra = (
        await run_in_threadpool(remote_entries, handlers.remote, body)
        if resource_type == "ServiceRequest"
        else []
    )
    stored, status = await run_in_threadpool(create_one, handlers, body, if_none_exist, extra)
    return fhir_response(
        stored, status_code=status, headers=resource_headers(stored, runtime.base_url)
    )


@router.put("/{resource_type}/{resource_id}")
async def update(
    resource_type: str,
    resource_id: str,
    request: Request,
    runtime: RuntimeDep,
    handlers: HandlersDep,
) -> Response:
    runtime.require(resource_type, "update")
    body = await read_fhir_body(request, runtime.settings.max_body_bytes)
    parse_resource(body, expected_type=resource_type)
    if body.get("id") != resource_id:
        raise InvalidRequest("the resource id must match the URL", expression=f"{resource_type}.id")
    if_match = request.headers.get("if-match")
    if resource_type == "Task":
        version = parse_if_match(if_match)
        stored = await run_in_threadpool(handlers.update_task, body, version)
        status = 200
    else:
        parse_if_match(if_match)  # a malformed precondition is a 400 before any work
        stored, status = await run_in_threadpool(update_one, handlers, body, if_match)
    headers = resource_headers(stored, runtime.base_url)
    return fhir_response(stored, status_code=status, headers=headers)


@router.patch("/Task/{task_id}")
async def patch_task(
    task_id: str, request: Request, runtime: RuntimeDep, handlers: HandlersDep
) -> Response:
    operations, if_match = await read_patch(request, runtime.settings.max_body_bytes)
    stored = await run_in_threadpool(handlers.patch_task, task_id, operations, if_match)
    return fhir_response(stored, headers=resource_headers(stored, runtime.base_url))


@router.delete("/{resource_type}/{resource_id}")
async def delete(resource_type: str, resource_id: str) -> Response:
    raise MethodNotAllowed(
        f"{resource_type} is not deleted here: "
        "revoke a referral with ServiceRequest.status = revoked"
    )
