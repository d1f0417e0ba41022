"""Auto-triage of a referral: red flags first, then missing essentials, then the fast track.

Input is plain data pulled from the referral (``ReferralFacts``); output is a decision with
a reason the coordinator and the EHR can read on the triage Task.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TypeAlias

from painflow_referral.domain.policy import RedFlag, TriagePolicy
from painflow_shared.codes import TriageStatus

# redirected (red flag: urgent care, no interventional path), on-hold (essentials missing),
# fast-track (recent injury: see early), awaiting-coordinator: the codes the EHR reads
TriageOutcome: TypeAlias = TriageStatus


@dataclass(frozen=True)
class Code:
    system: str | None
    code: str | None


@dataclass(frozen=True)
class ReferralFacts:
    codes: tuple[Code, ...]  # Condition codes and ServiceRequest reason codes
    injury_onset: date | None
    has_reason: bool  # a coded diagnosis or reason: what red-flag screening can read
    has_contact: bool
    has_coverage: bool
    priority: str | None = None


@dataclass(frozen=True)
class TriageDecision:
    outcome: TriageOutcome
    priority: str
    reason: str
    red_flags: tuple[str, ...] = ()
    missing: tuple[str, ...] = field(default_factory=tuple)


def triage(facts: ReferralFacts, policy: TriagePolicy, today: date) -> TriageDecision:
    flags = _red_flags(facts.codes, policy.red_flags)
    if flags:
        priority = "stat" if any(f.priority == "stat" for f in flags) else "asap"
        names = tuple(f.flag for f in flags)
        routes = "; ".join(f.route for f in flags)
        return TriageDecision(
            TriageOutcome.REDIRECTED,
            priority,
            f"red flag ({', '.join(names)}): {routes}",
            red_flags=names,
        )
    missing = _missing(facts, policy)
    if missing:
        return TriageDecision(
            TriageOutcome.ON_HOLD,
            facts.priority or "routine",
            f"missing: {', '.join(missing)}",
            missing=missing,
        )
    if facts.injury_onset and today - facts.injury_onset < timedelta(weeks=policy.fast_track_weeks):
        weeks = (today - facts.injury_onset).days // 7
        return TriageDecision(
            TriageOutcome.FAST_TRACK,
            _more_urgent(facts.priority, policy.fast_track_priority),
            f"injury {weeks} weeks ago (under {policy.fast_track_weeks}): "
            "fast track for early evaluation",
        )
    return TriageDecision(
        TriageOutcome.AWAITING_COORDINATOR,
        facts.priority or "routine",
        "awaiting coordinator review",
    )


def _red_flags(codes: tuple[Code, ...], flags: tuple[RedFlag, ...]) -> list[RedFlag]:
    return [flag for flag in flags if any(flag.matches(c.system, c.code) for c in codes)]


def _missing(facts: ReferralFacts, policy: TriagePolicy) -> tuple[str, ...]:
    missing = []
    if not facts.has_reason:
        missing.append("coded reason for referral (ICD-10-CM or SNOMED CT diagnosis)")
    if policy.require_contact and not facts.has_contact:
        missing.append("patient contact")
    if policy.require_coverage and not facts.has_coverage:
        missing.append("coverage")
    return tuple(missing)


_PRIORITY_ORDER = ("routine", "urgent", "asap", "stat")


def _more_urgent(current: str | None, proposed: str) -> str:
    if current in _PRIORITY_ORDER and _PRIORITY_ORDER.index(current) > _PRIORITY_ORDER.index(
        proposed
    ):
        return str(current)
    return proposed
