"""Fetching what a referral points at on the sender's FHIR server (absolute references).

Timeouts and retries with backoff; an unreachable sender is a 502 OperationOutcome that says so,
a missing resource there is a 422. What comes back is validated like anything posted to us.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx

from painflow_shared.fhir.errors import BusinessRuleViolation, UpstreamUnavailable
from painflow_shared.fhir.media import FHIR_JSON
from painflow_shared.fhir.parse import parse_resource
from painflow_shared.fhir.references import split_absolute

log = logging.getLogger(__name__)
RETRYABLE_STATUS = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class RemoteFhir:
    timeout_seconds: float = 5.0
    attempts: int = 3
    backoff_seconds: float = 0.3

    def fetch(self, url: str, expected_type: str) -> dict[str, Any]:
        parts = split_absolute(url)
        if parts is None or parts[1] != expected_type:
            raise BusinessRuleViolation(
                f"'{url[:120]}' is not a {expected_type} URL on a FHIR server"
            )
        response = self._get(url)
        if response.status_code in (404, 410):
            raise BusinessRuleViolation(
                f"the sender's server has no {expected_type} at {url[:120]}"
            )
        if response.status_code != 200:
            raise UpstreamUnavailable(
                f"the sender's server answered {response.status_code} for {url[:120]}"
            )
        try:
            body = response.json()
        except ValueError as exc:
            raise UpstreamUnavailable(f"the sender's server sent no JSON for {url[:120]}") from exc
        return parse_resource(body, expected_type=expected_type).model_dump(
            mode="json", exclude_none=True
        )

    def _get(self, url: str) -> httpx.Response:
        last_error = "no attempt"
        with httpx.Client(timeout=self.timeout_seconds, headers={"accept": FHIR_JSON}) as client:
            for attempt in range(1, self.attempts + 1):
                try:
                    response = client.get(url)
                    if response.status_code not in RETRYABLE_STATUS:
                        return response
                    last_error = f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:
                    last_error = type(exc).__name__
                log.warning(
                    "fetching a referenced resource failed (attempt %d/%d): %s",
                    attempt,
                    self.attempts,
                    last_error,
                )
                if attempt < self.attempts:
                    time.sleep(self.backoff_seconds * 2 ** (attempt - 1))
        raise UpstreamUnavailable(
            f"the sender's FHIR server is unreachable ({last_error}) after {self.attempts} attempts"
        )


def identifier_for_remote(url: str) -> dict[str, str]:
    """How a copied Patient remembers where it came from: system = the sender's base URL."""
    parts = split_absolute(url)
    assert parts is not None
    return {"system": parts[0], "value": parts[2]}
