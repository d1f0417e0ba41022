"""An outcome as posted (a QuestionnaireResponse or an Observation) checked against what this
service knows, into an ``OutcomeInput``; every problem is a 422 naming the element and the rule,
and nothing is stored.

The patient is named by the referral service's Patient id (an absolute URL there means the
same); the Procedure is one performed for that patient and followed up here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import col, select

from painflow_followup.context import FollowupContext, Resource, id_of
from painflow_followup.domain.journey_entries import NRS_LOINC
from painflow_followup.domain.outcome_response import Problems, read_outcome_response
from painflow_followup.recording import OutcomeInput
from painflow_followup.tables import OutcomeTask, ProcedureRecord
from painflow_shared.codes import CodeSystem, Outcome, System
from painflow_shared.fhir.dates import CLOCK_SKEW, parse_fhir_date
from painflow_shared.fhir.errors import BusinessRuleViolation, Issue
from painflow_shared.fhir.references import is_relative, reference_of, reference_string

FINAL = frozenset({"final", "amended", "corrected"})
PROCEDURE_RULE = "must name a Procedure performed for this patient and followed up here"


def response_input(ctx: FollowupContext, body: Resource) -> tuple[Resource, OutcomeInput]:
    """The QuestionnaireResponse to store and what it measured; 422 if anything is wrong."""
    root = "QuestionnaireResponse"
    read = read_outcome_response(body, ctx.policies.questionnaire, ctx.policies.measures)
    issues = list(read.issues) if isinstance(read, Problems) else []
    patient_id = _patient(ctx, body.get("subject"), f"{root}.subject", issues)
    record = _response_procedure(ctx, body, patient_id, issues)
    moment = _moment(ctx, body.get("authored"), f"{root}.authored", issues)
    if issues or isinstance(read, Problems) or record is None:
        raise _refused(root, issues)
    response = {
        **body,
        "subject": {"reference": reference_string("Patient", record.patient_id)},
        "partOf": [{"reference": record.procedure_reference}],
    }
    return response, OutcomeInput(
        record=record,
        moment=moment,
        nrs=read.nrs_now,
        percent=read.percent_relief,
        pgic=read.pgic,
        function=dict(read.function),
    )


def observation_input(ctx: FollowupContext, body: Resource) -> OutcomeInput:
    """An Observation posted directly: percent relief (UCUM %) or NRS 72514-3 (0-10)."""
    root = "Observation"
    issues: list[Issue] = []
    if body.get("status") not in FINAL:
        issues.append(_issue(f"{root}.status", "must be final, amended or corrected"))
    kind = _kind(body)
    if kind is None:
        rule = f"must be {CodeSystem.OUTCOME}#percent-relief or {System.LOINC}#{NRS_LOINC}"
        issues.append(_issue(f"{root}.code", rule))
    value = _value(body, kind, issues)
    patient_id = _patient(ctx, body.get("subject"), f"{root}.subject", issues)
    parts = [reference_of(p) for p in body.get("partOf") or []]
    record = _procedure(ctx, next(iter(parts), None), patient_id, f"{root}.partOf", issues)
    moment = _moment(ctx, body.get("effectiveDateTime"), f"{root}.effectiveDateTime", issues)
    if issues or record is None:
        raise _refused(root, issues)
    posted = {k: v for k, v in body.items() if k not in ("id", "meta")}
    if kind == "nrs":
        return OutcomeInput(record=record, moment=moment, nrs=int(value or 0), posted=posted)
    return OutcomeInput(record=record, moment=moment, percent=value, posted=posted)


def _kind(body: Resource) -> str | None:
    for coding in (body.get("code") or {}).get("coding") or []:
        system, code = coding.get("system"), coding.get("code")
        if system == CodeSystem.OUTCOME and code == Outcome.PERCENT_RELIEF:
            return "relief"
        if system == System.LOINC and code == NRS_LOINC:
            return "nrs"
    return None


def _value(body: Resource, kind: str | None, issues: list[Issue]) -> float | None:
    if kind == "nrs":
        value = body.get("valueInteger")
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 10:
            return float(value)
        issues.append(_issue("Observation.valueInteger", "must be an integer from 0 to 10"))
    elif kind == "relief":
        quantity: Any = body.get("valueQuantity") or {}
        unit_ok = quantity.get("system") == System.UCUM and quantity.get("code") == "%"
        if not unit_ok:
            issues.append(_issue("Observation.valueQuantity", "must be in UCUM % (code %)"))
        value = quantity.get("value")
        if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 100:
            return float(value)
        issues.append(_issue("Observation.valueQuantity.value", "must be from 0 to 100"))
    return None


def _patient(ctx: FollowupContext, subject: Any, where: str, issues: list[Issue]) -> str | None:
    reference = ctx.local(reference_of(subject) or "")
    patient_id = id_of(reference, "Patient") if is_relative(reference) else None
    if patient_id is None:
        issues.append(_issue(where, "must name the Patient (Patient/{id} of the referral service)"))
    return patient_id


def _response_procedure(
    ctx: FollowupContext, body: Resource, patient_id: str | None, issues: list[Issue]
) -> ProcedureRecord | None:
    parts = [reference_of(p) for p in body.get("partOf") or []]
    if parts:
        return _procedure(ctx, parts[0], patient_id, "QuestionnaireResponse.partOf", issues)
    if patient_id is None:
        return None
    open_procedures = ctx.session.exec(
        select(OutcomeTask.procedure_id)
        .where(OutcomeTask.patient_id == patient_id, col(OutcomeTask.open).is_(True))
        .distinct()
    ).all()
    if len(open_procedures) != 1:
        rule = "must name the Procedure when the patient has not exactly one followed up"
        issues.append(_issue("QuestionnaireResponse.partOf", rule, "required"))
        return None
    return ctx.session.get(ProcedureRecord, open_procedures[0])


def _procedure(
    ctx: FollowupContext,
    reference: str | None,
    patient_id: str | None,
    where: str,
    issues: list[Issue],
) -> ProcedureRecord | None:
    procedure_id = id_of(reference, "Procedure")
    record = ctx.session.get(ProcedureRecord, procedure_id) if procedure_id else None
    if record is None or (patient_id is not None and record.patient_id != patient_id):
        issues.append(_issue(where, PROCEDURE_RULE))
        return None
    return record


def _moment(ctx: FollowupContext, value: Any, where: str, issues: list[Issue]) -> datetime:
    if value is None:
        return ctx.now()
    moment = parse_fhir_date(value)
    if moment is None or "T" not in str(value):
        issues.append(_issue(where, "must be a dateTime with a time and a time zone"))
        return ctx.now()
    if moment > ctx.now() + CLOCK_SKEW and not ctx.settings.accept_future_outcomes:
        issues.append(
            _issue(where, "must not be in the future: an outcome is recorded when collected")
        )
    return moment


def _refused(root: str, issues: list[Issue]) -> BusinessRuleViolation:
    return BusinessRuleViolation(f"the {root} cannot be recorded as an outcome", issues=issues)


def _issue(expression: str, rule: str, code: str = "business-rule") -> Issue:
    return Issue(f"{expression}: {rule}", code, "error", (expression,))
