"""Outcome Observations as the contracts carry them (painflow.followup.outcome-recorded.json).

Each is ``partOf`` the Procedure it measures, ``subject`` the patient, category ``survey``; a
clinically important change is flagged in ``interpretation`` (HL7 v3 ``B`` better / ``W``
worse) with a sentence naming the threshold and its source. Ids and times come from the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from painflow_followup.domain.outcomes import Change, FunctionMeasure, MeasurePolicy, Relief
from painflow_shared.codes import Outcome, System, coding
from painflow_shared.fhir.dates import fhir_instant
from painflow_shared.fhir.references import reference_string

Resource = dict[str, Any]
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
_INTERPRETATION_CODES = {"better": ("B", "Better"), "worse": ("W", "Worse")}


@dataclass(frozen=True)
class ObservationContext:
    """What every outcome Observation of one response shares."""

    patient_id: str
    procedure_reference: str  # absolute at scheduling, or Procedure/id
    effective: datetime
    derived_from: tuple[str, ...] = ()  # e.g. QuestionnaireResponse/{id}


def nrs_observation(
    ctx: ObservationContext,
    obs_id: str,
    value: int,
    policy: MeasurePolicy,
    change: Change | None = None,
) -> Resource:
    """Pain now, LOINC 72514-3 (0-10), flagged when ``change`` is clinically important."""
    code = _loinc(policy.nrs_loinc, policy.nrs_display)
    return _observation(ctx, obs_id, code, {"valueInteger": value}, change)


def percent_relief_observation(
    ctx: ObservationContext,
    obs_id: str,
    percent: float,
    change: Change,
    relief: Relief | None = None,
    baseline_reference: str | None = None,
) -> Resource:
    """``outcome#percent-relief`` in UCUM ``%``; ``relief`` when derived from NRS (its note)."""
    code = {"coding": [coding(Outcome.PERCENT_RELIEF, "Pain relief from baseline (percent)")]}
    value = {"valueQuantity": _percent_quantity(percent)}
    observation = _observation(ctx, obs_id, code, value, change)
    if baseline_reference:
        earlier = observation.get("derivedFrom", [])
        observation["derivedFrom"] = [{"reference": baseline_reference}, *earlier]
    if relief is not None:
        observation["note"] = [{"text": relief.note}]
    return observation


def pgic_observation(ctx: ObservationContext, obs_id: str, value: int, change: Change) -> Resource:
    """``outcome#pgic``, 1-7 (7 = very much improved), flagged at much or very much improved."""
    code = {"coding": [coding(Outcome.PGIC, "Patient global impression of change")]}
    return _observation(ctx, obs_id, code, {"valueInteger": value}, change)


def function_observation(
    ctx: ObservationContext,
    obs_id: str,
    measure: FunctionMeasure,
    score: float,
    change: Change | None = None,
) -> Resource:
    """The ODI or NDI score as a percentage (0-100), flagged when ``change`` is important."""
    code = _loinc(measure.loinc, measure.display)
    return _observation(ctx, obs_id, code, {"valueQuantity": _percent_quantity(score)}, change)


def _observation(
    ctx: ObservationContext,
    obs_id: str,
    code: dict[str, Any],
    value: dict[str, Any],
    change: Change | None,
) -> Resource:
    observation: Resource = {
        "resourceType": "Observation",
        "id": obs_id,
        "status": "final",
        "category": [
            {"coding": [{"system": OBSERVATION_CATEGORY, "code": "survey", "display": "Survey"}]}
        ],
        "code": code,
        "subject": {"reference": reference_string("Patient", ctx.patient_id)},
        "partOf": [{"reference": ctx.procedure_reference}],
        "effectiveDateTime": fhir_instant(ctx.effective),
        **value,
    }
    flag = interpretation(change)
    if flag is not None:
        observation["interpretation"] = [flag]
    if ctx.derived_from:
        observation["derivedFrom"] = [{"reference": r} for r in ctx.derived_from]
    return observation


def interpretation(change: Change | None) -> dict[str, Any] | None:
    """The interpretation flagging a clinically important change; None when there is none."""
    if change is None or not change.important or change.direction not in _INTERPRETATION_CODES:
        return None
    code, display = _INTERPRETATION_CODES[change.direction]
    return {
        "coding": [{"system": INTERPRETATION, "code": code, "display": display}],
        "text": change.text,
    }


def _loinc(code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": str(System.LOINC), "code": code, "display": display}]}


def _percent_quantity(value: float) -> dict[str, Any]:
    return {"value": value, "unit": "%", "system": str(System.UCUM), "code": "%"}
