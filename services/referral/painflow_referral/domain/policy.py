"""The triage policy: versioned data with its sources, overridable per site.

Reading the file is the edge's job (``painflow_referral.policies``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RedFlag:
    flag: str
    route: str
    priority: str
    codes: tuple[tuple[str, str], ...]  # (system, code prefix)

    def matches(self, system: str | None, code: str | None) -> bool:
        return bool(code) and any(
            system == s and str(code).upper().startswith(prefix.upper()) for s, prefix in self.codes
        )


@dataclass(frozen=True)
class TriagePolicy:
    version: str
    fast_track_weeks: int
    fast_track_priority: str
    require_coverage: bool
    require_contact: bool
    red_flags: tuple[RedFlag, ...]


def policy_from_data(data: dict[str, Any]) -> TriagePolicy:
    """The policy file's JSON as the frozen data triage reads (loading it is the edge's job)."""
    return TriagePolicy(
        version=f"{data['policy']}|{data['version']}",
        fast_track_weeks=int(data["fast_track_weeks"]),
        fast_track_priority=str(data["fast_track_priority"]),
        require_coverage=bool(data["require_coverage"]),
        require_contact=bool(data["require_contact"]),
        red_flags=tuple(
            RedFlag(
                flag=f["flag"],
                route=f["route"],
                priority=f["priority"],
                codes=tuple((c["system"], c["prefix"]) for c in f["codes"]),
            )
            for f in data["red_flags"]
        ),
    )
