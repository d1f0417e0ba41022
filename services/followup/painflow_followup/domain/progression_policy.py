"""The progression policy as data: ordered rules, each naming its source (progression-v1.json).

Loaded by ``painflow_followup.policies``; thresholds are Fractions so that an inclusive
boundary (80% meets 80%) is compared exactly, never through a float's rounding.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from painflow_followup.domain.plan_policy import PlanPolicy
from painflow_shared.codes import NextStep


class RuleKind(StrEnum):
    COMPLICATION = "complication"  # any complication on the Procedure
    SUSTAINED_IMPROVEMENT = "sustained-improvement"  # NRS and function better than at intake
    RELIEF_THRESHOLD = "relief-threshold"  # percent relief at a time point against a threshold


@dataclass(frozen=True)
class Rule:
    id: str
    kind: RuleKind
    cite: str  # short, for the explanation: "LCD L33906; eviCore CMM-200"
    source: str  # the full source text of each cited source
    uncertain: bool
    met: NextStep
    not_met: NextStep | None = None
    advice_met: str = ""
    advice_not_met: str = ""
    procedure_types: frozenset[str] = frozenset()
    time_points: frozenset[str] = frozenset()
    block: int | None = None  # 1 or 2: which block of a dual comparative chain
    threshold: Fraction | None = None  # percent relief that meets the rule (inclusive)
    site_threshold: bool = False  # the threshold is the site's medial branch block pick
    sustained: bool = False  # earlier relief of the same procedure must meet it too
    nrs_min_reduction_percent: Fraction | None = None
    function_min_improvement_points: Fraction | None = None


@dataclass(frozen=True)
class ProgressionPolicy:
    name: str
    version: str
    rules: tuple[Rule, ...]  # evaluation order: the first rule that decides wins
    displays: Mapping[NextStep, str]
    catalogue: PlanPolicy  # resolves a Procedure's CPT codes to a procedure type
    time_point_labels: Mapping[str, str]
    mbb_threshold: int  # the site's pick (80 or 50)

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}"
