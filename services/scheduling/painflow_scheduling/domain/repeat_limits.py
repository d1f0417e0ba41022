"""Repeat limits per body region (policies/repeat-limits-v1.json): booked and performed count.

"At most N in a rolling M months" means every period of M calendar months, the new procedure
included, holds at most N of the rule's procedures in that region. Such a period starts at one
of the procedures, so only those starts are checked.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from painflow_scheduling.domain.fhir_values import in_zone, zone
from painflow_scheduling.domain.order import OrderFacts
from painflow_scheduling.domain.policy import RepeatLimitPolicy, RepeatRule
from painflow_scheduling.domain.refusals import Refusal, Rule

UNSPECIFIED_REGION = "unspecified"


@dataclass(frozen=True)
class PriorProcedure:
    """A booked Appointment or a performed Procedure of the same patient (not the one moved)."""

    reference: str  # "Appointment/<id>" or "Procedure/<id>"
    cpt: str | None
    regions: frozenset[str]
    start: datetime
    state: str  # "booked" | "performed"
    purpose: str | None = None


@dataclass(frozen=True)
class RepeatLimitStatus:
    rule: RepeatRule
    region: str
    start: datetime
    count: int  # the most the rule's window holds with the new procedure included
    crowded: tuple[PriorProcedure, ...]  # the procedures in that fullest window
    too_close: tuple[PriorProcedure, ...]  # within min_interval_days of the start
    earliest_allowed: datetime | None  # the first start at or after ``start`` that is allowed

    @property
    def allowed(self) -> bool:
        return self.count <= self.rule.max_in_window and not self.too_close


def add_months(moment: datetime, months: int) -> datetime:
    """The same day and time ``months`` later (the month's last day when it is shorter)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    return moment.replace(
        year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1])
    )


def _counts(rule: RepeatRule, purpose: str | None, cpt: str | None) -> bool:
    return cpt in rule.cpt and purpose not in rule.exclude_purposes


def _regions(regions: frozenset[str]) -> frozenset[str]:
    return regions or frozenset({UNSPECIFIED_REGION})


def repeat_limit_statuses(
    order: OrderFacts, start: datetime, prior: Sequence[PriorProcedure], policy: RepeatLimitPolicy
) -> tuple[RepeatLimitStatus, ...]:
    """One status per rule that counts this order and per body region of the order."""
    return tuple(
        _status(rule, region, start, _same(rule, region, prior))
        for rule in policy.rules
        if _counts(rule, order.purpose, order.cpt)
        for region in sorted(_regions(order.regions))
    )


def _same(rule: RepeatRule, region: str, prior: Sequence[PriorProcedure]) -> list[PriorProcedure]:
    return [p for p in prior if _counts(rule, p.purpose, p.cpt) and region in _regions(p.regions)]


def _status(
    rule: RepeatRule, region: str, start: datetime, same: list[PriorProcedure]
) -> RepeatLimitStatus:
    count, crowded, close = _evaluate(rule, start, same)
    return RepeatLimitStatus(
        rule, region, start, count, crowded, close, _earliest_allowed(rule, start, same)
    )


def _evaluate(
    rule: RepeatRule, start: datetime, same: list[PriorProcedure]
) -> tuple[int, tuple[PriorProcedure, ...], tuple[PriorProcedure, ...]]:
    gap = timedelta(days=rule.min_interval_days)
    close = tuple(p for p in same if gap and abs(p.start - start) < gap)
    best: tuple[PriorProcedure, ...] = ()
    window_starts = [start, *(p.start for p in same if p.start <= start)]
    for first in window_starts:
        end = add_months(first, rule.window_months)
        if start < end:
            inside = tuple(p for p in same if first <= p.start < end)
            best = max(best, inside, key=len)
    return len(best) + 1, best, close


def _earliest_allowed(
    rule: RepeatRule, start: datetime, same: list[PriorProcedure]
) -> datetime | None:
    """Allowed-ness only improves where a procedure leaves the interval or the window."""
    gap = timedelta(days=rule.min_interval_days)
    candidates = (
        {start}
        | {p.start + gap for p in same}
        | {add_months(p.start, rule.window_months) for p in same}
    )
    for moment in sorted(c for c in candidates if c >= start):
        count, _, close = _evaluate(rule, moment, same)
        if count <= rule.max_in_window and not close:
            return moment
    return None


def check_repeat_limits(
    order: OrderFacts,
    start: datetime,
    prior: Sequence[PriorProcedure],
    policy: RepeatLimitPolicy,
    *,
    site_zone: str | ZoneInfo = "UTC",
) -> tuple[Refusal, ...]:
    tz = zone(site_zone)
    statuses = repeat_limit_statuses(order, start, prior, policy)
    return tuple(_refusal(s, policy, tz) for s in statuses if not s.allowed)


def _refusal(status: RepeatLimitStatus, policy: RepeatLimitPolicy, tz: ZoneInfo) -> Refusal:
    rule, region = status.rule, status.region
    parts = []
    if status.count > rule.max_in_window:
        refs = ", ".join(p.reference for p in status.crowded)
        parts.append(
            f"at most {rule.max_in_window} {rule.display} per {region} region in a rolling "
            f"{rule.window_months} months (booked and performed count): this would be number "
            f"{status.count} with {refs}"
        )
    if status.too_close:
        refs = ", ".join(f"{p.reference} ({in_zone(p.start, tz)})" for p in status.too_close)
        parts.append(f"at least {rule.min_interval_days} days apart in the {region} region: {refs}")
    allowed = status.earliest_allowed
    when = f"; allowed from {in_zone(allowed, tz)}" if allowed else ""
    reason = f"repeat limit (repeat-limits table v{policy.version}): {'; '.join(parts)}{when}"
    return Refusal(Rule.REPEAT_LIMIT, reason, "Appointment.start", safe_from=allowed)
