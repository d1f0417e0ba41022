"""The scheduling policies as plain frozen data: hold tables, agents, repeat limits, payers.

``painflow_scheduling.policies`` loads them from the versioned JSON files at the edge; domain
functions only ever receive these objects (tests build them the same way).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from painflow_shared.codes import BleedingRisk


class Action(StrEnum):
    """What a hold-table entry asks for: only ``hold`` blocks a booking."""

    HOLD = "hold"
    SHARED_ASSESSMENT = "shared-assessment"
    CONTINUE = "continue"


class Selector(StrEnum):
    """Which fact about the patient's use of a drug picks the table's row (variant)."""

    NONE = "none"
    INDICATION = "indication"  # aspirin: primary or secondary prevention
    DAILY_DOSE = "daily-dose"  # enoxaparin: prophylactic or therapeutic
    RENAL = "renal"  # dabigatran: by eGFR band
    ROUTE = "route"  # unfractionated heparin: intravenous or subcutaneous


class RangeEnd(StrEnum):
    LONGER = "longer"
    SHORTER = "shorter"


@dataclass(frozen=True)
class Interval:
    """A hold or restart interval as the table gives it: ``low``-``high`` in hours or days."""

    low: float
    high: float
    unit: str  # "h" or "d"

    def hours(self, range_end: RangeEnd) -> float:
        """N days = N x 24 h; a range takes the end the policy names (the longer by default)."""
        value = self.high if range_end is RangeEnd.LONGER else self.low
        return value * 24 if self.unit == "d" else value

    def __str__(self) -> str:
        def num(v: float) -> str:
            return f"{v:g}"

        span = num(self.low) if self.low == self.high else f"{num(self.low)}-{num(self.high)}"
        return f"{span} {'days' if self.unit == 'd' else 'hours'}"


@dataclass(frozen=True)
class CategoryRule:
    """One cell of the table: a drug row (variant) at one bleeding-risk category."""

    action: Action
    hold: Interval | None = None
    restart: Interval | None = None
    conditions: tuple[str, ...] = ()
    note: str = ""
    uncertain: bool = False


@dataclass(frozen=True)
class VariantCondition:
    indication: str | None = None  # "primary" | "secondary"
    daily_mg_above: float | None = None
    daily_mg_at_most: float | None = None
    egfr_at_least: float | None = None
    egfr_below: float | None = None
    route_codes: tuple[str, ...] = ()
    route_words: tuple[str, ...] = ()


@dataclass(frozen=True)
class Variant:
    variant: str
    when: VariantCondition
    categories: Mapping[BleedingRisk, CategoryRule]


@dataclass(frozen=True)
class DrugRule:
    drug: str
    display: str
    rxnorm: tuple[str, ...]
    names: tuple[str, ...]
    variants: tuple[Variant, ...]
    selector: Selector = Selector.NONE
    uncertain: bool = False


@dataclass(frozen=True)
class CodePrefix:
    system: str
    prefix: str

    def matches(self, system: str | None, code: str | None) -> bool:
        return system == self.system and bool(code) and str(code).startswith(self.prefix)


@dataclass(frozen=True)
class CodeList:
    """Codes (by prefix) and text keywords, e.g. the secondary-prevention indications."""

    codes: tuple[CodePrefix, ...] = ()
    words: tuple[str, ...] = ()
    uncertain: bool = True


@dataclass(frozen=True)
class LabCondition:
    """A condition a hold adds (warfarin: a normal INR), met by a pre-procedure lab Task."""

    key: str
    flag: str
    text: str
    lab: Mapping[str, str]  # a Coding: system, code, display
    uncertain: bool = False


@dataclass(frozen=True)
class RenalPolicy:
    egfr_loinc: tuple[str, ...] = ()
    max_age_days: int = 90


@dataclass(frozen=True)
class HoldTable:
    table: str  # "asra-2018" | "asipp-2024"
    version: str
    guideline: str
    drugs: tuple[DrugRule, ...]
    range_end: RangeEnd = RangeEnd.LONGER
    conditions: Mapping[str, LabCondition] = field(default_factory=dict)
    secondary_prevention: CodeList = field(default_factory=CodeList)
    renal: RenalPolicy = field(default_factory=RenalPolicy)

    @property
    def source(self) -> str:
        """Guideline and version, as shown beside every hold."""
        return f"{self.guideline}; painflow hold table {self.table} v{self.version}"


@dataclass(frozen=True)
class HoldTables:
    """The selected table and the ASRA 2018 table that drugs it does not list fall back to."""

    selected: HoldTable
    fallback: HoldTable


@dataclass(frozen=True)
class AgentCode:
    system: str
    code: str


@dataclass(frozen=True)
class Agent:
    agent: str  # "iodinated-contrast" | "local-anaesthetic" | "corticosteroid"
    display: str
    codes: tuple[AgentCode, ...]
    words: tuple[str, ...]
    modalities: tuple[str, ...] = ()  # used only with these imaging modalities; empty = always


@dataclass(frozen=True)
class AgentPolicy:
    version: str
    agents: tuple[Agent, ...]
    procedures: Mapping[str, tuple[str, ...]]  # CPT -> agents
    default_agents: tuple[str, ...]
    override_kinds: tuple[str, ...] = ("premedication", "alternative-agent")

    def agent(self, name: str) -> Agent | None:
        return next((a for a in self.agents if a.agent == name), None)


@dataclass(frozen=True)
class RepeatRule:
    rule: str
    display: str
    cpt: frozenset[str]
    max_in_window: int
    window_months: int
    min_interval_days: int
    exclude_purposes: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RepeatLimitPolicy:
    version: str
    rules: tuple[RepeatRule, ...]


@dataclass(frozen=True)
class AuthorizationRule:
    cpt: str
    name: str
    purpose: str | None = None  # e.g. 62323 only when ordered as an intrathecal trial


@dataclass(frozen=True)
class Payer:
    payer: str
    display: str
    identifiers: tuple[tuple[str, str], ...]  # (system, value)
    names: tuple[str, ...]
    requires: tuple[AuthorizationRule, ...]


@dataclass(frozen=True)
class PayerPolicy:
    version: str
    default: tuple[AuthorizationRule, ...]
    payers: tuple[Payer, ...] = ()


@dataclass(frozen=True)
class SchedulingPolicies:
    holds: HoldTables
    agents: AgentPolicy
    repeat_limits: RepeatLimitPolicy
    payers: PayerPolicy
