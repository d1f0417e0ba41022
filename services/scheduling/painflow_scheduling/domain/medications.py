"""What a MedicationStatement says about an antithrombotic: which table row, dose, route, reason.

Pure reading of FHIR JSON dicts against a hold table's data.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from painflow_scheduling.domain.fhir_values import codings, concept_words, parse_moment
from painflow_scheduling.domain.policy import CodeList, DrugRule, HoldTable
from painflow_shared.codes import System

NO_LONGER_TAKEN = frozenset({"completed", "stopped", "not-taken"})
_PER_DAY = {
    "s": 86400.0,
    "min": 1440.0,
    "h": 24.0,
    "d": 1.0,
    "wk": 1 / 7,
    "mo": 1 / 30,
    "a": 1 / 365,
}
_TIMING_CODES = {"QD": 1.0, "QOD": 0.5, "BID": 2.0, "TID": 3.0, "QID": 4.0, "Q4H": 6.0, "Q6H": 4.0}
_TIMING_CODES |= {"Q8H": 3.0, "Q12H": 2.0, "Q24H": 1.0, "AM": 1.0, "PM": 1.0}
_MG = {"mg": 1.0, "g": 1000.0, "ug": 0.001, "mcg": 0.001}


@dataclass(frozen=True)
class LastDose:
    moment: datetime
    basis: str  # the element it came from, or "booking-time" for a drug still taken


@dataclass(frozen=True)
class UseFacts:
    """The facts a drug's selector needs; None = not known from the statement (or caller)."""

    indication: str | None = None  # "primary" | "secondary"
    daily_mg: float | None = None
    route_codes: tuple[str, ...] = ()
    route_text: str = ""
    egfr: float | None = None

    @property
    def route_known(self) -> bool:
        return bool(self.route_codes or self.route_text)


def medication_concept(statement: dict[str, Any]) -> dict[str, Any] | None:
    concept = statement.get("medicationCodeableConcept")
    return concept if isinstance(concept, dict) else None


def medication_coding(statement: dict[str, Any]) -> dict[str, Any]:
    """The statement's RxNorm coding (else its first coding, else its text as a display)."""
    concept = medication_concept(statement) or {}
    found = codings(concept)
    rxnorm = [c for c in found if c.get("system") == System.RXNORM]
    chosen = (rxnorm or found or [{}])[0]
    keep = {k: chosen[k] for k in ("system", "code", "display") if isinstance(chosen.get(k), str)}
    if "display" not in keep and isinstance(concept.get("text"), str):
        keep["display"] = concept["text"]
    return keep


def match_drug(statement: dict[str, Any], table: HoldTable) -> DrugRule | None:
    """The table's row for this statement: by RxNorm code first, then by name in its text."""
    concept = medication_concept(statement)
    if concept is None:
        return None
    codes = {c.get("code") for c in codings(concept) if c.get("system") == System.RXNORM}
    by_code = next((d for d in table.drugs if codes.intersection(d.rxnorm)), None)
    if by_code is not None:
        return by_code
    # Many statements code the clinical drug (e.g. "Naproxen sodium 220 MG Oral Tablet"),
    # not the ingredient: its name in the display or text still identifies the row.
    words = concept_words(concept)
    return next((d for d in table.drugs if any(_has_word(words, n) for n in d.names)), None)


def _has_word(text: str, word: str) -> bool:
    return re.search(rf"\b{re.escape(word)}\b", text) is not None


def last_dose(statement: dict[str, Any], booking_time: datetime, site_zone: ZoneInfo) -> LastDose:
    """``effectivePeriod.end``; else ``effectiveDateTime`` when no longer taken; else now."""
    period_end = (statement.get("effectivePeriod") or {}).get("end")
    moment = parse_moment(period_end, site_zone, end_of_period=True)
    if moment is not None:
        return LastDose(moment, "effectivePeriod.end")
    if statement.get("status") in NO_LONGER_TAKEN:
        moment = parse_moment(statement.get("effectiveDateTime"), site_zone, end_of_period=True)
        if moment is not None:
            return LastDose(moment, "effectiveDateTime")
    return LastDose(booking_time, "booking-time")


def use_facts(statement: dict[str, Any], table: HoldTable, egfr: float | None) -> UseFacts:
    routes = [d.get("route") for d in _dosages(statement)]
    return UseFacts(
        indication=indication(statement, table.secondary_prevention),
        daily_mg=daily_mg(statement),
        route_codes=tuple(c.get("code") or "" for r in routes for c in codings(r)),
        route_text=" ".join(concept_words(r) for r in routes).strip(),
        egfr=egfr,
    )


def indication(statement: dict[str, Any], secondary: CodeList) -> str | None:
    """``secondary`` when a reasonCode names a listed indication, ``primary`` when the coded
    reasons name none, None when the statement gives no reasonCode (unknown)."""
    reasons = [r for r in statement.get("reasonCode") or [] if isinstance(r, dict)]
    if not reasons:
        return None
    for reason in reasons:
        words = concept_words(reason)
        coded = any(
            p.matches(c.get("system"), c.get("code"))
            for c in codings(reason)
            for p in secondary.codes
        )
        if coded or any(w in words for w in secondary.words):
            return "secondary"
    return "primary"


def daily_mg(statement: dict[str, Any]) -> float | None:
    """Milligrams a day from the structured dosages; None when any part is missing."""
    dosages = _dosages(statement)
    if not dosages:
        return None
    total = 0.0
    for dosage in dosages:
        dose, per_day = _dose_mg(dosage), _times_per_day(dosage.get("timing"))
        if dose is None or per_day is None:
            return None
        total += dose * per_day
    return total


def _dosages(statement: dict[str, Any]) -> list[dict[str, Any]]:
    return [d for d in statement.get("dosage") or [] if isinstance(d, dict)]


def _dose_mg(dosage: dict[str, Any]) -> float | None:
    for rate in dosage.get("doseAndRate") or []:
        quantity = (rate or {}).get("doseQuantity") or {}
        factor = _MG.get(str(quantity.get("code") or quantity.get("unit") or "").lower())
        if factor is not None and isinstance(quantity.get("value"), int | float):
            return float(quantity["value"]) * factor
    return None


def _times_per_day(timing: Any) -> float | None:
    if not isinstance(timing, dict):
        return None
    repeat = timing.get("repeat") or {}
    unit = repeat.get("periodUnit")
    if unit in _PER_DAY:
        frequency = repeat.get("frequency", 1)
        period = repeat.get("period", 1) or 1
        return float(frequency) / float(period) * _PER_DAY[unit]
    code = next((c.get("code") for c in codings(timing.get("code"))), None)
    return _TIMING_CODES.get(str(code).upper()) if code else None


def recent_egfr(
    observations: Sequence[dict[str, Any]], table: HoldTable, at: datetime, site_zone: ZoneInfo
) -> float | None:
    """The latest eGFR (LOINC codes of the table's renal section) within its max age, if any."""
    oldest = at - timedelta(days=table.renal.max_age_days)
    readings = [r for o in observations if (r := _egfr_reading(o, table, site_zone))]
    recent = [r for r in readings if oldest <= r[0] <= at]
    return max(recent)[1] if recent else None


def _egfr_reading(
    obs: dict[str, Any], table: HoldTable, site_zone: ZoneInfo
) -> tuple[datetime, float] | None:
    codes = {c.get("code") for c in codings(obs.get("code")) if c.get("system") == System.LOINC}
    value = (obs.get("valueQuantity") or {}).get("value")
    when = parse_moment(obs.get("effectiveDateTime") or obs.get("issued"), site_zone)
    final = obs.get("status") in {"final", "amended", "corrected"}
    if not final or not codes.intersection(table.renal.egfr_loinc) or when is None:
        return None
    return (when, float(value)) if isinstance(value, int | float) else None
