"""The assessment's clinical policy as plain, frozen data.

``painflow_assessment.policies`` reads the versioned JSON files into these classes at start; the
domain functions take them as arguments and never read a file. Every rule carries its source and,
where DOMAIN.md marks it uncertain, a text saying so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Coding:
    system: str
    code: str
    display: str | None = None

    def as_json(self) -> dict[str, str]:
        found = {"system": self.system, "code": self.code}
        return {**found, "display": self.display} if self.display else found


@dataclass(frozen=True)
class Band:
    name: str
    lower: float  # the band applies from this score up to the next band's lower bound


@dataclass(frozen=True)
class InstrumentSpec:
    key: str  # "phq-9"
    questionnaire: str  # canonical URL
    method: str  # single | sum | mean | percent-of-answered
    items: tuple[str, ...]
    score_code: Coding
    value_type: str  # integer | quantity
    source: str
    unit: str | None = None  # UCUM code of a quantity value
    decimals: int = 0
    bands: tuple[Band, ...] = ()
    section_max: int = 0  # percent-of-answered: the highest score of one section
    max_skipped: int = 0
    safety_item: str | None = None  # an item whose answer above 0 is a safety finding
    uncertain: str | None = None


@dataclass(frozen=True)
class ScoringPolicy:
    name: str
    version: str
    instruments: Mapping[str, InstrumentSpec]  # by questionnaire URL


@dataclass(frozen=True)
class Opioid:
    rxnorm: str  # ingredient (IN) code
    name: str
    factor: float  # CDC 2022 MME conversion factor
    dose_unit: str  # mg, or mcg/h for transdermal fentanyl
    note: str | None = None


@dataclass(frozen=True)
class Product:
    rxnorm: str  # clinical drug (SCD) code
    name: str
    ingredient: str  # the Opioid.rxnorm it contains
    strength: float
    unit: str  # mg per tablet, or mcg/h per patch
    form: str  # tablet | patch


@dataclass(frozen=True)
class MmeThreshold:
    at: float
    code: str  # v3 ObservationInterpretation code
    text: str
    source: str


@dataclass(frozen=True)
class MmePolicy:
    name: str
    version: str
    source: str
    opioids: Mapping[str, Opioid]  # by ingredient code
    products: Mapping[str, Product]  # by product code
    thresholds: tuple[MmeThreshold, ...]
    counted_statuses: frozenset[str]


@dataclass(frozen=True)
class CatalogueEntry:
    cpt: str
    display: str
    expected_minutes: int
    purpose: str  # ProcedurePurpose code
    image_guided: bool
    needs_pt_first: bool
    regions: tuple[str, ...] = ()
    bleeding_risk: str | None = None  # BleedingRisk code; None when not image-guided
    bleeding_risk_by_region: Mapping[str, str] = field(default_factory=dict)
    imaging: str | None = None  # DICOM modality
    uncertain: str | None = None

    def bleeding_risk_for(self, region: str | None) -> str | None:
        return self.bleeding_risk_by_region.get(region or "", self.bleeding_risk)


@dataclass(frozen=True)
class RuleInfo:
    """A candidacy rule: its id (a pathway-decision code or a procedure rule), title, source."""

    id: str
    title: str
    source: str
    uncertain: str | None = None


@dataclass(frozen=True)
class Site:
    region: str
    levels: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProcedureRule:
    info: RuleInfo
    condition_prefixes: tuple[str, ...]
    pain_types: tuple[str, ...]
    regions: tuple[str, ...]
    requires_refractory: bool
    cpt_by_region: Mapping[str, str]  # "*" for any region
    interlaminar_cpt_by_region: Mapping[str, str] = field(default_factory=dict)
    max_transforaminal_levels: int = 0
    sites: Mapping[str, Site] = field(default_factory=dict)  # "*" for any region
    default_region: str | None = None
    extra_orders: tuple[str, ...] = ()
    purpose: str | None = None  # overrides the catalogue's
    needs_pt_first: bool | None = None  # overrides the catalogue's


@dataclass(frozen=True)
class PathwayPolicy:
    name: str
    version: str
    rules: Mapping[str, RuleInfo]  # the decisions' rules by id
    phq9_defer_at: int
    gad7_defer_at: int
    pt_weeks_at_least: int
    medication_management_at_mme: float
    medication_management_source: str
    procedure_rules: tuple[ProcedureRule, ...]
    catalogue: Mapping[str, CatalogueEntry]  # by CPT code
    levels_to_confirm: Mapping[str, str] = field(default_factory=dict)  # region -> its span
    levels_to_confirm_note: str = ""


@dataclass(frozen=True)
class RegionPrefix:
    system: str
    prefix: str
    region: str


@dataclass(frozen=True)
class NextStepRule:
    action: str  # order | reopen-intake | urgent-review | none
    source: str
    cpt_by_previous: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class IntakePolicy:
    name: str
    version: str
    always: tuple[str, ...]  # questionnaire URLs every intake has
    by_region: Mapping[str, tuple[str, ...]]
    region_by_condition: tuple[RegionPrefix, ...]
    next_steps: Mapping[str, NextStepRule]
