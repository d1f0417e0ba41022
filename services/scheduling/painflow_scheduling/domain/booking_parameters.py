"""The ``$booking-constraints`` answer: a Parameters resource schedulers use to offer safe slots.

``earliest-start``, one ``hold`` part per drug (``medication``, ``last-dose``, ``hold-hours``,
``safe-from``, ``restart-hours``, ``source``, plus ``action`` and ``flag``), ``allergy-conflict``,
``repeat-limit`` and ``authorization`` parts. Instants are written in the site's zone.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from painflow_scheduling.domain.allergies import AllergyConflict
from painflow_scheduling.domain.authorization import AuthorizationRequirement
from painflow_scheduling.domain.fhir_values import in_zone, zone
from painflow_scheduling.domain.holds import DrugHold
from painflow_scheduling.domain.repeat_limits import RepeatLimitStatus
from painflow_shared.codes import System


def _part(name: str, key: str, value: Any) -> dict[str, Any] | None:
    return None if value is None else {"name": name, key: value}


def _group(name: str, parts: Sequence[dict[str, Any] | None]) -> dict[str, Any]:
    return {"name": name, "part": [p for p in parts if p is not None]}


def booking_constraints_parameters(
    *,
    earliest_start: datetime,
    holds: Sequence[DrugHold] = (),
    allergy_conflicts: Sequence[AllergyConflict] = (),
    repeat_limits: Sequence[RepeatLimitStatus] = (),
    authorizations: Sequence[AuthorizationRequirement] = (),
    granted: Collection[str | None] = (),
    site_zone: str | ZoneInfo = "UTC",
) -> dict[str, Any]:
    tz = zone(site_zone)
    parameters = [
        {"name": "earliest-start", "valueDateTime": in_zone(earliest_start, tz)},
        *(_hold(h, tz) for h in holds),
        *(_allergy(c) for c in allergy_conflicts),
        *(_repeat(r, tz) for r in repeat_limits),
        *(_authorization(a, granted) for a in authorizations),
    ]
    return {"resourceType": "Parameters", "parameter": parameters}


def _hold(hold: DrugHold, tz: ZoneInfo) -> dict[str, Any]:
    return _group(
        "hold",
        [
            _part("medication", "valueCoding", dict(hold.medication) or None),
            _part(
                "statement",
                "valueReference",
                {"reference": hold.statement} if hold.statement else None,
            ),
            _part("drug", "valueString", hold.drug),
            _part("variant", "valueString", hold.variant),
            _part("action", "valueCode", hold.action.value),
            _part("last-dose", "valueDateTime", in_zone(hold.last_dose, tz)),
            _part("last-dose-basis", "valueString", hold.last_dose_basis),
            _part("hold-hours", "valueInteger", hold.hold_hours),
            _part(
                "safe-from",
                "valueDateTime",
                in_zone(hold.safe_from, tz) if hold.safe_from else None,
            ),
            _part("restart-hours", "valueInteger", hold.restart_hours),
            _part("source", "valueString", hold.source),
            *(_part("flag", "valueCode", f.value) for f in sorted(hold.flags)),
            *(_part("condition", "valueCoding", dict(c.lab)) for c in hold.conditions),
            _part("note", "valueString", hold.note or None),
        ],
    )


def _allergy(conflict: AllergyConflict) -> dict[str, Any]:
    allergy = {"reference": conflict.allergy} if conflict.allergy else None
    return _group(
        "allergy-conflict",
        [
            _part("allergy", "valueReference", allergy),
            _part("agent", "valueCode", conflict.agent),
            _part("matched-by", "valueCode", conflict.matched_by),
            _part("overridable", "valueBoolean", True),
        ],
    )


def _repeat(status: RepeatLimitStatus, tz: ZoneInfo) -> dict[str, Any]:
    rule = status.rule
    allowed = status.earliest_allowed
    return _group(
        "repeat-limit",
        [
            _part("rule", "valueCode", rule.rule),
            _part("region", "valueCode", status.region),
            _part("count", "valueInteger", status.count),
            _part("max", "valueInteger", rule.max_in_window),
            _part("window-months", "valueInteger", rule.window_months),
            _part("min-interval-days", "valueInteger", rule.min_interval_days),
            _part("allowed", "valueBoolean", status.allowed),
            _part("earliest-allowed", "valueDateTime", in_zone(allowed, tz) if allowed else None),
        ],
    )


def _authorization(
    requirement: AuthorizationRequirement, granted: Collection[str | None]
) -> dict[str, Any]:
    coverage = {"reference": requirement.coverage} if requirement.coverage else None
    done = None in granted or requirement.coverage in granted
    return _group(
        "authorization",
        [
            _part("coverage", "valueReference", coverage),
            _part("payer", "valueString", requirement.payer),
            _part("cpt", "valueCoding", {"system": System.CPT.value, "code": requirement.cpt}),
            _part("required", "valueBoolean", True),
            _part("status", "valueCode", "completed" if done else "pending"),
        ],
    )
