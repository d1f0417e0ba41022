"""What the referring EHR hears after triage: each step of the program as a milestone on the
referral's triage Task (``businessStatus`` and ``output``), read from the other services' events.

Pure: it reads an event's type and its message Bundle entries (each with its ``fullUrl``, so an
output names the resource where it lives) and says what the Task should show. Which referral an
event concerns is decided by the chain of orders (``referral_links``): an assessment order names
the referral in ``basedOn``, a follow-on order names the order before it, an Appointment or a
Procedure names its order, a follow-up plan or next step names the order it follows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from painflow_shared.codes import CodeSystem, NextStep, ReferralMilestone
from painflow_shared.events.types import AssessmentEvent, FollowupEvent, SchedulingEvent
from painflow_shared.fhir.references import reference_of, split_absolute

Entry = dict[str, Any]
IN_PROGRESS, COMPLETED = "in-progress", "completed"

# event type -> (milestone, focus type whose fullUrl the output names, plain words)
_SIMPLE: dict[str, tuple[ReferralMilestone, str, str]] = {
    AssessmentEvent.STARTED: (
        ReferralMilestone.INTAKE_STARTED,
        "Task",
        "intake questionnaires sent to the patient",
    ),
    AssessmentEvent.SAFETY_FLAG: (
        ReferralMilestone.SAFETY_REVIEW,
        "Flag",
        "an urgent clinician review is open; the pathway decision waits for it",
    ),
    AssessmentEvent.PROCEDURE_ORDERED: (
        ReferralMilestone.PROCEDURE_ORDERED,
        "ServiceRequest",
        "procedure ordered",
    ),
    AssessmentEvent.ORDER_REVOKED: (
        ReferralMilestone.ORDER_REVOKED,
        "ServiceRequest",
        "procedure order revoked",
    ),
    SchedulingEvent.APPOINTMENT_BOOKED: (
        ReferralMilestone.PROCEDURE_BOOKED,
        "Appointment",
        "procedure booked",
    ),
    SchedulingEvent.APPOINTMENT_CANCELLED: (
        ReferralMilestone.APPOINTMENT_CANCELLED,
        "Appointment",
        "procedure appointment cancelled",
    ),
    SchedulingEvent.APPOINTMENT_RESCHEDULED: (
        ReferralMilestone.APPOINTMENT_RESCHEDULED,
        "Appointment",
        "procedure appointment rescheduled",
    ),
    SchedulingEvent.APPOINTMENT_NOSHOW: (
        ReferralMilestone.APPOINTMENT_NOSHOW,
        "Appointment",
        "the patient did not attend the procedure appointment",
    ),
    SchedulingEvent.PROCEDURE_PERFORMED: (
        ReferralMilestone.PROCEDURE_PERFORMED,
        "Procedure",
        "procedure performed",
    ),
    FollowupEvent.FOLLOWUP_SCHEDULED: (
        ReferralMilestone.FOLLOWUP_SCHEDULED,
        "CarePlan",
        "follow-up scheduled",
    ),
    FollowupEvent.OUTCOME_RECORDED: (
        ReferralMilestone.OUTCOME_RECORDED,
        "Observation",
        "outcome recorded",
    ),
    FollowupEvent.FOLLOWUP_OVERDUE: (
        ReferralMilestone.FOLLOWUP_OVERDUE,
        "Task",
        "a follow-up is overdue",
    ),
}
TRACKED = frozenset(
    {*_SIMPLE, AssessmentEvent.COMPLETED, AssessmentEvent.NOT_CANDIDATE, FollowupEvent.NEXT_STEP}
)


@dataclass(frozen=True)
class Milestone:
    code: ReferralMilestone
    text: str
    outputs: tuple[dict[str, Any], ...]
    target_status: str = IN_PROGRESS  # completed only at discharge

    def business_status(self) -> dict[str, Any]:
        coding = {"system": CodeSystem.REFERRAL_MILESTONE, "code": self.code}
        return {"coding": [coding], "text": self.text}


def milestone_for(event_type: str, entries: list[Entry]) -> Milestone | None:
    """The milestone an event means for the referral, or None when it means nothing to it."""
    if event_type in (AssessmentEvent.COMPLETED, AssessmentEvent.NOT_CANDIDATE):
        return _decision(entries)
    if event_type == FollowupEvent.NEXT_STEP:
        return _next_step(entries)
    if event_type not in _SIMPLE:
        return None
    code, focus_type, text = _SIMPLE[event_type]
    outputs = tuple(_output(code, e) for e in _focus_entries(entries, focus_type))
    return Milestone(code, text, outputs)


def _decision(entries: list[Entry]) -> Milestone | None:
    impression = next(_of_type(entries, "ClinicalImpression"), None)
    if impression is None:
        return None
    resource = impression["resource"]
    decision = _coded(
        [f.get("itemCodeableConcept") or {} for f in resource.get("finding") or []],
        CodeSystem.PATHWAY_DECISION,
    )
    words = resource.get("summary") or "pathway decided"
    concept = {"coding": [decision] if decision else [], "text": words}
    outputs = (
        _output(ReferralMilestone.PATHWAY_DECISION, impression),
        _typed(ReferralMilestone.PATHWAY_DECISION, {"valueCodeableConcept": concept}),
    )
    label = (decision or {}).get("code", "decided")
    return Milestone(ReferralMilestone.PATHWAY_DECISION, f"pathway: {label}: {words}", outputs)


def _next_step(entries: list[Entry]) -> Milestone | None:
    for entry in _of_type(entries, "ServiceRequest"):
        resource = entry["resource"]
        step = _coded([resource.get("code") or {}], CodeSystem.NEXT_STEP)
        if step is None:
            continue
        notes = " ".join(n.get("text", "") for n in resource.get("note") or []).strip()
        words = f"next step: {step['code']}" + (f": {notes}" if notes else "")
        concept = {"coding": [step], "text": notes or step["code"]}
        discharge = step["code"] == NextStep.DISCHARGE
        code = ReferralMilestone.DISCHARGED if discharge else ReferralMilestone.NEXT_STEP
        outputs = (_output(code, entry), _typed(code, {"valueCodeableConcept": concept}))
        return Milestone(code, words, outputs, COMPLETED if discharge else IN_PROGRESS)
    return None


def referral_links(entries: list[Entry]) -> list[tuple[str, str]]:
    """(ServiceRequest id, the ServiceRequest id it is based on) for every order in an event:
    how an order's chain leads back to its referral."""
    links = []
    for entry in _of_type(entries, "ServiceRequest"):
        for target in _service_request_ids(entry["resource"].get("basedOn")):
            links.append((str(entry["resource"]["id"]), target))
    return links


def named_service_requests(entries: list[Entry]) -> set[str]:
    """The ids of every ServiceRequest an event carries or points at (orders, referrals)."""
    found = {str(e["resource"]["id"]) for e in _of_type(entries, "ServiceRequest")}
    for entry in entries:
        resource = entry.get("resource") or {}
        for element in ("basedOn", "supportingInfo", "focus"):
            found |= set(_service_request_ids(resource.get(element)))
    return found


def _service_request_ids(value: Any) -> Iterator[str]:
    for item in value if isinstance(value, list) else [value]:
        ref = reference_of(item) or ""
        parts = split_absolute(ref)
        if parts is not None and parts[1] == "ServiceRequest":
            yield parts[2]
        elif ref.startswith("ServiceRequest/"):
            yield ref.split("/", 1)[1]


def _of_type(entries: list[Entry], resource_type: str) -> Iterator[Entry]:
    return (e for e in entries if (e.get("resource") or {}).get("resourceType") == resource_type)


def _focus_entries(entries: list[Entry], resource_type: str) -> list[Entry]:
    header = (entries[0].get("resource") or {}) if entries else {}
    focus = {reference_of(f) for f in header.get("focus") or []}
    chosen = [
        e
        for e in _of_type(entries, resource_type)
        if f"{resource_type}/{e['resource']['id']}" in focus
    ]
    return chosen or list(_of_type(entries, resource_type))[:1]


def _coded(concepts: list[dict[str, Any]], system: str) -> dict[str, Any] | None:
    for concept in concepts:
        for coding in concept.get("coding") or []:
            if coding.get("system") == system and coding.get("code"):
                return {"system": system, "code": coding["code"], **_display(coding)}
    return None


def _display(coding: dict[str, Any]) -> dict[str, str]:
    return {"display": coding["display"]} if coding.get("display") else {}


def _output(code: ReferralMilestone, entry: Entry) -> dict[str, Any]:
    resource = entry["resource"]
    url = entry.get("fullUrl") or f"{resource['resourceType']}/{resource['id']}"
    return _typed(code, {"valueReference": {"reference": url, "type": resource["resourceType"]}})


def _typed(code: ReferralMilestone, value: dict[str, Any]) -> dict[str, Any]:
    coding = {"system": CodeSystem.REFERRAL_MILESTONE, "code": code}
    return {"type": {"coding": [coding]}, **value}
