"""What scheduling's handlers work with: the unit of work, the policies, the site's zone, the
local FHIR bases (patients are named by the referral service's ids) and the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from painflow_scheduling.domain.policy import SchedulingPolicies
from painflow_shared.fhir.dates import utcnow
from painflow_shared.fhir.search import find_resources
from painflow_shared.unit_of_work import HandlerContext


@dataclass
class SchedulingContext(HandlerContext):
    policies: SchedulingPolicies
    site_zone: ZoneInfo
    local_bases: tuple[str, ...] = ()
    now: Callable[[], datetime] = utcnow
    accept_future_procedures: bool = False  # SchedulingSettings: demos only

    def find(self, resource_type: str, **params: str) -> list[dict[str, Any]]:
        """Search this service's store (``based_on=`` for ``based-on``)."""
        pairs = [(name.replace("_", "-"), value) for name, value in params.items()]
        return find_resources(self.session, self.store.registry, resource_type, pairs)
