"""What makes a ServiceRequest a referral we can take, and the resources a referral opens."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from painflow_referral.domain.triage import Code, ReferralFacts, TriageDecision, TriageOutcome
from painflow_shared.codes import CodeSystem
from painflow_shared.fhir.dates import fhir_instant, parse_fhir_date
from painflow_shared.fhir.errors import Issue
from painflow_shared.fhir.references import reference_of, reference_to

TASK_CODE = {"coding": [{"system": "http://hl7.org/fhir/CodeSystem/task-code", "code": "fulfill"}]}
EPISODE_TYPE = {
    "coding": [
        {
            "system": CodeSystem.EPISODE_TYPE,
            "code": "interventional-pain",
        }
    ],
    "text": "Interventional pain program",
}
# The Task at receipt. A redirected referral is received first, then rejected with the reason,
# so the EHR (and the events) see both steps.
REDIRECTED_STATUS = "rejected"
_TASK_STATUS = {
    TriageOutcome.REDIRECTED: "received",
    TriageOutcome.ON_HOLD: "on-hold",
    TriageOutcome.FAST_TRACK: "received",
    TriageOutcome.AWAITING_COORDINATOR: "received",
}


def referral_issues(service_request: dict[str, Any], path: str) -> list[Issue]:
    """The referral rules (beyond FHIR): a subject, a reason and a requester."""
    issues = []
    if not reference_of(service_request.get("subject")):
        issues.append(
            Issue(
                "a referral needs a subject (the Patient)",
                "required",
                "error",
                (f"{path}.subject",),
            )
        )
    if not (service_request.get("reasonCode") or service_request.get("reasonReference")):
        issues.append(
            Issue(
                "a referral needs a reason (reasonCode or reasonReference)",
                "required",
                "error",
                (f"{path}.reasonCode",),
            )
        )
    if not service_request.get("requester"):
        issues.append(
            Issue(
                "a referral needs a requester (who refers)",
                "required",
                "error",
                (f"{path}.requester",),
            )
        )
    if service_request.get("intent") not in {"order", "original-order", "proposal", "plan"}:
        issues.append(
            Issue(
                "a referral's intent is order (or original-order, plan, proposal)",
                "business-rule",
                "error",
                (f"{path}.intent",),
            )
        )
    return issues


def codes_of(concepts: list[Any]) -> list[Code]:
    return [
        Code(coding.get("system"), coding.get("code"))
        for concept in concepts
        if isinstance(concept, dict)
        for coding in concept.get("coding") or []
    ]


def referral_facts(
    service_request: dict[str, Any],
    patient: dict[str, Any] | None,
    conditions: list[dict[str, Any]],
    coverages: list[dict[str, Any]],
) -> ReferralFacts:
    concepts = [c.get("code") for c in conditions] + list(service_request.get("reasonCode") or [])
    codes = tuple(codes_of(concepts))
    return ReferralFacts(
        codes=codes,
        injury_onset=injury_onset(reason_conditions(service_request, conditions)),
        has_reason=any(code.system and code.code for code in codes),
        has_contact=bool(patient and (patient.get("telecom") or patient.get("address"))),
        has_coverage=bool(coverages),
        priority=service_request.get("priority"),
    )


def reason_conditions(
    service_request: dict[str, Any], conditions: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The Conditions the referral is for (its reasonReference), else every one sent with it.

    The injury is dated from these: an old, unrelated diagnosis must not hide a new injury.
    """
    wanted = reason_references(service_request)
    chosen = [c for c in conditions if reference_to(c)["reference"] in wanted]
    return chosen or conditions


def reason_references(service_request: dict[str, Any]) -> set[str]:
    """What the referral names as its reasons (``reasonReference``), as reference strings."""
    found = (reference_of(r) for r in service_request.get("reasonReference") or [])
    return {ref for ref in found if ref}


def injury_onset(conditions: list[dict[str, Any]]) -> date | None:
    """The earliest Condition.onsetDateTime: the injury the pain program follows from."""
    onsets = [_as_date(c.get("onsetDateTime")) for c in conditions]
    known = [d for d in onsets if d is not None]
    return min(known) if known else None


def _as_date(value: Any) -> date | None:
    """The calendar date as written (a dateTime's own offset, not shifted to UTC)."""
    moment = parse_fhir_date(value)
    return moment.date() if moment else None


def triage_task(
    service_request: dict[str, Any], decision: TriageDecision, now: datetime
) -> dict[str, Any]:
    task: dict[str, Any] = {
        "resourceType": "Task",
        "status": _TASK_STATUS[decision.outcome],
        "businessStatus": {
            "coding": [{"system": CodeSystem.TRIAGE_STATUS, "code": decision.outcome.value}],
            "text": decision.reason,
        },
        "intent": "order",
        "priority": decision.priority,
        "code": TASK_CODE,
        "focus": reference_to(service_request),
        "for": service_request["subject"],
        "authoredOn": fhir_instant(now),
        "lastModified": fhir_instant(now),
    }
    if service_request.get("requester"):
        task["requester"] = service_request["requester"]
    if decision.outcome in (TriageOutcome.REDIRECTED, TriageOutcome.ON_HOLD):
        task["statusReason"] = {"text": decision.reason}
    return task


def episode_of_care(
    service_request: dict[str, Any],
    conditions: list[dict[str, Any]],
    now: datetime,
    status: str = "waitlist",
) -> dict[str, Any]:
    onset = injury_onset(reason_conditions(service_request, conditions))
    start = onset.isoformat() if onset else service_request.get("authoredOn") or fhir_instant(now)
    episode: dict[str, Any] = {
        "resourceType": "EpisodeOfCare",
        "status": status,
        "type": [EPISODE_TYPE],
        "patient": service_request["subject"],
        "period": {"start": start},
        "referralRequest": [reference_to(service_request)],
    }
    if conditions:
        episode["diagnosis"] = [
            {"condition": reference_to(c), "rank": rank}
            for rank, c in enumerate(conditions, start=1)
        ]
    return episode


def is_red_flag(decision: TriageDecision) -> bool:
    return decision.outcome is TriageOutcome.REDIRECTED
