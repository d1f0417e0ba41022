"""Fetching what a referral points at on the sender's FHIR server (absolute references).

Only from trusted FHIR bases, on checked addresses (painflow_shared.fhir.remote_policy and
remote_client): anything else is a 422 before any request is made. An unreachable sender is a
502 OperationOutcome that says so, a missing resource there is a 422. What comes back is
validated like anything posted to us. Diagnostics name the element, never the URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from painflow_shared.fhir.errors import BusinessRuleViolation, InvalidRequest, UpstreamUnavailable
from painflow_shared.fhir.parse import parse_resource, read_json
from painflow_shared.fhir.references import is_relative, split_absolute
from painflow_shared.fhir.remote_client import RemoteFhirClient
from painflow_shared.fhir.remote_policy import RemoteRefused

HOW_TO_TRUST = (
    "an operator trusts a FHIR server by adding its base URL to REFERRAL_TRUSTED_FHIR_BASES "
    "(comma-separated; a base naming a literal IP trusts that address, and "
    "REFERRAL_ALLOW_PRIVATE_FHIR_BASES=true lets trusted host names resolve to private ranges)"
)


@dataclass(frozen=True)
class RemoteFhir:
    client: RemoteFhirClient

    def refuse_untrusted(self, url: str, expected_type: str, expression: str) -> str:
        """The URL's FHIR base; 422 unless it names an ``expected_type`` under a trusted base.

        Pure: no DNS look-up, no connection.
        """
        parts = split_absolute(url)
        if parts is None or parts[1] != expected_type:
            raise BusinessRuleViolation(
                f"{expression} must be a {expected_type} URL on a FHIR server",
                expression=expression,
            )
        try:
            self.client.policy.trusted_base_for(url)
        except RemoteRefused as exc:
            raise _refused(expression, exc) from None
        return parts[0]

    def fetch(self, url: str, expected_type: str, expression: str) -> dict[str, Any]:
        base = self.refuse_untrusted(url, expected_type, expression)
        try:
            answer = self.client.get(url)
        except RemoteRefused as exc:
            raise _refused(expression, exc) from None
        if answer.status in (404, 410):
            raise BusinessRuleViolation(
                f"the sender's server has no {expected_type} there", expression=expression
            )
        if answer.status != 200:
            raise UpstreamUnavailable(
                f"the sender's server answered {answer.status} for {expression}"
            )
        try:
            body = read_json(answer.body)  # the same depth and syntax limits as a request body
        except InvalidRequest as exc:
            raise UpstreamUnavailable(f"the sender's server sent no JSON for {expression}") from exc
        resource = parse_resource(body, expected_type=expected_type)
        return _absolute_references(resource.model_dump(mode="json", exclude_none=True), base)


def _refused(expression: str, exc: RemoteRefused) -> BusinessRuleViolation:
    return BusinessRuleViolation(
        f"{expression} is not fetched: {exc}; {HOW_TO_TRUST}", expression=expression
    )


def _absolute_references(node: Any, base: str) -> Any:
    """Relative references in a fetched resource are relative to the server it came from."""
    if isinstance(node, list):
        return [_absolute_references(item, base) for item in node]
    if not isinstance(node, dict):
        return node
    copied = {key: _absolute_references(value, base) for key, value in node.items()}
    if isinstance(copied.get("reference"), str) and is_relative(copied["reference"]):
        copied["reference"] = f"{base}/{copied['reference']}"
    return copied


def identifier_for_remote(url: str) -> dict[str, str]:
    """How a copied Patient remembers where it came from: system = the sender's base URL."""
    parts = split_absolute(url)
    assert parts is not None
    return {"system": parts[0], "value": parts[2]}
