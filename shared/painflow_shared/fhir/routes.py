"""FHIR read interactions every service offers for the types it owns: read, vread, history, search.

Write interactions are the service's own (they carry its rules); reads are the same everywhere.
Every route here answers 406 to a ``_format`` or ``Accept`` asking for something but JSON.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from painflow_shared.audit.trail import note_returned
from painflow_shared.auth.guard import compartment_aware, principal_of
from painflow_shared.auth.scopes import Interaction
from painflow_shared.fhir.bundles import history, searchset
from painflow_shared.fhir.errors import Forbidden, InvalidRequest, NotFound
from painflow_shared.fhir.media import fhir_response
from painflow_shared.fhir.negotiation import negotiated, prefers_lenient, wants_pretty
from painflow_shared.fhir.numbers import MAX_INT32, NumberOutOfRange, parse_bounded_int
from painflow_shared.fhir.outcomes import operation_outcome
from painflow_shared.fhir.references import local_reference, reference_of
from painflow_shared.fhir.search import Include, SearchPage, page_links, parse_query, run_search
from painflow_shared.fhir.search_params import values_at
from painflow_shared.fhir.search_query import read_shaping
from painflow_shared.fhir.store import ResourceStore
from painflow_shared.fhir.subsetting import subset
from painflow_shared.fhir.versions import resource_headers
from painflow_shared.runtime import RuntimeDep, ServiceRuntime, SessionDep


def read_router(resource_types: list[str]) -> APIRouter:
    router = APIRouter(prefix="/fhir", tags=["fhir"], dependencies=[Depends(negotiated)])
    owned = set(resource_types)

    def check_type(resource_type: str) -> None:
        if resource_type not in owned:
            raise NotFound(f"this service does not serve {resource_type}; see /fhir/metadata")

    @router.get("/{resource_type}")
    @compartment_aware
    def search(
        resource_type: str, request: Request, runtime: RuntimeDep, session: SessionDep
    ) -> Response:
        check_type(resource_type)
        params = _local_references(runtime, resource_type, list(request.query_params.multi_items()))
        params += _compartment_criteria(runtime, request, resource_type)
        pretty = wants_pretty(request.query_params.getlist("_pretty"))
        lenient = prefers_lenient(request.headers.get("prefer"))
        query = parse_query(runtime.registry, resource_type, params, lenient=lenient)
        page = run_search(session, runtime.registry, resource_type, query)
        store = ResourceStore(session, runtime.registry)
        # a search never returns, nor includes, what the token may not read
        may_see = principal_of(request).may_see
        included = [r for r in _includes(store, page, query.includes) if may_see(r)]
        page = replace(page, resources=[r for r in page.resources if may_see(r)])
        note_returned([*page.resources, *included])  # the audit: ids and patients only
        shaped = [subset(r, summary=query.summary, elements=query.elements) for r in page.resources]
        links = page_links(runtime.base_url, resource_type, page)
        outcome = operation_outcome(query.warnings) if query.warnings else None
        page = replace(page, resources=shaped)
        bundle = searchset(runtime.base_url, page, links, included, outcome)
        return fhir_response(bundle, pretty=pretty)

    @router.get("/{resource_type}/{resource_id}")
    @compartment_aware
    def read(
        resource_type: str,
        resource_id: str,
        request: Request,
        runtime: RuntimeDep,
        session: SessionDep,
    ) -> Response:
        check_type(resource_type)
        resource = ResourceStore(session, runtime.registry).read(resource_type, resource_id)
        note_returned([resource])  # the audit: whose record was asked for, even if refused
        _check_visible(request, resource)
        return _read_response(request, resource)

    @router.get("/{resource_type}/{resource_id}/_history")
    def resource_history(
        resource_type: str,
        resource_id: str,
        request: Request,
        runtime: RuntimeDep,
        session: SessionDep,
    ) -> Response:
        check_type(resource_type)
        versions = ResourceStore(session, runtime.registry).history(resource_type, resource_id)
        note_returned(v.content for v in versions)
        pretty = wants_pretty(request.query_params.getlist("_pretty"))
        return fhir_response(history(runtime.base_url, versions), pretty=pretty)

    @router.get("/{resource_type}/{resource_id}/_history/{version_id}")
    @compartment_aware
    def vread(
        resource_type: str,
        resource_id: str,
        version_id: str,
        request: Request,
        runtime: RuntimeDep,
        session: SessionDep,
    ) -> Response:
        check_type(resource_type)
        version = _version(resource_type, resource_id, version_id)
        resource = ResourceStore(session, runtime.registry).vread(
            resource_type, resource_id, version
        )
        note_returned([resource])
        _check_visible(request, resource)
        return _read_response(request, resource)

    return router


def _compartment_criteria(
    runtime: ServiceRuntime, request: Request, resource_type: str
) -> list[tuple[str, str]]:
    """A patient/ token's search is ANDed with its compartment, so totals and pages count only
    what it may see (the results are filtered again on the way out)."""
    patient = principal_of(request).compartment_for(resource_type, Interaction.SEARCH)
    if patient is None:
        return []
    if resource_type == "Patient":
        return [("_id", patient)]
    known = runtime.registry.params_for(resource_type)
    for name in ("patient", "subject", "beneficiary"):
        if name in known and known[name].type == "reference":
            return [(name, f"Patient/{patient}")]
    raise Forbidden(f"{resource_type} cannot be searched within a patient's compartment here")


def _check_visible(request: Request, resource: dict[str, Any]) -> None:
    if not principal_of(request).may_see(resource):
        raise Forbidden("the token is limited to another patient's compartment")


def _read_response(request: Request, resource: dict[str, Any]) -> Response:
    summary, elements = read_shaping(list(request.query_params.multi_items()))
    pretty = wants_pretty(request.query_params.getlist("_pretty"))
    shaped = subset(resource, summary=summary, elements=elements)
    return fhir_response(shaped, headers=resource_headers(resource), pretty=pretty)


def _version(resource_type: str, resource_id: str, version_id: str) -> int:
    """The version in ``/_history/{version}``: ASCII digits (else 400); one no resource can
    have (0, or past a database integer) is simply not there: 404."""
    try:
        return parse_bounded_int(version_id, name="version", maximum=MAX_INT32, minimum=1)
    except NumberOutOfRange as exc:
        raise NotFound(f"{resource_type}/{resource_id} has no such version") from exc
    except InvalidRequest as exc:
        raise InvalidRequest("the version in _history/{version} must be digits 0-9") from exc


def _includes(
    store: ResourceStore, page: SearchPage, includes: list[Include]
) -> list[dict[str, Any]]:
    """``_include=Type:param[:Target]``: the resources the matches point at, once each."""
    found: dict[str, dict[str, Any]] = {}
    for include in includes:
        for resource in page.resources:
            for ref in _references(resource, include.param.path):
                target = None if ref in found else store.resolve(ref, include.target)
                if target is not None:
                    found[ref] = target
    return list(found.values())


def _references(resource: dict[str, Any], path: str) -> list[str]:
    return [ref for ref in (reference_of(value) for value in values_at(resource, path)) if ref]


def _local_references(
    runtime: ServiceRuntime, resource_type: str, params: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    """``patient=http://referral/fhir/Patient/1`` searches as ``patient=Patient/1``."""
    known = runtime.registry.params_for(resource_type)
    bases = runtime.settings.local_bases()

    def local(name: str, value: str) -> str:
        param = known.get(name.partition(":")[0])
        if param is None or param.type != "reference" or "://" not in value:
            return value
        return ",".join(local_reference(part, bases) for part in value.split(","))

    return [(name, local(name, value)) for name, value in params]
