"""Who changed an order and why: the FHIR ``X-Provenance`` header of a PUT (a Provenance
resource as JSON, FHIR R4 RESTful API 3.1.0.12.1) names the author (``agent[0].who``) and the
reason (``reason``); the service records its own Provenance targeting the order."""

from __future__ import annotations

import json
from typing import Any

from painflow_assessment.context import AssessmentContext
from painflow_shared.fhir.errors import BusinessRuleViolation, InvalidRequest
from painflow_shared.fhir.references import reference_of, reference_string

DATA_OPERATION = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
AGENT_TYPE = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
MAX_HEADER = 8192
# a PUT of the order unchanged: the clinician verifies it (v3 VRF "verifier"), changing nothing
CONFIRMED = "VRF"


def read_provenance(header: str | None) -> dict[str, Any] | None:
    """The X-Provenance header as a Provenance with an author and a reason (None if absent)."""
    if not header:
        return None
    if len(header) > MAX_HEADER:
        raise InvalidRequest("X-Provenance is too long", expression="X-Provenance")
    try:
        given = json.loads(header)
    except json.JSONDecodeError:
        raise InvalidRequest(
            "X-Provenance must be a Provenance as JSON", expression="X-Provenance"
        ) from None
    if not isinstance(given, dict) or given.get("resourceType") != "Provenance":
        raise InvalidRequest("X-Provenance must be a Provenance", expression="X-Provenance")
    agents = given.get("agent") if isinstance(given.get("agent"), list) else []
    if not agents or not isinstance(agents[0], dict) or not _who(agents[0].get("who")):
        raise BusinessRuleViolation(
            "X-Provenance must name its author in agent[0].who (a reference, or an identifier "
            "with system and value)",
            expression="Provenance.agent",
        )
    reasons: list[Any] = given["reason"] if isinstance(given.get("reason"), list) else []
    if not any(isinstance(r, dict) and (r.get("text") or r.get("coding")) for r in reasons):
        raise BusinessRuleViolation(
            "X-Provenance must give the reason (reason[].text or coding)",
            expression="Provenance.reason",
        )
    return given


def record_provenance(
    ctx: AssessmentContext, target: dict[str, Any], given: dict[str, Any], operation: str
) -> dict[str, Any]:
    confirmed = operation == CONFIRMED
    role = "verifier" if confirmed else "author"
    provenance = {
        "resourceType": "Provenance",
        "target": [{"reference": reference_string(target["resourceType"], target["id"])}],
        "recorded": ctx.now(),
        "activity": {
            "coding": [
                {"system": PARTICIPATION if confirmed else DATA_OPERATION, "code": operation}
            ]
        },
        "agent": [
            {
                "type": {"coding": [{"system": AGENT_TYPE, "code": role, "display": role.title()}]},
                "who": _who(given["agent"][0]["who"], ctx),
            }
        ],
        "reason": [r for r in given["reason"] if isinstance(r, dict)],
        "entity": [
            {
                "role": "revision",
                "what": {
                    "reference": f"{target['resourceType']}/{target['id']}/_history/"
                    f"{target['meta']['versionId']}"
                },
            }
        ],
    }
    return ctx.store.create(provenance)


def _who(value: Any, ctx: AssessmentContext | None = None) -> dict[str, Any] | None:
    """The author as a reference (made local), or as an identifier with system and value (a
    user of the identity provider that no FHIR resource here names), keeping its display."""
    if not isinstance(value, dict):
        return None
    display = {"display": str(value["display"])} if value.get("display") else {}
    author = reference_of(value)
    if author:
        return {"reference": ctx.local(author) if ctx else author, **display}
    identifier = value.get("identifier")
    if isinstance(identifier, dict) and identifier.get("system") and identifier.get("value"):
        system, code = str(identifier["system"]), str(identifier["value"])
        return {"identifier": {"system": system, "value": code}, **display}
    return None
