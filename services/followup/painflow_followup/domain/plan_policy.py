"""The follow-up plan policy as data: procedure types, their CPT codes and their time points.

Loaded from ``policies/followup-plans-v1.json`` by ``painflow_followup.policies``; the domain
only reads these frozen values.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum

from painflow_followup.domain.timing import Align, Offset


class Baseline(StrEnum):
    """Which NRS a relief derived from NRS is measured against (issue 11 item 2)."""

    PRE_PROCEDURE = "pre-procedure"  # the same day's NRS recorded with the Procedure
    INTAKE = "intake"  # the intake baseline


@dataclass(frozen=True)
class TimePoint:
    """One follow-up time point: when it is, how long it stays open and what it collects."""

    id: str  # "2w", "6m", "block-duration", "trial-end"
    label: str  # "2-week": reads "2-week outcome after the ..."
    at: Offset
    window_start: Offset
    window_end: Offset
    align: Align
    measures: tuple[str, ...]  # nrs, percent-relief, pgic, function
    baseline: Baseline = Baseline.INTAKE
    program: bool = False  # one of the program-wide time points


@dataclass(frozen=True)
class ProcedureType:
    """A family of procedures that share follow-up time points and progression rules."""

    id: str
    label: str  # "epidural steroid injection"
    cpt: frozenset[str]
    purposes: frozenset[str]  # empty: any purpose; else the order's procedure-purpose must match
    time_points: tuple[TimePoint, ...]
    program: bool  # whether the program-wide time points are added
    source: str
    uncertain: bool

    def matches(self, codes: Collection[str], purpose: str | None) -> bool:
        if not self.cpt.intersection(codes):
            return False
        return not self.purposes or purpose in self.purposes


@dataclass(frozen=True)
class PlanPolicy:
    name: str
    version: str
    procedure_types: tuple[ProcedureType, ...]  # in matching order: the first that matches wins
    program_time_points: tuple[TimePoint, ...]
    program_source: str

    def procedure_type(self, type_id: str) -> ProcedureType | None:
        return next((t for t in self.procedure_types if t.id == type_id), None)

    def time_point_labels(self) -> dict[str, str]:
        """Each time point id with the first label the policy gives it (for explanations)."""
        labels: dict[str, str] = {}
        for tp in [*self.program_time_points, *_all_points(self.procedure_types)]:
            labels.setdefault(tp.id, tp.label)
        return labels


def _all_points(types: Iterable[ProcedureType]) -> list[TimePoint]:
    return [tp for t in types for tp in t.time_points]


def procedure_type_for(
    policy: PlanPolicy, cpt_codes: Collection[str], purpose: str | None = None
) -> ProcedureType | None:
    """The procedure type of a Procedure's CPT codes and its order's procedure-purpose.

    ``purpose`` separates a stimulator trial (63650, purpose ``trial``) from an implant (63650
    otherwise); None when no type lists any of the codes (no follow-up plan from this policy).
    """
    return next((t for t in policy.procedure_types if t.matches(cpt_codes, purpose)), None)


def time_points_for(policy: PlanPolicy, procedure_type: ProcedureType) -> tuple[TimePoint, ...]:
    """The type's own time points, then the program-wide ones it does not already have."""
    own = procedure_type.time_points
    if not procedure_type.program:
        return own
    ids = {tp.id for tp in own}
    return own + tuple(tp for tp in policy.program_time_points if tp.id not in ids)
