"""What intake and case handling work with: one session, its store, the policy, the event target."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlmodel import Session

from painflow_referral.domain.policy import TriagePolicy
from painflow_referral.events import EventTarget
from painflow_shared.fhir.remote_policy import RemotePolicy
from painflow_shared.fhir.store import ResourceStore


@dataclass
class IntakeContext:
    session: Session
    store: ResourceStore
    policy: TriagePolicy
    events: EventTarget
    today: Callable[[], date] = lambda: datetime.now(UTC).date()
    remote_policy: RemotePolicy = field(default_factory=RemotePolicy)  # absolute references
