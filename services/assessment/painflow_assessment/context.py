"""What the assessment's handlers work with: the unit of work (session, store, recorded events)
and the service's own dependencies (the policies, the FHIR bases that mean "here", the clock)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from painflow_assessment.policies import AssessmentPolicies
from painflow_shared.fhir.dates import fhir_instant
from painflow_shared.fhir.references import local_reference, reference_of, reference_string
from painflow_shared.fhir.search import find_resources
from painflow_shared.unit_of_work import HandlerContext


@dataclass
class AssessmentContext(HandlerContext):
    policies: AssessmentPolicies
    local_bases: tuple[str, ...] = ()  # absolute references under these are local
    now: Callable[[], str] = fhir_instant

    def local(self, reference: str) -> str:
        """An absolute URL to ours or the referral service's resource, as ``Type/id``."""
        return local_reference(reference, self.local_bases)

    def local_of(self, value: Any) -> str | None:
        found = reference_of(value)
        return self.local(found) if found else None

    def find(self, resource_type: str, *params: tuple[str, str]) -> list[dict[str, Any]]:
        return find_resources(self.session, self.store.registry, resource_type, list(params))

    def patient_record(self, patient_id: str, *types: str) -> list[dict[str, Any]]:
        """The copies of the patient's record of these types (as the referral events carry)."""
        ref = reference_string("Patient", patient_id)
        params = {"AllergyIntolerance": "patient", "Coverage": "beneficiary"}
        found: list[dict[str, Any]] = []
        for resource_type in types:
            found += self.find(resource_type, (params.get(resource_type, "patient"), ref))
        return found
