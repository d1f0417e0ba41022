"""The facts of a procedure order and of a Slot that the booking rules read, from FHIR JSON.

The order's extensions are the ones contracts/README.md fixes (bleeding risk, imaging modality,
expected duration, procedure purpose) and its body regions come from ``bodySite``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from painflow_scheduling.domain.fhir_values import (
    concept_code,
    extension_value,
    parse_moment,
    reference,
    zone,
)
from painflow_shared.codes import BleedingRisk, CodeSystem, Extension, System

_MINUTES = {"min": 1.0, "h": 60.0, "d": 1440.0, "s": 1 / 60}


@dataclass(frozen=True)
class OrderFacts:
    reference: str | None  # "ServiceRequest/<id>"
    patient: str | None
    status: str | None
    cpt: str | None
    bleeding_risk: BleedingRisk | None
    modality: str | None  # DICOM RF / CT / US; None for an order that is not image-guided
    duration_minutes: int | None
    purpose: str | None  # procedure-purpose code, e.g. "trial"
    regions: frozenset[str]  # body-region codes of bodySite

    @property
    def hold_category(self) -> BleedingRisk:
        """The category holds are computed for: an order without one is taken as high (safe)."""
        return self.bleeding_risk or BleedingRisk.HIGH


@dataclass(frozen=True)
class SlotFacts:
    reference: str | None  # "Slot/<id>"
    schedule: str | None
    status: str | None
    start: datetime | None
    end: datetime | None
    modalities: frozenset[
        str
    ]  # DICOM codes of serviceType (the Schedule's, which the Slot carries)


def read_order(order: dict[str, Any]) -> OrderFacts:
    risk = concept_code(_ext(order, Extension.BLEEDING_RISK), CodeSystem.BLEEDING_RISK)
    return OrderFacts(
        reference=reference(order),
        patient=(order.get("subject") or {}).get("reference"),
        status=order.get("status"),
        cpt=concept_code(order.get("code"), System.CPT),
        bleeding_risk=BleedingRisk(risk) if risk in set(BleedingRisk) else None,
        modality=concept_code(_ext(order, Extension.IMAGING_MODALITY), System.DICOM),
        duration_minutes=_minutes(
            extension_value(order, Extension.EXPECTED_DURATION, "valueDuration")
        ),
        purpose=concept_code(
            _ext(order, Extension.PROCEDURE_PURPOSE), CodeSystem.PROCEDURE_PURPOSE
        ),
        regions=frozenset(
            code
            for site in order.get("bodySite") or []
            if (code := concept_code(site, CodeSystem.BODY_REGION))
        ),
    )


def _ext(order: dict[str, Any], url: str) -> Any:
    return extension_value(order, url, "valueCodeableConcept")


def _minutes(duration: Any) -> int | None:
    if not isinstance(duration, dict) or not isinstance(duration.get("value"), int | float):
        return None
    factor = _MINUTES.get(str(duration.get("code") or duration.get("unit") or "min"))
    return round(duration["value"] * factor) if factor else None


def read_slot(slot: dict[str, Any], site_zone: str | ZoneInfo = "UTC") -> SlotFacts:
    tz = zone(site_zone)
    return SlotFacts(
        reference=reference(slot),
        schedule=(slot.get("schedule") or {}).get("reference"),
        status=slot.get("status"),
        start=parse_moment(slot.get("start"), tz),
        end=parse_moment(slot.get("end"), tz),
        modalities=frozenset(
            code
            for concept in slot.get("serviceType") or []
            if (code := concept_code(concept, System.DICOM))
        ),
    )
