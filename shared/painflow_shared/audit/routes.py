"""The audit over FHIR, on every service: AuditEvent and Provenance, read and search-type.

The routes are guarded like any other (``authorize`` reads ``GET /fhir/AuditEvent`` as a search
of AuditEvent: the scope ``AuditEvent.rs``, or ``Provenance.rs``; ``system/*.cruds`` has both;
``patient/`` scopes are refused, as these routes do not filter by compartment). Successful reads
of the audit are not themselves audited: each would add a row that the next read returns, and
so on; refused ones are (``audit_exempt``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from painflow_shared.audit.search import PARAMS, parse_audit_query, read_record, run_audit_query
from painflow_shared.audit.trail import audit_exempt
from painflow_shared.fhir.bundles import searchset
from painflow_shared.fhir.errors import NotFound
from painflow_shared.fhir.media import fhir_response
from painflow_shared.fhir.negotiation import wants_pretty
from painflow_shared.fhir.search import SearchPage, SearchQuery, page_links
from painflow_shared.runtime import RuntimeDep, SessionDep

AUDIT_TYPES = tuple(PARAMS)


def audit_router(owned: list[str]) -> APIRouter:
    """The audit's routes, but for a type the service stores and serves itself (assessment's
    clinicians' Provenances): there its own routes answer, and the audit's rows of that type
    stay in ``audit_record`` (see docs/audit.md)."""
    router = APIRouter(prefix="/fhir", tags=["audit"])
    for kind in AUDIT_TYPES:
        if kind not in owned:
            _routes(router, kind)
    return router


def _routes(router: APIRouter, kind: str) -> None:
    @router.get(f"/{kind}", name=f"search {kind}")
    @audit_exempt
    def search(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
        query = parse_audit_query(kind, list(request.query_params.multi_items()))
        resources, total = run_audit_query(session, query)
        kept = SearchQuery(count=query.count, offset=query.offset, kept=query.kept)
        page = SearchPage(resources, total, kept)
        bundle = searchset(runtime.base_url, page, page_links(runtime.base_url, kind, page))
        return fhir_response(bundle, pretty=wants_pretty(request.query_params.getlist("_pretty")))

    @router.get(f"/{kind}/{{record_id}}", name=f"read {kind}")
    @audit_exempt
    def read(record_id: str, request: Request, session: SessionDep) -> Response:
        found = read_record(session, kind, record_id)
        if found is None:
            raise NotFound(f"no such {kind} here")
        return fhir_response(found, pretty=wants_pretty(request.query_params.getlist("_pretty")))


def with_audit_capabilities(statement: dict[str, Any]) -> dict[str, Any]:
    """The CapabilityStatement with AuditEvent and Provenance (read and search-type)."""
    rest = dict(statement["rest"][0])
    declared = {r["type"] for r in rest["resource"]}
    added = [_capability(kind) for kind in AUDIT_TYPES if kind not in declared]
    rest["resource"] = [*rest["resource"], *added]
    return {**statement, "rest": [rest, *statement["rest"][1:]]}


def _capability(kind: str) -> dict[str, Any]:
    return {
        "type": kind,
        "interaction": [{"code": "read"}, {"code": "search-type"}],
        "versioning": "no-version",
        "readHistory": False,
        "updateCreate": False,
        "conditionalCreate": False,
        "conditionalUpdate": False,
        "searchParam": [{"name": n, "type": t} for n, t in PARAMS[kind].items()],
    }
