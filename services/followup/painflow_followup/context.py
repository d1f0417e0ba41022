"""What every follow-up handler works with: the unit of work, the policies, the settings and
the clock, plus the few look-ups they share (references, the Patient, copies of others' data)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from painflow_followup.policies import FollowupPolicies
from painflow_followup.settings import FollowupSettings
from painflow_followup.tables import ResourceCopy
from painflow_shared.events.envelope import Envelope
from painflow_shared.fhir.dates import utcnow
from painflow_shared.fhir.references import local_reference, reference_string
from painflow_shared.unit_of_work import HandlerContext

Resource = dict[str, Any]
ASSESSMENT_SOURCE = "/painflow/assessment"  # ce_source of the assessment service's events
_TYPE_AND_ID = re.compile(r"(?:^|/)(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})$")


@dataclass
class FollowupContext(HandlerContext):
    policies: FollowupPolicies
    settings: FollowupSettings
    clock: Callable[[], datetime] = utcnow

    def now(self) -> datetime:
        return self.clock()

    def local(self, reference: str) -> str:
        """An absolute reference to the referral service (or us) as ``Type/id``."""
        return local_reference(reference, self.settings.local_bases())

    def patient(self, patient_id: str) -> Resource:
        """The Patient as the events carried it (each event we publish carries exactly one)."""
        copy = self.session.get(ResourceCopy, ("Patient", patient_id))
        return dict(copy.content) if copy else {"resourceType": "Patient", "id": patient_id}

    def order_reference(self, order_id: str) -> str:
        """The procedure order at the assessment service: its URL as an assessment event gave
        it, else under the configured assessment base."""
        copy = self.session.get(ResourceCopy, ("ServiceRequest", order_id))
        if copy is not None and copy.source == ASSESSMENT_SOURCE:
            return copy.full_url
        base = self.settings.assessment_base_url.rstrip("/")
        return f"{base}/{reference_string('ServiceRequest', order_id)}"


def aware(moment: datetime) -> datetime:
    """A stored time as an aware UTC datetime (SQLite hands back naive UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def type_and_id(reference: str | None) -> tuple[str, str] | None:
    """``("Procedure", "1")`` for ``Procedure/1`` or ``http://host/fhir/Procedure/1``."""
    match = _TYPE_AND_ID.search(reference or "")
    return (match["type"], match["id"]) if match else None


def id_of(reference: str | None, resource_type: str) -> str | None:
    found = type_and_id(reference)
    return found[1] if found and found[0] == resource_type else None


def full_url_in(event: Envelope, resource: Resource) -> str:
    """The entry's fullUrl: where the publishing service serves this resource."""
    for entry in event.bundle.get("entry") or []:
        if entry.get("resource") is resource and isinstance(entry.get("fullUrl"), str):
            return str(entry["fullUrl"])
    return reference_string(resource["resourceType"], resource["id"])
