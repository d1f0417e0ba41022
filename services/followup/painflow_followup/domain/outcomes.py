"""Outcome arithmetic: percent relief from NRS and clinically important change (DOMAIN.md s. 4).

Relief = (baseline - now) / baseline x 100, bounded to 0-100. A diagnostic block is measured
against the same day's pre-procedure NRS (recorded with the Procedure), everything else against
the intake baseline (issue 11 item 2). A baseline of 0 leaves nothing to relieve: no relief is
computable, and the result says so instead of inventing 0% or 100%.

Values are rounded down to one decimal when stored, so a value never rounds up into a
threshold (79.96% stays 79.9%, below 80%).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum
from fractions import Fraction

from painflow_followup.domain.plan_policy import Baseline


class Combine(StrEnum):
    ANY = "any"  # important when either the points or the percent is reached
    ALL = "all"  # important only when both are


@dataclass(frozen=True)
class ChangeRule:
    """When a change in a score is clinically important (lower is better for every score)."""

    min_points: Fraction | None
    min_percent: Fraction | None
    combine: Combine
    cite: str  # "DOMAIN.md section 4, Farrar 2001"
    uncertain: bool


@dataclass(frozen=True)
class FunctionMeasure:
    name: str  # "odi" or "ndi"
    loinc: str
    display: str
    change: ChangeRule
    min_answered_sections: int


@dataclass(frozen=True)
class MeasurePolicy:
    name: str
    version: str
    nrs_loinc: str
    nrs_display: str
    nrs_change: ChangeRule
    relief_important_percent: Fraction
    relief_cite: str
    relief_bands: tuple[tuple[Fraction, str], ...]  # (minimum, label), highest first
    functions: Mapping[str, FunctionMeasure]
    function_by_region: Mapping[str, str | None]
    pgic_min: int
    pgic_max: int
    pgic_important_min: int
    pgic_cite: str


@dataclass(frozen=True)
class Relief:
    """A percent relief derived from NRS, or why none could be computed."""

    percent: float | None  # rounded down to one decimal; None when not computable
    baseline: float | None
    now: float
    baseline_kind: Baseline
    note: str  # "Derived from NRS 3 against the intake baseline NRS 7."


@dataclass(frozen=True)
class Change:
    """A score's change from its baseline and whether it is clinically important."""

    direction: str  # "better", "worse" or "same"
    points: float  # baseline - now (positive = better)
    percent: float | None  # of the baseline; None when the baseline is 0
    important: bool
    text: str  # for Observation.interpretation.text


def stored_value(value: Fraction | float) -> float:
    """A value as stored and compared: one decimal, rounded down (never up into a threshold)."""
    exact = Decimal(str(value)) if isinstance(value, float) else _decimal(value)
    return float(exact.quantize(Decimal("0.1"), rounding=ROUND_DOWN))


def relief_from_nrs(now: float, baseline: float | None, kind: Baseline) -> Relief:
    """Percent relief of NRS ``now`` against ``baseline`` (pre-procedure or intake), 0-100."""
    against = _BASELINE_WORDS[kind]
    if baseline is None:
        note = f"No relief computable: no {against} NRS is recorded."
        return Relief(None, None, now, kind, note)
    if baseline <= 0:
        note = f"No relief computable: the {against} NRS is 0, so there was no pain to relieve."
        return Relief(None, baseline, now, kind, note)
    exact = (Fraction(str(baseline)) - Fraction(str(now))) / Fraction(str(baseline)) * 100
    bounded = min(max(exact, Fraction(0)), Fraction(100))
    note = f"Derived from NRS {_n(now)} against the {against} NRS {_n(baseline)}."
    return Relief(stored_value(bounded), baseline, now, kind, note)


def score_change(baseline: float, now: float, rule: ChangeRule, what: str) -> Change:
    """The change of a lower-is-better score (NRS, ODI, NDI) against ``rule``'s thresholds."""
    points = Fraction(str(baseline)) - Fraction(str(now))
    percent = abs(points) / Fraction(str(baseline)) * 100 if baseline > 0 else None
    direction = "better" if points > 0 else "worse" if points < 0 else "same"
    reached = _reached(abs(points), percent, rule)
    important = direction != "same" and reached
    return Change(
        direction=direction,
        points=stored_value(points),
        percent=None if percent is None else stored_value(percent),
        important=important,
        text=_change_text(direction, important, rule, what),
    )


def relief_change(relief_percent: float, policy: MeasurePolicy) -> Change:
    """Whether a percent relief is a clinically important improvement (30% by default)."""
    exact = Fraction(str(relief_percent))
    important = exact >= policy.relief_important_percent
    text = (
        f"Clinically important improvement: at least {_n(policy.relief_important_percent)}% less "
        f"pain ({policy.relief_cite})"
        if important
        else f"No clinically important improvement: less than "
        f"{_n(policy.relief_important_percent)}% less pain ({policy.relief_cite})"
    )
    direction = "better" if exact > 0 else "same"
    return Change(direction, stored_value(exact), stored_value(exact), important, text)


def relief_band(relief_percent: float, policy: MeasurePolicy) -> str | None:
    """IMMPACT's word for a relief: substantial, moderate, minimal, or None below minimal."""
    exact = Fraction(str(relief_percent))
    return next((label for low, label in policy.relief_bands if exact >= low), None)


def pgic_change(value: int, policy: MeasurePolicy) -> Change:
    """PGIC at or above "much improved" (6 of 7 by default) is a clinically important change."""
    important = value >= policy.pgic_important_min
    text = (
        f"Clinically important improvement: the patient reports much or very much improvement "
        f"({policy.pgic_cite})"
        if important
        else f"No clinically important improvement reported ({policy.pgic_cite})"
    )
    neutral = (policy.pgic_min + policy.pgic_max) / 2
    direction = "better" if value > neutral else "worse" if value < neutral else "same"
    return Change(direction, float(value), None, important, text)


def function_measure_for(policy: MeasurePolicy, body_region: str | None) -> FunctionMeasure | None:
    """ODI for the low back, NDI for the neck (policy data); None where neither applies."""
    name = policy.function_by_region.get(body_region or "")
    return policy.functions.get(name) if name else None


def _reached(points: Fraction, percent: Fraction | None, rule: ChangeRule) -> bool:
    checks = []
    if rule.min_points is not None:
        checks.append(points >= rule.min_points)
    if rule.min_percent is not None:
        checks.append(percent is not None and percent >= rule.min_percent)
    return bool(checks) and (any(checks) if rule.combine is Combine.ANY else all(checks))


def _change_text(direction: str, important: bool, rule: ChangeRule, what: str) -> str:
    limits = " or ".join(
        part
        for part in (
            f"{_n(rule.min_points)} points" if rule.min_points is not None else "",
            f"{_n(rule.min_percent)}%" if rule.min_percent is not None else "",
        )
        if part
    )
    if rule.combine is Combine.ALL:
        limits = limits.replace(" or ", " and ")
    if not important:
        return f"No clinically important change in {what} (less than {limits}; {rule.cite})"
    kind = "improvement" if direction == "better" else "worsening"
    return f"Clinically important {kind} in {what}: at least {limits} ({rule.cite})"


_BASELINE_WORDS = {
    Baseline.PRE_PROCEDURE: "same day's pre-procedure",
    Baseline.INTAKE: "intake baseline",
}


def _decimal(value: Fraction) -> Decimal:
    return Decimal(value.numerator) / Decimal(value.denominator)


def _n(value: Fraction | float | None) -> str:
    if value is None:
        return "unknown"
    return f"{stored_value(value):g}"
