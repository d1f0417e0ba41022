"""Candidacy and the procedure pathway: one decision per intake, in precedence order.

``not-candidate-urgent`` (red-flag or unstable findings) > ``defer-behavioural-health`` (PHQ-9 or
GAD-7 at its threshold, or the clinician's psychosocial finding) > ``conservative-care-first``
(too little physical therapy where the procedure needs it, or no procedure in the pathway fits)
> ``procedure``. Every explanation names the rule, the policy version and the source.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from painflow_assessment.domain.intake import region_for_code
from painflow_assessment.domain.orders import SPINAL_REGIONS, ProcedureOrder
from painflow_assessment.domain.policy import IntakePolicy, PathwayPolicy, ProcedureRule, RuleInfo
from painflow_shared.codes import CareActivity, Laterality, System
from painflow_shared.codes import PathwayDecision as DecisionCode


@dataclass(frozen=True)
class ConditionFact:
    reference: str  # how the resources name it: Condition/{id} or the referral's absolute URL
    system: str | None
    code: str | None
    display: str | None = None


@dataclass(frozen=True)
class PathwayFacts:
    conditions: tuple[ConditionFact, ...]
    region: str | None = None  # from intake-history
    side: Laterality | None = None
    levels: tuple[str, ...] = ()
    pain_type: str | None = None
    pt_weeks: int | None = None  # None counts as none documented
    phq9: int | None = None
    gad7: int | None = None
    mme_per_day: float | None = None
    red_flags: tuple[str, ...] = ()
    unstable_findings: bool = False
    psychosocial_finding: bool = False
    refractory: bool = False
    prior_spine_surgery: bool = False


@dataclass(frozen=True)
class PlannedActivity:
    activity: CareActivity
    description: str


@dataclass(frozen=True)
class PathwayDecision:
    code: DecisionCode
    rule: RuleInfo  # the rule that decided: a decision rule or the procedure rule
    explanation: str  # for the clinician: the rule, the policy version and the source
    diagnosis: ConditionFact | None  # the working diagnosis
    orders: tuple[ProcedureOrder, ...] = ()  # only for ``procedure``
    activities: tuple[PlannedActivity, ...] = ()


@dataclass(frozen=True)
class _Target:
    rule: ProcedureRule
    diagnosis: ConditionFact | None
    orders: tuple[ProcedureOrder, ...]
    needs_pt_first: bool


def decide_pathway(
    facts: PathwayFacts, pathway: PathwayPolicy, intake: IntakePolicy
) -> PathwayDecision:
    """The one decision for this intake (the first rule that applies wins)."""
    target = _procedure_target(facts, pathway, intake)
    diagnosis = target.diagnosis if target else (facts.conditions or (None,))[0]
    urgent = _urgent_reasons(facts)
    if urgent:
        return _decision(DecisionCode.NOT_CANDIDATE_URGENT, pathway, facts, diagnosis, urgent)
    deferral = _deferral_reasons(facts, pathway)
    if deferral:
        return _decision(DecisionCode.DEFER_BEHAVIOURAL_HEALTH, pathway, facts, diagnosis, deferral)
    if target is None:
        reason = "no procedure in the pathway fits the working diagnosis and the pain history"
        info = pathway.rules["no-interventional-target"]
        return _decision(
            DecisionCode.CONSERVATIVE_CARE_FIRST, pathway, facts, diagnosis, [reason], info
        )
    weeks, needed = facts.pt_weeks or 0, pathway.pt_weeks_at_least
    if target.needs_pt_first and weeks < needed:
        reason = (
            f"{weeks} weeks of supervised physical therapy or exercise in the last 6 months, "
            f"fewer than the {needed} the {target.rule.info.title} needs first"
        )
        return _decision(DecisionCode.CONSERVATIVE_CARE_FIRST, pathway, facts, diagnosis, [reason])
    return _procedure(target, facts, pathway)


def _urgent_reasons(facts: PathwayFacts) -> list[str]:
    reasons = [f"red flag {flag}" for flag in facts.red_flags]
    if facts.unstable_findings:
        reasons.append("red-flag or unstable findings recorded at assessment")
    return reasons


def _deferral_reasons(facts: PathwayFacts, pathway: PathwayPolicy) -> list[str]:
    reasons = []
    if facts.phq9 is not None and facts.phq9 >= pathway.phq9_defer_at:
        reasons.append(f"PHQ-9 is {facts.phq9}, at or above {pathway.phq9_defer_at}")
    if facts.gad7 is not None and facts.gad7 >= pathway.gad7_defer_at:
        reasons.append(f"GAD-7 is {facts.gad7}, at or above {pathway.gad7_defer_at}")
    if facts.psychosocial_finding:
        reasons.append("the clinician found the pain driven mainly by psychosocial factors")
    return reasons


def _procedure_target(
    facts: PathwayFacts, pathway: PathwayPolicy, intake: IntakePolicy
) -> _Target | None:
    for rule in pathway.procedure_rules:
        matched = _match(rule, facts, intake)
        if matched is None:
            continue
        diagnosis, region = matched
        orders = _orders_for(rule, region, facts, pathway)
        if orders:
            main = pathway.catalogue[orders[0].cpt]
            needs_pt = main.needs_pt_first if rule.needs_pt_first is None else rule.needs_pt_first
            return _Target(
                rule, diagnosis or _condition_in(facts, region, intake), orders, needs_pt
            )
    return None


def _match(
    rule: ProcedureRule, facts: PathwayFacts, intake: IntakePolicy
) -> tuple[ConditionFact | None, str | None] | None:
    """(the matching Condition, the region) when the rule applies: by a diagnosis code, or by
    the pain history (pain type and region, and refractory pain where the rule needs it)."""
    for condition in facts.conditions:
        code = (condition.code or "").upper()
        if condition.system == System.ICD10CM and code.startswith(tuple(rule.condition_prefixes)):
            region = region_for_code(condition.system, condition.code, intake)
            return condition, region or facts.region or rule.default_region
    if not (rule.pain_types or rule.regions):
        return None
    if rule.pain_types and facts.pain_type not in rule.pain_types:
        return None
    if rule.regions and facts.region not in rule.regions:
        return None
    if rule.requires_refractory and not facts.refractory:
        return None
    return None, facts.region or rule.default_region


def _condition_in(
    facts: PathwayFacts, region: str | None, intake: IntakePolicy
) -> ConditionFact | None:
    for condition in facts.conditions:
        if region and region_for_code(condition.system, condition.code, intake) == region:
            return condition
    return facts.conditions[0] if facts.conditions else None


def _orders_for(
    rule: ProcedureRule, region: str | None, facts: PathwayFacts, pathway: PathwayPolicy
) -> tuple[ProcedureOrder, ...]:
    cpt = rule.cpt_by_region.get(region or "") or rule.cpt_by_region.get("*")
    if cpt is None:
        return ()
    levels = facts.levels
    if rule.interlaminar_cpt_by_region and _interlaminar(facts, rule):
        cpt = rule.interlaminar_cpt_by_region.get(region or "", cpt)
        levels = (_span(levels),) if levels else ()
    site = rule.sites.get(region or "") or rule.sites.get("*")
    site_region = site.region if site else region
    if site and site.levels:
        levels = site.levels
    note = None
    if site_region and site_region in SPINAL_REGIONS and not levels:
        levels, note = (pathway.levels_to_confirm[site_region],), pathway.levels_to_confirm_note
    purpose = rule.purpose or pathway.catalogue[cpt].purpose
    main = ProcedureOrder(cpt, purpose, rule.info.id, site_region, facts.side, levels, note)
    extra = tuple(
        ProcedureOrder(code, pathway.catalogue[code].purpose, rule.info.id)
        for code in rule.extra_orders
    )
    return (main, *extra)


def _interlaminar(facts: PathwayFacts, rule: ProcedureRule) -> bool:
    """Bilateral (or midline, no side) or more levels than a transforaminal injection treats."""
    one_sided = facts.side in (Laterality.LEFT, Laterality.RIGHT)
    return not one_sided or len(facts.levels) > rule.max_transforaminal_levels


def _span(levels: Sequence[str]) -> str:
    """("L4-L5", "L5-S1") -> "L4-S1": an interlaminar injection treats one entry level."""
    return (
        f"{levels[0].split('-')[0]}-{levels[-1].split('-')[-1]}" if len(levels) > 1 else levels[0]
    )


def _procedure(target: _Target, facts: PathwayFacts, pathway: PathwayPolicy) -> PathwayDecision:
    orders = "; ".join(order.describe(pathway.catalogue) for order in target.orders)
    reasons = [
        "no red flags or unstable findings",
        _scores_below(facts, pathway),
        f"{facts.pt_weeks or 0} weeks of supervised physical therapy or exercise",
        f"order: {orders}",
    ]
    return _decision(
        DecisionCode.PROCEDURE,
        pathway,
        facts,
        target.diagnosis,
        reasons,
        target.rule.info,
        target.orders,
    )


def _scores_below(facts: PathwayFacts, pathway: PathwayPolicy) -> str:
    phq, gad = _score_text(facts.phq9), _score_text(facts.gad7)
    return (
        f"PHQ-9 {phq} and GAD-7 {gad} below the deferral thresholds "
        f"({pathway.phq9_defer_at} and {pathway.gad7_defer_at}), no psychosocial finding"
    )


def _score_text(value: int | None) -> str:
    return "not recorded" if value is None else str(value)


def _decision(
    code: DecisionCode,
    pathway: PathwayPolicy,
    facts: PathwayFacts,
    diagnosis: ConditionFact | None,
    reasons: list[str],
    info: RuleInfo | None = None,
    orders: tuple[ProcedureOrder, ...] = (),
) -> PathwayDecision:
    rule = info or pathway.rules[code.value]
    activities = _activities(code, facts, pathway, bool(orders))
    explanation = _explain(rule, pathway, [*reasons, *_medication_reason(facts, pathway)])
    return PathwayDecision(code, rule, explanation, diagnosis, orders, activities)


def _explain(rule: RuleInfo, pathway: PathwayPolicy, reasons: list[str]) -> str:
    if rule.id in pathway.rules:
        headline = rule.title
    else:  # a procedure rule
        headline = f"{pathway.rules[DecisionCode.PROCEDURE.value].title}: {rule.title}"
    caveat = f"; uncertain: {rule.uncertain}" if rule.uncertain else ""
    where = (
        f"policy {pathway.name} {pathway.version}, rule {rule.id}; source: {rule.source}{caveat}"
    )
    return f"{headline} ({where}): {'; '.join(reasons)}."


def _medication_reason(facts: PathwayFacts, pathway: PathwayPolicy) -> list[str]:
    if not _high_opioid_load(facts, pathway):
        return []
    return [
        f"opioid load {facts.mme_per_day:g} MME/day, at or above "
        f"{pathway.medication_management_at_mme:g} ({pathway.medication_management_source}): "
        "medication management added"
    ]


def _high_opioid_load(facts: PathwayFacts, pathway: PathwayPolicy) -> bool:
    return (facts.mme_per_day or 0) >= pathway.medication_management_at_mme


def _activities(
    code: DecisionCode, facts: PathwayFacts, pathway: PathwayPolicy, has_orders: bool
) -> tuple[PlannedActivity, ...]:
    planned = {
        DecisionCode.NOT_CANDIDATE_URGENT: [
            PlannedActivity(
                CareActivity.MEDICATION_MANAGEMENT, "Medication management with the urgent team"
            ),
        ],
        DecisionCode.DEFER_BEHAVIOURAL_HEALTH: [
            PlannedActivity(CareActivity.COGNITIVE_BEHAVIOURAL_THERAPY, "CBT for chronic pain"),
            PlannedActivity(CareActivity.MEDICATION_MANAGEMENT, "Medication review"),
            PlannedActivity(CareActivity.PHYSICAL_THERAPY, "Graded activity"),
        ],
        DecisionCode.CONSERVATIVE_CARE_FIRST: [
            PlannedActivity(CareActivity.PHYSICAL_THERAPY, "Supervised physical therapy"),
        ],
        DecisionCode.PROCEDURE: [
            PlannedActivity(CareActivity.PHYSICAL_THERAPY, "Continue the exercise programme"),
        ],
    }[code]
    if has_orders:
        planned.append(PlannedActivity(CareActivity.INTERVENTIONAL_PROCEDURE, "Procedure orders"))
    if _high_opioid_load(facts, pathway) and all(
        a.activity != CareActivity.MEDICATION_MANAGEMENT for a in planned
    ):
        planned.append(PlannedActivity(CareActivity.MEDICATION_MANAGEMENT, "Medication management"))
    return tuple(planned)
