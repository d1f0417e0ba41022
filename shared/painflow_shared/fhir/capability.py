"""The CapabilityStatement at ``/fhir/metadata``, built from what the service really wires up."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends
from starlette.responses import Response

from painflow_shared.fhir.media import fhir_response
from painflow_shared.fhir.negotiation import negotiated
from painflow_shared.fhir.search_params import SearchParamRegistry

READS = ("read", "vread", "history-instance", "search-type")


@dataclass(frozen=True)
class ResourceCapability:
    type: str
    interactions: tuple[str, ...] = READS
    conditional_create: bool = False
    conditional_update: bool = False
    update_create: bool = False  # PUT to a new id creates
    operations: tuple[str, ...] = ()
    # (operation, canonical of its served OperationDefinition); others get a urn:painflow name
    definitions: tuple[tuple[str, str], ...] = ()


def capability_statement(
    *,
    service: str,
    base_url: str,
    registry: SearchParamRegistry,
    resources: list[ResourceCapability],
    system_interactions: tuple[str, ...] = (),
) -> dict[str, Any]:
    rest: dict[str, Any] = {
        "mode": "server",
        "resource": [_resource(r, registry) for r in resources],
    }
    if system_interactions:
        rest["interaction"] = [{"code": code} for code in system_interactions]
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-23",
        "kind": "instance",
        "software": {"name": f"painflow-{service}", "version": "0.1.0"},
        "implementation": {"description": f"Painflow {service} service", "url": base_url},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [rest],
    }


def _resource(cap: ResourceCapability, registry: SearchParamRegistry) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": cap.type,
        "interaction": [{"code": code} for code in cap.interactions],
        "versioning": "versioned",
        "readHistory": True,
        "updateCreate": cap.update_create,
        "conditionalCreate": cap.conditional_create,
        "conditionalUpdate": cap.conditional_update,
    }
    if "search-type" in cap.interactions:
        body["searchParam"] = [
            {"name": p.name, "type": p.type} for p in registry.params_for(cap.type).values()
        ]
    if cap.operations:
        canonical = dict(cap.definitions)
        body["operation"] = [
            {"name": op, "definition": canonical.get(op, f"urn:painflow:operation:{op}")}
            for op in cap.operations
        ]
    return body


SECURITY_SERVICE = "http://terminology.hl7.org/CodeSystem/restful-security-service"
OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"


def security_block(endpoints: dict[str, Any] | None) -> dict[str, Any]:
    """``rest.security``: SMART on FHIR, with the token endpoint once the issuer is known."""
    block: dict[str, Any] = {
        "cors": False,
        "service": [{"coding": [{"system": SECURITY_SERVICE, "code": "SMART-on-FHIR"}]}],
        "description": "Bearer tokens (SMART Backend Services / App Launch v2 scopes); "
        "see .well-known/smart-configuration",
    }
    uris = [
        {"url": name, "valueUri": endpoints[key]}
        for name, key in (("token", "token_endpoint"), ("authorize", "authorization_endpoint"))
        if endpoints and endpoints.get(key)
    ]
    if uris:
        block["extension"] = [{"url": OAUTH_URIS, "extension": uris}]
    return block


def metadata_router(
    statement: dict[str, Any], endpoints: Callable[[], dict[str, Any] | None] = lambda: None
) -> APIRouter:
    """``/fhir/metadata`` (open to all, as FHIR expects) with the security it enforces."""
    router = APIRouter(prefix="/fhir", tags=["fhir"], dependencies=[Depends(negotiated)])

    @router.get("/metadata")
    def metadata() -> Response:
        rest = {**statement["rest"][0], "security": security_block(endpoints())}
        return fhir_response({**statement, "rest": [rest]})

    return router
