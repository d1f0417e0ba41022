"""FHIR read interactions every service offers for the types it owns: read, vread, history, search.

Write interactions are the service's own (they carry its rules); reads are the same everywhere.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from painflow_shared.fhir.bundles import history, searchset
from painflow_shared.fhir.errors import InvalidRequest, NotFound
from painflow_shared.fhir.http import resource_headers
from painflow_shared.fhir.media import fhir_response
from painflow_shared.fhir.references import parse_relative, reference_of
from painflow_shared.fhir.search import SearchPage, page_links, parse_query, run_search
from painflow_shared.fhir.store import ResourceStore
from painflow_shared.runtime import RuntimeDep, SessionDep


def read_router(resource_types: list[str]) -> APIRouter:
    router = APIRouter(prefix="/fhir", tags=["fhir"])
    owned = set(resource_types)

    def check_type(resource_type: str) -> None:
        if resource_type not in owned:
            raise NotFound(f"this service does not serve {resource_type}; see /fhir/metadata")

    @router.get("/{resource_type}")
    def search(
        resource_type: str, request: Request, runtime: RuntimeDep, session: SessionDep
    ) -> Response:
        check_type(resource_type)
        params = list(request.query_params.multi_items())
        query = parse_query(runtime.registry, resource_type, params)
        page = run_search(session, runtime.registry, resource_type, query)
        included = _includes(
            ResourceStore(session, runtime.registry), page, query.includes, resource_type
        )
        links = page_links(runtime.base_url, resource_type, params, page)
        return fhir_response(searchset(runtime.base_url, page, links, included))

    @router.get("/{resource_type}/{resource_id}")
    def read(
        resource_type: str, resource_id: str, runtime: RuntimeDep, session: SessionDep
    ) -> Response:
        check_type(resource_type)
        resource = ResourceStore(session, runtime.registry).read(resource_type, resource_id)
        return fhir_response(resource, headers=resource_headers(resource))

    @router.get("/{resource_type}/{resource_id}/_history")
    def resource_history(
        resource_type: str, resource_id: str, runtime: RuntimeDep, session: SessionDep
    ) -> Response:
        check_type(resource_type)
        versions = ResourceStore(session, runtime.registry).history(resource_type, resource_id)
        return fhir_response(history(runtime.base_url, versions))

    @router.get("/{resource_type}/{resource_id}/_history/{version_id}")
    def vread(
        resource_type: str,
        resource_id: str,
        version_id: str,
        runtime: RuntimeDep,
        session: SessionDep,
    ) -> Response:
        check_type(resource_type)
        if not version_id.isdigit():
            raise NotFound(f"{resource_type}/{resource_id} has no version '{version_id[:20]}'")
        resource = ResourceStore(session, runtime.registry).vread(
            resource_type, resource_id, int(version_id)
        )
        return fhir_response(resource, headers=resource_headers(resource))

    return router


def _includes(
    store: ResourceStore, page: SearchPage, includes: list[str], resource_type: str
) -> list[dict[str, Any]]:
    """``_include=Type:param``: the resources the matches point at, once each."""
    found: dict[str, dict[str, Any]] = {}
    for include in includes:
        source, _, param = include.partition(":")
        if source != resource_type or not param:
            raise InvalidRequest(
                f"_include={include[:60]} is not supported here", expression="_include"
            )
        element = param.split(":")[0]
        for resource in page.resources:
            for ref in _element_references(resource, element):
                target = store.find(*parse_relative(ref)) if "/" in ref else None
                if target is not None:
                    found.setdefault(ref, target)
    return list(found.values())


def _element_references(resource: dict[str, Any], element: str) -> list[str]:
    aliases = {"patient": "subject"}
    value = resource.get(element, resource.get(aliases.get(element, element)))
    items = value if isinstance(value, list) else [value]
    return [ref for ref in (reference_of(item) for item in items) if ref]
