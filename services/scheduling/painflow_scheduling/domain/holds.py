"""Antithrombotic holds before a procedure (DOMAIN.md section 2, issue 10 item 4).

A hold is the time between the last dose and the procedure's start: N days = N x 24 h, a last
dose known by its date only is 23:59 that day in the site's zone, a range takes the end the table
names (the longer), and with several drugs the latest safe-from wins. Shared assessment and
continue are shown, never blocking. Arithmetic is done on absolute time (UTC), so a hold across a
daylight-saving change is still exactly N x 24 hours.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from painflow_scheduling.domain.fhir_values import in_zone, reference, zone
from painflow_scheduling.domain.medications import (
    UseFacts,
    last_dose,
    match_drug,
    medication_coding,
    use_facts,
)
from painflow_scheduling.domain.policy import (
    Action,
    CategoryRule,
    DrugRule,
    HoldTable,
    HoldTables,
    Interval,
    LabCondition,
    Selector,
    Variant,
    VariantCondition,
)
from painflow_scheduling.domain.refusals import Refusal, Rule
from painflow_shared.codes import BleedingRisk


class HoldFlag(StrEnum):
    SHARED_ASSESSMENT = "shared-assessment"  # shown to the clinician, never blocking
    CONTINUE = "continue"  # keep taking it, never blocking
    NEEDS_INR = "needs-inr"  # a pre-procedure lab Task (warfarin); does not block on its own
    FALLBACK_TO_ASRA = "fallback-to-asra"  # the selected table does not list the drug
    ASPIRIN_INDICATION_UNKNOWN = "aspirin-indication-unknown"  # no reasonCode: ask the prescriber
    RENAL_FUNCTION_UNKNOWN = "renal-function-unknown"  # no recent eGFR: the longer hold
    DOSE_UNKNOWN = "dose-unknown"  # no daily dose: the longer (therapeutic) hold
    ROUTE_UNKNOWN = "route-unknown"  # no route: the longer hold
    UNCERTAIN = "uncertain"  # the table marks this entry uncertain (DOMAIN.md warning sign)


_UNKNOWN: Mapping[Selector, HoldFlag] = {
    Selector.INDICATION: HoldFlag.ASPIRIN_INDICATION_UNKNOWN,
    Selector.RENAL: HoldFlag.RENAL_FUNCTION_UNKNOWN,
    Selector.DAILY_DOSE: HoldFlag.DOSE_UNKNOWN,
    Selector.ROUTE: HoldFlag.ROUTE_UNKNOWN,
}
_IGNORED_STATUSES = frozenset({"entered-in-error"})


@dataclass(frozen=True)
class DrugHold:
    """One antithrombotic statement against the table, at the procedure's risk category."""

    statement: str | None  # "MedicationStatement/<id>"
    patient: str | None  # the statement's subject reference
    medication: Mapping[str, str]  # the RxNorm coding (system, code, display)
    drug: str  # the table row, e.g. "warfarin"
    drug_display: str
    variant: str  # e.g. "therapeutic", "primary", "egfr-below-50", "standard"
    category: BleedingRisk
    action: Action
    last_dose: datetime
    last_dose_basis: str  # effectivePeriod.end | effectiveDateTime | booking-time
    still_taken: bool  # taken at booking time (or stops later): the patient must be told
    hold_hours: int | None
    safe_from: datetime | None
    restart_hours: int | None
    source: str  # guideline and table version
    table: str  # e.g. "asra-2018 v1.0.0"
    flags: frozenset[HoldFlag]
    conditions: tuple[LabCondition, ...]
    note: str = ""

    @property
    def blocking(self) -> bool:
        return self.action is Action.HOLD


def compute_holds(
    category: BleedingRisk,
    statements: Sequence[dict[str, Any]],
    *,
    tables: HoldTables,
    booking_time: datetime,
    egfr: float | None = None,
    site_zone: str | ZoneInfo = "UTC",
) -> tuple[DrugHold, ...]:
    """One DrugHold per MedicationStatement of a drug the tables list (others are ignored)."""
    if booking_time.tzinfo is None:
        raise ValueError("booking_time must carry a zone")
    tz = zone(site_zone)
    holds = (
        _hold(category, s, tables, booking_time, egfr, tz)
        for s in statements
        if s.get("status") not in _IGNORED_STATUSES
    )
    return tuple(h for h in holds if h is not None)


def _hold(
    category: BleedingRisk,
    statement: dict[str, Any],
    tables: HoldTables,
    booking_time: datetime,
    egfr: float | None,
    tz: ZoneInfo,
) -> DrugHold | None:
    found = _find_row(statement, tables)
    if found is None:
        return None
    table, rule, flags = found
    variant, selector_flags = choose_variant(
        rule, use_facts(statement, table, egfr), category, table
    )
    cell = variant.categories[category]
    dose = last_dose(statement, booking_time, tz)
    hold_hours = _whole_hours(cell.hold, table)
    return DrugHold(
        statement=reference(statement),
        patient=(statement.get("subject") or {}).get("reference"),
        medication=medication_coding(statement),
        drug=rule.drug,
        drug_display=rule.display,
        variant=variant.variant,
        category=category,
        action=cell.action,
        last_dose=dose.moment,
        last_dose_basis=dose.basis,
        still_taken=dose.moment >= booking_time,
        hold_hours=hold_hours,
        safe_from=_after(dose.moment, hold_hours),
        restart_hours=_whole_hours(cell.restart, table),
        source=table.source,
        table=f"{table.table} v{table.version}",
        flags=flags | selector_flags | _cell_flags(rule, cell, table),
        conditions=tuple(table.conditions[c] for c in cell.conditions if c in table.conditions),
        note=cell.note,
    )


def _find_row(
    statement: dict[str, Any], tables: HoldTables
) -> tuple[HoldTable, DrugRule, frozenset[HoldFlag]] | None:
    rule = match_drug(statement, tables.selected)
    if rule is not None:
        return tables.selected, rule, frozenset()
    if tables.fallback is tables.selected:
        return None
    rule = match_drug(statement, tables.fallback)
    return (tables.fallback, rule, frozenset({HoldFlag.FALLBACK_TO_ASRA})) if rule else None


def choose_variant(
    rule: DrugRule, facts: UseFacts, category: BleedingRisk, table: HoldTable
) -> tuple[Variant, frozenset[HoldFlag]]:
    """The row the facts select; when they cannot (no eGFR, dose, route or reason), the row with
    the longest hold at this category, flagged. Aspirin without a reason is thus primary."""
    if rule.selector is Selector.NONE or len(rule.variants) == 1:
        return rule.variants[0], frozenset()
    if _selector_known(rule.selector, facts):
        fitting = next((v for v in rule.variants if _fits(v.when, facts)), None)
        if fitting is not None:
            return fitting, frozenset()
    longest = max(rule.variants, key=lambda v: _hold_hours_of(v.categories[category], table))
    return longest, frozenset({_UNKNOWN[rule.selector]})


def _selector_known(selector: Selector, facts: UseFacts) -> bool:
    return {
        Selector.INDICATION: facts.indication is not None,
        Selector.DAILY_DOSE: facts.daily_mg is not None,
        Selector.RENAL: facts.egfr is not None,
        Selector.ROUTE: facts.route_known,
    }.get(selector, True)


def _fits(when: VariantCondition, facts: UseFacts) -> bool:
    checks = [
        when.indication is None or facts.indication == when.indication,
        when.daily_mg_above is None or (facts.daily_mg or 0) > when.daily_mg_above,
        when.daily_mg_at_most is None or (facts.daily_mg or 0) <= when.daily_mg_at_most,
        when.egfr_at_least is None or (facts.egfr or 0) >= when.egfr_at_least,
        when.egfr_below is None or (facts.egfr or 0) < when.egfr_below,
        not (when.route_codes or when.route_words) or _route_fits(when, facts),
    ]
    return all(checks)


def _route_fits(when: VariantCondition, facts: UseFacts) -> bool:
    words = set(facts.route_text.replace("/", " ").split())
    phrase_hit = any(" " in w and w in facts.route_text for w in when.route_words)
    return bool(
        set(facts.route_codes) & set(when.route_codes)
        or words & set(when.route_words)
        or phrase_hit
    )


def _hold_hours_of(cell: CategoryRule, table: HoldTable) -> float:
    return cell.hold.hours(table.range_end) if cell.hold else 0.0


def _whole_hours(interval: Interval | None, table: HoldTable) -> int | None:
    return math.ceil(interval.hours(table.range_end)) if interval is not None else None


def _after(moment: datetime, hours: int | None) -> datetime | None:
    return None if hours is None else moment.astimezone(UTC) + timedelta(hours=hours)


def _cell_flags(rule: DrugRule, cell: CategoryRule, table: HoldTable) -> frozenset[HoldFlag]:
    flags = {HoldFlag(c.flag) for c in (table.conditions.get(k) for k in cell.conditions) if c}
    if cell.action is Action.SHARED_ASSESSMENT:
        flags.add(HoldFlag.SHARED_ASSESSMENT)
    if cell.action is Action.CONTINUE:
        flags.add(HoldFlag.CONTINUE)
    if rule.uncertain or cell.uncertain:
        flags.add(HoldFlag.UNCERTAIN)
    return frozenset(flags)


def earliest_safe_start(holds: Sequence[DrugHold], *, booking_time: datetime) -> datetime:
    """The latest safe-from of the blocking holds, and never before the booking time."""
    ends = [h.safe_from for h in holds if h.blocking and h.safe_from is not None]
    return max([booking_time.astimezone(UTC), *ends])


def blocking_holds(holds: Sequence[DrugHold], start: datetime) -> tuple[DrugHold, ...]:
    """The holds a start falls inside: before safe-from is refused, exactly at it is allowed."""
    return tuple(h for h in holds if h.blocking and h.safe_from is not None and start < h.safe_from)


def booking_check(
    holds: Sequence[DrugHold], start: datetime, *, site_zone: str | ZoneInfo = "UTC"
) -> tuple[Refusal, ...]:
    """One refusal per hold the proposed start falls inside, saying from when it is safe."""
    tz = zone(site_zone)
    return tuple(_refusal(h, tz) for h in blocking_holds(holds, start))


def _refusal(hold: DrugHold, tz: ZoneInfo) -> Refusal:
    assert hold.safe_from is not None and hold.hold_hours is not None
    reason = (
        f"inside the antithrombotic hold window: {hold.statement or 'a MedicationStatement'} "
        f"({hold.drug_display}, {hold.variant} row of hold table {hold.table}) needs "
        f"{hold.hold_hours} h between the last dose ({in_zone(hold.last_dose, tz)}, from "
        f"{hold.last_dose_basis}) and the start of a {hold.category.value}-risk procedure; "
        f"safe from {in_zone(hold.safe_from, tz)}"
    )
    return Refusal(Rule.HOLD, reason, "Appointment.start", safe_from=hold.safe_from)
