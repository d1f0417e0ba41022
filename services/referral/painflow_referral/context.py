"""What intake and case handling work with: the unit of work (session, store, recorded events)
and the service's own dependencies (the triage policy, the trusted remote bases, today)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from painflow_referral.domain.policy import TriagePolicy
from painflow_shared.fhir.remote_policy import RemotePolicy
from painflow_shared.unit_of_work import HandlerContext


def _today() -> date:
    return datetime.now(UTC).date()


@dataclass
class IntakeContext(HandlerContext):
    policy: TriagePolicy
    today: Callable[[], date] = _today
    remote_policy: RemotePolicy = field(default_factory=RemotePolicy)  # absolute references
