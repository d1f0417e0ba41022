"""The search parameters the referral service indexes (and advertises in /fhir/metadata)."""

from __future__ import annotations

from painflow_referral.bundle_plan import ACCEPTED_TYPES
from painflow_shared.fhir.search_params import SearchParam as P
from painflow_shared.fhir.search_params import SearchParamRegistry

OWNED_TYPES = sorted(ACCEPTED_TYPES | {"Task", "EpisodeOfCare"})


def referral_registry() -> SearchParamRegistry:
    patient_ref = P("patient", "reference", "subject", target="Patient")
    return SearchParamRegistry(
        {
            "Patient": [
                P("identifier", "token", "identifier"),
                P("family", "string", "name.family"),
                P("given", "string", "name.given"),
                P("name", "string", "name"),
                P("birthdate", "date", "birthDate"),
                P("gender", "token", "gender"),
            ],
            "ServiceRequest": [
                patient_ref,
                P("subject", "reference", "subject"),
                P("status", "token", "status"),
                P("priority", "token", "priority"),
                P("authored", "date", "authoredOn"),
                P("identifier", "token", "identifier"),
                P("requester", "reference", "requester"),
                P("code", "token", "code"),
            ],
            "Task": [
                P("focus", "reference", "focus"),
                P("status", "token", "status"),
                P("owner", "reference", "owner"),
                P("patient", "reference", "for", target="Patient"),
                P("business-status", "token", "businessStatus"),
            ],
            "EpisodeOfCare": [
                P("patient", "reference", "patient", target="Patient"),
                P("status", "token", "status"),
            ],
            "Condition": [patient_ref, P("code", "token", "code")],
            "MedicationStatement": [patient_ref, P("status", "token", "status")],
            "AllergyIntolerance": [P("patient", "reference", "patient", target="Patient")],
            "Coverage": [P("beneficiary", "reference", "beneficiary", target="Patient")],
            "DocumentReference": [patient_ref],
            "Practitioner": [P("identifier", "token", "identifier")],
            "PractitionerRole": [P("practitioner", "reference", "practitioner")],
            "Organization": [P("identifier", "token", "identifier")],
        }
    )
