"""From an event's message Bundle to a journey entry: its clinical time and its summary.

The clinical time is when the step happened (the Procedure's end, the Observation's effective
time, the decision's date), not when the event was published: that is what puts events that
arrive out of order across topics back in order. When a resource carries no such time, the
event's ``ce_time`` stands in. Summaries hold codes and numbers only (no names, no free text
from the patient), ready for the journey JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from painflow_followup.domain.journey import JourneyEntry
from painflow_followup.domain.plans import time_point_of
from painflow_shared.codes import AssessmentCode, CodeSystem, Outcome, System
from painflow_shared.events.types import (
    AssessmentEvent,
    FollowupEvent,
    ReferralEvent,
    SchedulingEvent,
)
from painflow_shared.fhir.dates import parse_fhir_date

Resource = dict[str, Any]
NRS_LOINC = "72514-3"
SKIPPED = frozenset({"MessageHeader", "Patient"})


def journey_entry(
    *,
    event_id: str,
    event_type: str,
    published_at: datetime,
    trace_id: str | None,
    bundle: Resource,
) -> JourneyEntry:
    """The journey entry of one event (any of the four topics)."""
    resources = [
        e["resource"] for e in bundle.get("entry") or [] if isinstance(e.get("resource"), dict)
    ]
    return JourneyEntry(
        event_id=event_id,
        event_type=event_type,
        occurred_at=clinical_time(event_type, resources) or published_at,
        trace_id=trace_id,
        resources=tuple(_refs(resources)),
        summary=summary_of(event_type, resources),
    )


def clinical_time(event_type: str, resources: list[Resource]) -> datetime | None:
    """When the step happened, from the resource that records it; None if none says.

    A next step is never before the outcomes it names (carried in its event): an outcome dated
    at its time point and recorded earlier than that (the demo's long-term outcomes) still
    comes before the decision taken on it.
    """
    found = _recorded_time(event_type, resources)
    if event_type != FollowupEvent.NEXT_STEP:
        return found
    evidence = [parse_fhir_date(o.get("effectiveDateTime")) for o in _of(resources, "Observation")]
    return max([t for t in (found, *evidence) if t is not None], default=None)


def _recorded_time(event_type: str, resources: list[Resource]) -> datetime | None:
    rule = _TIME_OF.get(event_type)
    if rule is None:
        return None
    resource_type, paths = rule
    for resource in _of(resources, resource_type):
        for path in paths:
            found = parse_fhir_date(_get(resource, path))
            if found is not None:
                return found
    return None


def summary_of(event_type: str, resources: list[Resource]) -> dict[str, Any]:
    """The numbers and codes the journey shows for this step."""
    summary: dict[str, Any] = {}
    nrs = _first_value(resources, System.LOINC, NRS_LOINC)
    mme = _first_value(resources, CodeSystem.ASSESSMENT, AssessmentCode.MME_PER_DAY)
    relief = _first_value(resources, CodeSystem.OUTCOME, Outcome.PERCENT_RELIEF)
    for key, value in (("nrs", nrs), ("mme", mme), ("relief_percent", relief)):
        if value is not None:
            summary[key] = value
    extra = _EXTRA.get(event_type)
    return summary | (extra(resources) if extra else {})


def _booking(resources: list[Resource]) -> dict[str, Any]:
    appointment = next(_of(resources, "Appointment"), {})
    order = next(_of(resources, "ServiceRequest"), {})
    return {
        "appointment_start": appointment.get("start"),
        "procedure": (order.get("code") or {}).get("text"),
    }


def _decision(resources: list[Resource]) -> dict[str, Any]:
    impression = next(_of(resources, "ClinicalImpression"), {})
    codes = [
        c.get("code")
        for f in impression.get("finding") or []
        for c in (f.get("itemCodeableConcept") or {}).get("coding") or []
        if c.get("system") == CodeSystem.PATHWAY_DECISION
    ]
    return {"decision": codes[0] if codes else None}


def _plan(resources: list[Resource]) -> dict[str, Any]:
    return {"time_points": [_time_point(t) for t in _of(resources, "Task")]}


def _time_point(task: Resource) -> dict[str, Any]:
    period = (task.get("restriction") or {}).get("period") or {}
    label = str(task.get("description") or "").split(" outcome")[0] or None
    return {
        "id": time_point_of(task),
        "task": task.get("id"),
        "label": label,
        "start": period.get("start"),
        "end": period.get("end"),
    }


def _task_point(resources: list[Resource]) -> dict[str, Any]:
    task = next(_of(resources, "Task"), {})
    return {"time_point": time_point_of(task), "task": task.get("id")} if task else {}


def _next_step(resources: list[Resource]) -> dict[str, Any]:
    proposal = next(_of(resources, "ServiceRequest"), {})
    codes = [
        c
        for c in (proposal.get("code") or {}).get("coding") or []
        if c.get("system") == CodeSystem.NEXT_STEP
    ]
    first = codes[0] if codes else {}
    return {"next_step": first.get("code"), "next_step_display": first.get("display")}


def _first_value(resources: list[Resource], system: str, code: str) -> float | None:
    for observation in _of(resources, "Observation"):
        codings = (observation.get("code") or {}).get("coding") or []
        if any(c.get("system") == system and c.get("code") == code for c in codings):
            value = observation.get(
                "valueInteger", (observation.get("valueQuantity") or {}).get("value")
            )
            if isinstance(value, int | float) and not isinstance(value, bool):
                return value
    return None


def _of(resources: list[Resource], resource_type: str) -> Iterator[Resource]:
    return (r for r in resources if r.get("resourceType") == resource_type)


def _refs(resources: list[Resource]) -> Iterator[str]:
    for resource in resources:
        if resource.get("resourceType") not in SKIPPED and resource.get("id"):
            yield f"{resource['resourceType']}/{resource['id']}"


def _get(resource: Resource, path: str) -> Any:
    node: Any = resource
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


_TIME_OF: dict[str, tuple[str, tuple[str, ...]]] = {
    ReferralEvent.RECEIVED: ("ServiceRequest", ("authoredOn",)),
    ReferralEvent.ACCEPTED: ("Task", ("lastModified",)),
    ReferralEvent.REDIRECTED: ("Task", ("lastModified",)),
    ReferralEvent.REJECTED: ("Task", ("lastModified",)),
    ReferralEvent.CANCELLED: ("Task", ("lastModified",)),
    AssessmentEvent.STARTED: ("Task", ("authoredOn",)),
    AssessmentEvent.COMPLETED: ("ClinicalImpression", ("date", "effectiveDateTime")),
    AssessmentEvent.NOT_CANDIDATE: ("ClinicalImpression", ("date", "effectiveDateTime")),
    AssessmentEvent.PROCEDURE_ORDERED: ("ServiceRequest", ("authoredOn",)),
    AssessmentEvent.ORDER_REVOKED: ("ServiceRequest", ("meta.lastUpdated",)),
    AssessmentEvent.SAFETY_FLAG: ("Flag", ("period.start",)),
    SchedulingEvent.APPOINTMENT_BOOKED: ("Appointment", ("created",)),
    SchedulingEvent.APPOINTMENT_RESCHEDULED: ("Appointment", ("meta.lastUpdated",)),
    SchedulingEvent.APPOINTMENT_CANCELLED: ("Appointment", ("meta.lastUpdated",)),
    SchedulingEvent.APPOINTMENT_NOSHOW: ("Appointment", ("start",)),
    SchedulingEvent.PROCEDURE_PERFORMED: (
        "Procedure",
        ("performedPeriod.end", "performedDateTime", "performedPeriod.start"),
    ),
    SchedulingEvent.PROCEDURE_COMPLICATION: ("Condition", ("onsetDateTime", "recordedDate")),
    FollowupEvent.FOLLOWUP_SCHEDULED: ("CarePlan", ("created",)),
    FollowupEvent.OUTCOME_RECORDED: ("Observation", ("effectiveDateTime",)),
    FollowupEvent.FOLLOWUP_OVERDUE: ("Task", ("restriction.period.end",)),
    FollowupEvent.NEXT_STEP: ("ServiceRequest", ("authoredOn",)),
}

_EXTRA: dict[str, Callable[[list[Resource]], dict[str, Any]]] = {
    AssessmentEvent.COMPLETED: _decision,
    AssessmentEvent.NOT_CANDIDATE: _decision,
    SchedulingEvent.APPOINTMENT_BOOKED: _booking,
    SchedulingEvent.APPOINTMENT_RESCHEDULED: _booking,
    FollowupEvent.FOLLOWUP_SCHEDULED: _plan,
    FollowupEvent.OUTCOME_RECORDED: _task_point,
    FollowupEvent.FOLLOWUP_OVERDUE: _task_point,
    FollowupEvent.NEXT_STEP: _next_step,
}
