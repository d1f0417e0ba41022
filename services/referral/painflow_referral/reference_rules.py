"""The referral service's reference rules, on top of the shared referential-integrity check.

Intake reads a referral's patient from the elements below, so there they must name a Patient
sent with the request or stored here (not a Group, not a URL on another server). Elsewhere an
absolute URL may stay when it lies under a trusted FHIR base.
"""

from __future__ import annotations

from typing import Any

from painflow_referral.context import IntakeContext
from painflow_shared.fhir.errors import BusinessRuleViolation, Issue
from painflow_shared.fhir.reference_check import (
    Key,
    ReferenceRules,
    Written,
    reference_issues,
    stored_keys,
)

PATIENT_ELEMENTS = frozenset(
    {
        "ServiceRequest.subject",
        "Condition.subject",
        "MedicationStatement.subject",
        "AllergyIntolerance.patient",
        "Coverage.beneficiary",
        "DocumentReference.subject",
    }
)


def reference_problems(ctx: IntakeContext, written: list[Written], known: set[Key]) -> list[Issue]:
    """Every reference problem of a write: one store query for all of them."""
    rules = ReferenceRules(
        is_trusted=ctx.remote_policy.is_trusted,
        narrowed={element: ("Patient",) for element in PATIENT_ELEMENTS},
        local_only=PATIENT_ELEMENTS,
    )
    return reference_issues(written, known, stored_keys(ctx.session), rules)


def check_references(ctx: IntakeContext, path: str, resource: dict[str, Any]) -> None:
    """422 naming the element when a reference of ``resource`` (at ``path``) is wrong."""
    issues = reference_problems(ctx, [Written(path, resource)], set())
    if issues:
        raise BusinessRuleViolation(issues[0].diagnostics, issues=issues)
