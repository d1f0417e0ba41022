"""Prior authorization: which of the patient's payers require it for the order's CPT code.

A payer is matched by ``Coverage.payor`` identifier (system and value), else by its display; a
payer the table does not name uses the default rules. Booking waits until the prior-authorization
Task for that Coverage is completed with an authorization number.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from painflow_scheduling.domain.fhir_values import codings, reference
from painflow_scheduling.domain.order import OrderFacts
from painflow_scheduling.domain.policy import AuthorizationRule, Payer, PayerPolicy
from painflow_scheduling.domain.refusals import Refusal, Rule
from painflow_shared.codes import CodeSystem, TaskType

AUTHORIZATION_NUMBER = "authorization-number"  # Task.output[].type.text carrying the number


@dataclass(frozen=True)
class AuthorizationRequirement:
    coverage: str | None  # "Coverage/<id>"
    payer: str  # the payer table entry, or "default"
    payer_display: str | None
    rule: AuthorizationRule
    cpt: str


def authorization_requirements(
    order: OrderFacts, coverages: Sequence[dict[str, Any]], policy: PayerPolicy
) -> tuple[AuthorizationRequirement, ...]:
    """One requirement per active Coverage whose payer needs authorization for this order."""
    found = []
    for coverage in coverages:
        if coverage.get("status") not in (None, "active"):
            continue
        payer = _payer(coverage, policy)
        rules = payer.requires if payer else policy.default
        rule = next((r for r in rules if _applies(r, order)), None)
        if rule is not None and order.cpt:
            display = _payer_display(coverage)
            name = payer.payer if payer else "default"
            found.append(
                AuthorizationRequirement(reference(coverage), name, display, rule, order.cpt)
            )
    return tuple(found)


def _applies(rule: AuthorizationRule, order: OrderFacts) -> bool:
    return rule.cpt == order.cpt and rule.purpose in (None, order.purpose)


def _payer(coverage: dict[str, Any], policy: PayerPolicy) -> Payer | None:
    payors = [p for p in coverage.get("payor") or [] if isinstance(p, dict)]
    ids = {(i.get("system"), i.get("value")) for p in payors for i in [p.get("identifier") or {}]}
    by_id = next((p for p in policy.payers if ids & set(p.identifiers)), None)
    if by_id is not None:
        return by_id
    names = {str(p.get("display")).strip().lower() for p in payors if p.get("display")}
    return next((p for p in policy.payers if names & set(p.names)), None)


def _payer_display(coverage: dict[str, Any]) -> str | None:
    return next((p.get("display") for p in coverage.get("payor") or [] if p.get("display")), None)


def granted_coverages(tasks: Sequence[dict[str, Any]]) -> frozenset[str | None]:
    """Coverages with a completed prior-authorization Task carrying its number; None stands for
    a Task that names no Coverage (it then covers every requirement)."""
    granted: set[str | None] = set()
    for task in tasks:
        if (
            _is_authorization(task)
            and task.get("status") == "completed"
            and authorization_number(task)
        ):
            insurance = [
                i.get("reference") for i in task.get("insurance") or [] if isinstance(i, dict)
            ]
            granted.update(insurance or [None])
    return frozenset(granted)


def _is_authorization(task: dict[str, Any]) -> bool:
    return any(
        c.get("system") == CodeSystem.TASK_TYPE and c.get("code") == TaskType.PRIOR_AUTHORIZATION
        for c in codings(task.get("code"))
    )


def authorization_number(task: dict[str, Any]) -> str | None:
    for output in task.get("output") or []:
        kind = (output.get("type") or {}) if isinstance(output, dict) else {}
        value = output.get("valueString") if isinstance(output, dict) else None
        if kind.get("text") == AUTHORIZATION_NUMBER and isinstance(value, str) and value.strip():
            return value
    return None


def check_authorization(
    requirements: Sequence[AuthorizationRequirement],
    granted: Collection[str | None],
    policy: PayerPolicy,
) -> tuple[Refusal, ...]:
    """One refusal per requirement without a completed authorization."""
    return tuple(
        Refusal(
            Rule.AUTHORIZATION,
            f"prior authorization required: the payer of {r.coverage or 'the Coverage'} "
            f"({r.payer} rules, payer-authorization table v{policy.version}) requires it for CPT "
            f"{r.cpt} ({r.rule.name}); booking waits until its prior-authorization Task is "
            f"completed with the authorization number",
            "Appointment.basedOn",
        )
        for r in requirements
        if None not in granted and r.coverage not in granted
    )
