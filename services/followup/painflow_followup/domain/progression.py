"""The next step after a procedure's outcome (issue 11 item 3), decided by the progression policy.

Rules run in the policy's order and the first that decides wins: a complication always first
(``urgent-review``), then discharge on sustained improvement, then the procedure's own rule.
Boundaries are inclusive (80% meets an 80% threshold, 79% does not). Every decision carries a
sentence a clinician reads, naming the policy, the rule and its source. None means no decision
yet (not this rule's time point, or no relief computable).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from painflow_followup.domain.plan_policy import procedure_type_for
from painflow_followup.domain.progression_policy import ProgressionPolicy, Rule, RuleKind
from painflow_shared.codes import NextStep


@dataclass(frozen=True)
class OutcomeFacts:
    """Everything a rule looks at, as plain values (the handler gathers them)."""

    cpt_codes: tuple[str, ...]  # the Procedure's CPT codes
    procedure_purpose: str | None = None  # the order's procedure-purpose (trial vs implant)
    block_number: int | None = None  # 1 or 2 in a dual comparative block chain (None = 1)
    time_point: str | None = None  # the time point id of this outcome ("2w", "6m", ...)
    relief_percent: float | None = None  # this outcome's relief, given or derived from NRS
    earlier_relief_percents: tuple[float, ...] = ()  # this procedure's earlier time points
    first_block_relief_percent: float | None = None  # for a second block: the first one's
    complications: tuple[str, ...] = ()  # complication codes (or "recorded") on the Procedure
    nrs_baseline: float | None = None  # the intake baseline NRS
    nrs_now: float | None = None
    function_measure: str | None = None  # "odi" or "ndi"
    function_baseline: float | None = None  # intake score, 0-100
    function_now: float | None = None
    pending: bool = False  # an open order, appointment or outcome Task besides this one


@dataclass(frozen=True)
class Decision:
    code: NextStep
    display: str
    explanation: str  # for the ServiceRequest's note
    rule_id: str
    source: str
    policy: str  # "painflow-progression 1.0.0"
    uncertain: bool


Evaluator = Callable[[Rule, OutcomeFacts, ProgressionPolicy], Decision | None]


def decide_next_step(facts: OutcomeFacts, policy: ProgressionPolicy) -> Decision | None:
    """The first decision the policy's rules reach for ``facts``, or None (no decision yet)."""
    for rule in policy.rules:
        decision = _EVALUATORS[rule.kind](rule, facts, policy)
        if decision is not None:
            return decision
    return None


def _complication(rule: Rule, facts: OutcomeFacts, policy: ProgressionPolicy) -> Decision | None:
    if not facts.complications:
        return None
    named = ", ".join(c.replace("-", " ") for c in facts.complications)
    finding = f"the Procedure records a complication ({named}). {rule.advice_met}"
    return _decide(rule, rule.met, finding, policy)


def _sustained(rule: Rule, facts: OutcomeFacts, policy: ProgressionPolicy) -> Decision | None:
    if facts.time_point not in rule.time_points or facts.pending:
        return None
    nrs_drop = _percent_drop(facts.nrs_baseline, facts.nrs_now)
    gain = _difference(facts.function_baseline, facts.function_now)
    need_drop, need_gain = rule.nrs_min_reduction_percent, rule.function_min_improvement_points
    if nrs_drop is None or gain is None or need_drop is None or need_gain is None:
        return None
    if nrs_drop < need_drop or gain < need_gain:
        return None
    measure = (facts.function_measure or "function score").upper()
    finding = (
        f"NRS {_num(facts.nrs_now)} is {_num(nrs_drop)}% below the intake baseline "
        f"{_num(facts.nrs_baseline)} (at least {_num(need_drop)}%) and the {measure} is "
        f"{_num(gain)} points better (at least {_num(need_gain)}) at the "
        f"{_label(policy, facts.time_point)} time point, with nothing pending. {rule.advice_met}"
    )
    return _decide(rule, rule.met, finding, policy)


def _relief(rule: Rule, facts: OutcomeFacts, policy: ProgressionPolicy) -> Decision | None:
    if not _applies(rule, facts, policy) or facts.relief_percent is None:
        return None
    threshold = _threshold(rule, policy)
    relief = _exact(facts.relief_percent)
    shortfall = _shortfall(rule, facts, threshold)
    context = _context(rule, facts, policy)
    if relief >= threshold and shortfall is None:
        finding = f"{_num(relief)}% relief {context}, at least {_threshold_text(rule, threshold)}."
        return _decide(rule, rule.met, f"{finding} {rule.advice_met}", policy)
    reason = shortfall or f"below {_threshold_text(rule, threshold)}"
    finding = f"{_num(relief)}% relief {context}, {reason}."
    code = rule.not_met or NextStep.REASSESSMENT
    return _decide(rule, code, f"{finding} {rule.advice_not_met}", policy)


def _applies(rule: Rule, facts: OutcomeFacts, policy: ProgressionPolicy) -> bool:
    ptype = procedure_type_for(policy.catalogue, facts.cpt_codes, facts.procedure_purpose)
    if ptype is None or ptype.id not in rule.procedure_types:
        return False
    if facts.time_point not in rule.time_points:
        return False
    return rule.block is None or rule.block == (facts.block_number or 1)


def _shortfall(rule: Rule, facts: OutcomeFacts, threshold: Fraction) -> str | None:
    """Why an otherwise sufficient relief does not count: the chain or the duration failed."""
    first = facts.first_block_relief_percent
    if rule.block == 2 and first is not None and _exact(first) < threshold:
        return f"but the first block gave {_num(_exact(first))}%, below {_num(threshold)}%"
    lows = [_exact(p) for p in facts.earlier_relief_percents if _exact(p) < threshold]
    if rule.sustained and lows:
        return f"but relief fell to {_num(min(lows))}% at an earlier time point (not sustained)"
    return None


def _threshold(rule: Rule, policy: ProgressionPolicy) -> Fraction:
    if rule.site_threshold:
        return Fraction(policy.mbb_threshold)
    return rule.threshold if rule.threshold is not None else Fraction(50)


def _threshold_text(rule: Rule, threshold: Fraction) -> str:
    percent = f"{_num(threshold)}%"
    return f"this site's {percent} threshold" if rule.site_threshold else percent


def _context(rule: Rule, facts: OutcomeFacts, policy: ProgressionPolicy) -> str:
    if rule.block == 1:
        return "after the first diagnostic medial branch block"
    if rule.block == 2:
        return "after the second, comparative medial branch block"
    return f"at the {_label(policy, facts.time_point)} time point"


def _decide(rule: Rule, code: NextStep, finding: str, policy: ProgressionPolicy) -> Decision:
    doubt = " The policy marks this rule uncertain: the site reviews it." if rule.uncertain else ""
    explanation = f"Policy {policy.label}, rule {rule.id} ({rule.cite}): {finding}{doubt}"
    return Decision(
        code=code,
        display=policy.displays.get(code, code.value),
        explanation=explanation.replace("  ", " ").strip(),
        rule_id=rule.id,
        source=rule.source,
        policy=policy.label,
        uncertain=rule.uncertain,
    )


def _label(policy: ProgressionPolicy, time_point: str | None) -> str:
    return policy.time_point_labels.get(time_point or "", time_point or "unknown")


def _exact(value: float) -> Fraction:
    # str() first: 79.9 stays 79.9, not the binary float just below it
    return Fraction(str(value))


def _percent_drop(baseline: float | None, now: float | None) -> Fraction | None:
    if baseline is None or now is None or baseline <= 0:
        return None
    return (_exact(baseline) - _exact(now)) / _exact(baseline) * 100


def _difference(baseline: float | None, now: float | None) -> Fraction | None:
    return None if baseline is None or now is None else _exact(baseline) - _exact(now)


def _num(value: Fraction | float | None) -> str:
    """A number as a clinician reads it: 80, 57.1 (one decimal, rounded down)."""
    if value is None:
        return "unknown"
    tenths = Fraction(value) * 10
    whole = tenths.numerator // tenths.denominator
    return str(whole // 10) if whole % 10 == 0 else f"{whole / 10:.1f}"


_EVALUATORS: dict[RuleKind, Evaluator] = {
    RuleKind.COMPLICATION: _complication,
    RuleKind.SUSTAINED_IMPROVEMENT: _sustained,
    RuleKind.RELIEF_THRESHOLD: _relief,
}
