"""The HTTP side of the journey driver (journey.py): where the four services answer, FHIR
reads and writes that fail with a message naming the step, and bounded waiting for a service
to act on an event. No service package is imported here."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from painflow_shared.fhir.dates import parse_fhir_date

Resource = dict[str, Any]
FHIR_JSON = {"content-type": "application/fhir+json"}
JSON_PATCH = {"content-type": "application/json-patch+json"}


class JourneyError(AssertionError):
    """A step of the journey failed or timed out; the message names the step."""


@dataclass(frozen=True)
class Bases:
    """Where the four services answer (their roots, without /fhir)."""

    referral: str = "http://127.0.0.1:8001"
    assessment: str = "http://127.0.0.1:8002"
    scheduling: str = "http://127.0.0.1:8003"
    followup: str = "http://127.0.0.1:8004"

    def fhir(self, service: str) -> str:
        return f"{getattr(self, service)}/fhir"


class ServiceClient:
    """FHIR calls to the four services; every failure names the journey's step."""

    def __init__(self, bases: Bases, timeout: float, auth: httpx.Auth | None = None) -> None:
        self.bases, self.timeout = bases, timeout
        self.http = httpx.Client(timeout=30, auth=auth)  # every call as one authorised client

    def close(self) -> None:
        self.http.close()

    def wait(self, step: str, what: str, probe: Callable[[], Any]) -> Any:
        """Poll ``probe`` until it gives something; after ``timeout`` s, fail naming the step."""
        deadline = time.monotonic() + self.timeout
        while True:
            found = probe()
            if found:
                return found
            if time.monotonic() > deadline:
                raise JourneyError(
                    f"step '{step}': timed out after {self.timeout:g}s waiting for {what}"
                )
            time.sleep(0.2)

    def get(
        self,
        service: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        fhir: bool = True,
        missing_ok: bool = False,
    ) -> Any:
        root = self.bases.fhir(service) if fhir else getattr(self.bases, service)
        response = self.http.get(f"{root}{path}", params=params)
        if missing_ok and response.status_code == 404:
            return None
        expect(response, 200, f"GET {service}{path}")
        return response.json()

    def post(self, service: str, path: str, body: Resource, *, step: str, status: int = 201) -> Any:
        url = f"{self.bases.fhir(service)}{path}"
        response = self.http.post(url, json=body, headers=FHIR_JSON)
        expect(response, status, step)
        return response.json()

    def patch(self, service: str, path: str, operations: list[Resource], *, step: str) -> Any:
        url = f"{self.bases.fhir(service)}{path}"
        response = self.http.patch(url, json=operations, headers=JSON_PATCH)
        expect(response, 200, step)
        return response.json()


def expect(response: httpx.Response, status: int, step: str) -> None:
    """The answer a person expects, or a JourneyError with the OperationOutcome the service gave
    (its diagnostics name elements and rules, never patient data)."""
    if response.status_code != status:
        raise JourneyError(
            f"step '{step}': {response.request.method} {response.request.url.path} answered "
            f"{response.status_code}, not {status}: {response.text[:2000]}"
        )


def instant(value: str) -> datetime:
    parsed = parse_fhir_date(value)
    if parsed is None:
        raise JourneyError(f"not an instant: {value!r}")
    return parsed
