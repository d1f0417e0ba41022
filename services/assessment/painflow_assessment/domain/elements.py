"""FHIR data types the assessment's builders share (plain JSON, no I/O)."""

from __future__ import annotations

from typing import Any

from painflow_shared.codes import System

OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"

SURVEY_CATEGORY: dict[str, Any] = {
    "coding": [{"system": OBSERVATION_CATEGORY, "code": "survey", "display": "Survey"}]
}


def reference(target: str, display: str | None = None) -> dict[str, str]:
    """A Reference to ``target`` (``Type/id`` or an absolute URL the caller already built)."""
    found = {"reference": target}
    return {**found, "display": display} if display else found


def ucum_quantity(value: float, code: str, unit: str | None = None) -> dict[str, Any]:
    return {"value": value, "unit": unit or code, "system": str(System.UCUM), "code": code}


def number(value: float) -> int | float:
    """A JSON number without a spurious ``.0`` (22.0 -> 22)."""
    return int(value) if float(value).is_integer() else value
