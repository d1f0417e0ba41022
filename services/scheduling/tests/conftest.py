"""Fixtures for the scheduling domain's unit tests: the real policy files, FHIR JSON builders."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from painflow_scheduling.domain.policy import SchedulingPolicies
from painflow_scheduling.policies import load_scheduling_policies

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
PATIENT = "Patient/p-1"
BOOKING_TIME = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def asra() -> SchedulingPolicies:
    return load_scheduling_policies("asra-2018")


@pytest.fixture(scope="session")
def asipp() -> SchedulingPolicies:
    return load_scheduling_policies("asipp-2024")


StatementFactory = Callable[..., dict[str, Any]]


def statement(
    code: str | None,
    *,
    ident: str = "ms-1",
    status: str = "active",
    display: str | None = None,
    taken: str | None = None,
    period_end: str | None = None,
    reason: list[dict[str, Any]] | None = None,
    dose_mg: float | None = None,
    per_day: float | None = None,
    route: str | None = None,
) -> dict[str, Any]:
    """A MedicationStatement: ``taken`` is effectiveDateTime, ``period_end`` effectivePeriod.end."""
    coding = {"system": RXNORM, **({"code": code} if code else {}), "display": display or "drug"}
    resource: dict[str, Any] = {
        "resourceType": "MedicationStatement",
        "id": ident,
        "status": status,
        "medicationCodeableConcept": {"coding": [coding]},
        "subject": {"reference": PATIENT},
    }
    if taken:
        resource["effectiveDateTime"] = taken
    if period_end:
        resource["effectivePeriod"] = {"start": "2025-01-01", "end": period_end}
    if reason is not None:
        resource["reasonCode"] = reason
    resource["dosage"] = _dosage(dose_mg, per_day, route)
    return {k: v for k, v in resource.items() if v}


def _dosage(dose_mg: float | None, per_day: float | None, route: str | None) -> list[Any]:
    dosage: dict[str, Any] = {}
    if dose_mg is not None:
        quantity = {"value": dose_mg, "unit": "mg", "system": "http://unitsofmeasure.org"}
        dosage["doseAndRate"] = [{"doseQuantity": {**quantity, "code": "mg"}}]
    if per_day is not None:
        dosage["timing"] = {"repeat": {"frequency": per_day, "period": 1, "periodUnit": "d"}}
    if route is not None:
        dosage["route"] = {"coding": [{"system": SNOMED, "code": route}]}
    return [dosage] if dosage else []


@pytest.fixture
def make_statement() -> StatementFactory:
    return statement
