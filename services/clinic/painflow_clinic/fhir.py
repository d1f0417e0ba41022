"""The clinic's only way to clinical data: the four services' FHIR APIs, with the signed-in
user's bearer token. Failures become ``ServiceError`` carrying the OperationOutcome's issues
(element and rule, never patient data), which the pages show to the person as they are."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from painflow_clinic.settings import ClinicSettings

Resource = dict[str, Any]
Params = Mapping[str, str | list[str]]
FHIR_JSON = "application/fhir+json"
SERVICES = ("referral", "assessment", "scheduling", "followup")


@dataclass(frozen=True)
class Issue:
    severity: str
    code: str
    diagnostics: str
    expression: tuple[str, ...] = ()


@dataclass
class ServiceError(Exception):
    """A service refused or could not be reached; ``issues`` say why, as the service said it."""

    service: str
    status: int
    issues: list[Issue] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.service} answered {self.status}: " + "; ".join(
            i.diagnostics for i in self.issues
        )


def issues_of(body: Any) -> list[Issue]:
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return []
    return [
        Issue(
            severity=str(i.get("severity", "error")),
            code=str(i.get("code", "")),
            diagnostics=str(i.get("diagnostics") or (i.get("details") or {}).get("text") or ""),
            expression=tuple(i.get("expression") or ()),
        )
        for i in body.get("issue") or []
    ]


class Fhir:
    """Calls to the four services as one user (their token, or none before sign-in exists)."""

    def __init__(self, http: httpx.AsyncClient, settings: ClinicSettings, token: str | None):
        self.http, self.settings, self.token = http, settings, token

    def base(self, service: str) -> str:
        return f"{self.settings.service_url(service)}/fhir"

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"accept": FHIR_JSON, **(extra or {})}
        if self.token:
            headers["authorization"] = f"Bearer {self.token}"
        return headers

    async def request(
        self,
        service: str,
        method: str,
        path: str,
        *,
        fhir: bool = True,
        params: Params | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        root = self.base(service) if fhir else self.settings.service_url(service)
        try:
            response = await self.http.request(
                method, f"{root}{path}", params=params, json=json, headers=self._headers(headers)
            )
        except httpx.HTTPError as error:
            diagnostics = f"the {service} service could not be reached ({type(error).__name__})"
            raise ServiceError(service, 502, [Issue("error", "transient", diagnostics)]) from error
        if response.status_code >= 400:
            raise ServiceError(service, response.status_code, _issues(response, service))
        return response.json() if response.content else None

    async def read(self, service: str, reference: str) -> Resource:
        result: Resource = await self.request(service, "GET", f"/{reference}")
        return result

    async def search(
        self, service: str, resource_type: str, params: Params | None = None
    ) -> list[Resource]:
        """Matches only (``_include``d resources are dropped: ``search_entries`` keeps them)."""
        entries = await self.search_entries(service, resource_type, params)
        return [e["resource"] for e in entries if (e.get("search") or {}).get("mode") != "include"]

    async def search_entries(
        self, service: str, resource_type: str, params: Params | None = None
    ) -> list[Resource]:
        query = {"_count": "200", **(params or {})}
        bundle = await self.request(service, "GET", f"/{resource_type}", params=query)
        return list(bundle.get("entry") or [])

    async def post(self, service: str, path: str, body: Resource) -> Any:
        return await self.request(service, "POST", path, json=body, headers=CONTENT_FHIR)

    async def put(self, service: str, path: str, body: Resource, **headers: str) -> Any:
        return await self.request(
            service, "PUT", path, json=body, headers={**CONTENT_FHIR, **headers}
        )

    async def patch(self, service: str, path: str, operations: list[Any]) -> Any:
        return await self.request(service, "PATCH", path, json=operations, headers=JSON_PATCH)


CONTENT_FHIR = {"content-type": FHIR_JSON}
JSON_PATCH = {"content-type": "application/json-patch+json"}


def _issues(response: httpx.Response, service: str) -> list[Issue]:
    try:
        found = issues_of(response.json())
    except ValueError:
        found = []
    return found or [
        Issue("error", "exception", f"the {service} service answered {response.status_code}")
    ]


async def gather(*calls: Any) -> list[Any]:
    """Several reads at once (the pages read from up to four services)."""
    return list(await asyncio.gather(*calls))
