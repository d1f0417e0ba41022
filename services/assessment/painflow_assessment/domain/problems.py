"""What the domain reports about bad input: a path and the rule it breaks, never the value."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from painflow_shared.fhir.errors import BusinessRuleViolation, Issue


@dataclass(frozen=True)
class Problem:
    expression: str  # FHIRPath-like, e.g. QuestionnaireResponse.item[3].answer[0]
    rule: str  # unknown-item, answer-type, out-of-range, not-an-option, required, ...
    message: str  # names the element and the rule; never echoes the submitted value


def as_business_rule_violation(problems: Sequence[Problem]) -> BusinessRuleViolation:
    """One 422 carrying every problem as an OperationOutcome issue with its expression."""
    issues = [Issue(p.message, "business-rule", "error", (p.expression,)) for p in problems]
    summary = problems[0].message if len(problems) == 1 else f"{len(problems)} problems"
    return BusinessRuleViolation(summary, issues=issues)
