"""AuditEvent and Provenance resources (FHIR R4), built from ids only (pure).

An AuditEvent follows FHIR's and IHE BALP's RESTful pattern: type DICOM 110110 "Patient Record",
subtype the restful-interaction, action C/R/U/D/E (a search is E: DICOM's "Execute" covers a
query), outcome from the HTTP status (0 below 400, 4 for 4xx, 8 for 5xx; ``outcomeDesc`` is
``HTTP <status>``), the requesting client as the agent (its token's issuer and client id, the
token subject as altId, the caller's IP address), the service as observer, and as entities the
Patient (role 1) and the resources touched (type 2 System Object, role 4 Domain Resource).

One AuditEvent per patient concerned (BALP's advice, so a patient's disclosure report is one
search): a search returning three patients' resources is three AuditEvents, each with that
patient's resources and any that belong to no patient. The trace id is an entity of type 4
Other whose ``detail`` is ``trace-id`` (no standard code exists for it in R4; a detail needs
no extension definition and validates everywhere).

Nothing from a resource's body is copied: no names, dates, text or values, only Type/id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from painflow_shared.codes import AuditSystem, System
from painflow_shared.fhir.dates import fhir_instant
from painflow_shared.fhir.ids import new_id

PATIENT_RECORD = {"system": str(System.DICOM), "code": "110110", "display": "Patient Record"}
_ACTIONS = {
    "read": "R",
    "vread": "R",
    "history-instance": "R",
    "search-type": "E",
    "create": "C",
    "update": "U",
    "patch": "U",
    "delete": "D",
}
TRACE_DETAIL = "trace-id"


@dataclass(frozen=True)
class Agent:
    """The requesting client, from its verified token (None before or without one)."""

    issuer: str
    client_id: str | None
    subject: str | None
    address: str | None

    def reference(self) -> dict[str, Any] | None:
        if self.client_id is None:
            return None
        identifier = {"system": self.issuer, "value": self.client_id} if self.issuer else {}
        return {"identifier": identifier or {"value": self.client_id}}


@dataclass(frozen=True)
class Occurrence:
    """What happened: the interaction, its HTTP status, when, where and under which trace."""

    interaction: str
    status: int
    recorded: datetime
    service: str
    observer: str
    agent: Agent
    trace_id: str | None = None


@dataclass(frozen=True)
class Drafted:
    """A built resource with the columns it is found by."""

    id: str
    kind: str  # AuditEvent | Provenance
    recorded: datetime
    patient_id: str | None
    target: str | None  # a Provenance's Type/id
    content: dict[str, Any]


def action_of(interaction: str) -> str:
    return _ACTIONS.get(interaction, "E")


def outcome_of(status: int) -> str:
    return "0" if status < 400 else "4" if status < 500 else "8"


def audit_events(happened: Occurrence, touched: dict[str, set[str]]) -> list[Drafted]:
    """The AuditEvents of one request: one per patient concerned, or one without a patient."""
    patients = sorted({p for ps in touched.values() for p in ps})
    unowned = sorted(ref for ref, ps in touched.items() if not ps)
    if not patients:
        return [_drafted_event(happened, None, unowned)]
    return [
        _drafted_event(
            happened, patient, sorted(r for r, ps in touched.items() if patient in ps) + unowned
        )
        for patient in patients
    ]


def _drafted_event(happened: Occurrence, patient: str | None, references: list[str]) -> Drafted:
    resource_id = new_id()
    entities = [_patient_entity(patient)] if patient else []
    entities += [_object_entity(ref) for ref in references if ref != f"Patient/{patient}"]
    if happened.trace_id:
        entities.append(_trace_entity(happened.trace_id))
    content: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": resource_id,
        "type": PATIENT_RECORD,
        "subtype": [{"system": str(AuditSystem.RESTFUL_INTERACTION), "code": happened.interaction}],
        "action": action_of(happened.interaction),
        "recorded": fhir_instant(happened.recorded),
        "outcome": outcome_of(happened.status),
        "outcomeDesc": f"HTTP {happened.status}",
        "agent": [_agent(happened.agent)],
        "source": _source(happened),
    }
    if entities:
        content["entity"] = entities
    return Drafted(resource_id, "AuditEvent", happened.recorded, patient, None, content)


def provenance(
    happened: Occurrence, target: str, version: int, activity: str, patient: str | None
) -> Drafted:
    """The Provenance of one written resource: which version, who, and CREATE/UPDATE/DELETE."""
    resource_id = new_id()
    who = happened.agent.reference() or {"display": "unauthenticated"}
    content = {
        "resourceType": "Provenance",
        "id": resource_id,
        "target": [{"reference": f"{target}/_history/{version}"}],
        "recorded": fhir_instant(happened.recorded),
        "activity": {"coding": [{"system": str(AuditSystem.DATA_OPERATION), "code": activity}]},
        "agent": [{"who": who}],
    }
    return Drafted(resource_id, "Provenance", happened.recorded, patient, target, content)


def _agent(agent: Agent) -> dict[str, Any]:
    body: dict[str, Any] = {"requestor": True}
    who = agent.reference()
    if who is not None:
        body["who"] = who
    if agent.subject:
        body["altId"] = agent.subject
    if agent.address:
        body["network"] = {"address": agent.address, "type": "2"}  # 2: an IP address
    return body


def _source(happened: Occurrence) -> dict[str, Any]:
    return {
        "site": happened.service,
        "observer": {"identifier": {"value": happened.observer}, "display": happened.service},
        "type": [{"system": str(AuditSystem.SOURCE_TYPE), "code": "4"}],  # application server
    }


def _patient_entity(patient: str) -> dict[str, Any]:
    return {
        "what": {"reference": f"Patient/{patient}"},
        "type": {"system": str(AuditSystem.ENTITY_TYPE), "code": "1"},  # person
        "role": {"system": str(AuditSystem.OBJECT_ROLE), "code": "1"},  # patient
    }


def _object_entity(reference: str) -> dict[str, Any]:
    return {
        "what": {"reference": reference},
        "type": {"system": str(AuditSystem.ENTITY_TYPE), "code": "2"},  # system object
        "role": {"system": str(AuditSystem.OBJECT_ROLE), "code": "4"},  # domain resource
    }


def _trace_entity(trace_id: str) -> dict[str, Any]:
    return {
        "type": {"system": str(AuditSystem.ENTITY_TYPE), "code": "4"},  # other
        "detail": [{"type": TRACE_DETAIL, "valueString": trace_id}],
    }
