"""Why a booking is refused: one plain result per broken rule, turned into one FhirError.

Reasons name rules, policy rows and resource ids, never a patient's free text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from painflow_shared.fhir.errors import BusinessRuleViolation, Conflict, FhirError, Issue


class RefusalKind(StrEnum):
    """The OperationOutcome issue type: business-rule is a 422, conflict (a taken slot) a 409."""

    BUSINESS_RULE = "business-rule"
    CONFLICT = "conflict"


class Rule(StrEnum):
    MODALITY = "modality"
    DURATION = "duration"
    SLOT_TAKEN = "slot-taken"
    HOLD = "hold"
    ALLERGY = "allergy"
    REPEAT_LIMIT = "repeat-limit"
    AUTHORIZATION = "authorization"


@dataclass(frozen=True)
class Refusal:
    rule: Rule
    reason: str  # exactly why, and for holds from when it is safe (site zone, ISO 8601)
    expression: str  # the element of the booking request the rule is about
    kind: RefusalKind = RefusalKind.BUSINESS_RULE
    safe_from: datetime | None = None  # holds and repeat intervals: the earliest allowed start

    def issue(self) -> Issue:
        return Issue(self.reason, self.kind.value, "error", (self.expression,))


def refusal_error(refusals: Sequence[Refusal]) -> FhirError | None:
    """One error carrying every refusal: a 409 when a slot is taken, else a 422; None if none."""
    if not refusals:
        return None
    taken = any(r.kind is RefusalKind.CONFLICT for r in refusals)
    error_type: type[FhirError] = Conflict if taken else BusinessRuleViolation
    return error_type(refusals[0].reason, issues=[r.issue() for r in refusals])
