"""What the assessment serves over FHIR: the search parameters it indexes and the interactions
of each type (both advertised in /fhir/metadata, exactly as the routes and api.py serve them)."""

from __future__ import annotations

from painflow_shared.fhir.capability import READS, ResourceCapability
from painflow_shared.fhir.search_params import SearchParam as P
from painflow_shared.fhir.search_params import SearchParamRegistry

# copies of what the referral events carry: read-only here, kept current by those events
RECORD_TYPES = (
    "Patient",
    "Condition",
    "MedicationStatement",
    "AllergyIntolerance",
    "Coverage",
    "EpisodeOfCare",
)


def assessment_registry() -> SearchParamRegistry:
    subject = P("patient", "reference", "subject", target="Patient")
    patient = P("patient", "reference", "patient", target="Patient")
    status = P("status", "token", "status")
    code = P("code", "token", "code")
    return SearchParamRegistry(
        {
            "Questionnaire": [
                P("url", "token", "url"),
                P("name", "string", "name"),
                P("version", "token", "version"),
                status,
            ],
            "QuestionnaireResponse": [
                subject,
                P("questionnaire", "token", "questionnaire"),
                P("identifier", "token", "identifier"),
                status,
            ],
            "Task": [
                P("patient", "reference", "for", target="Patient"),
                status,
                code,
                P("part-of", "reference", "partOf", target="Task"),
                P("focus", "reference", "focus"),
                P("based-on", "reference", "basedOn"),
                P("priority", "token", "priority"),
            ],
            "Observation": [
                subject,
                code,
                P("category", "token", "category"),
                P("derived-from", "reference", "derivedFrom"),
                status,
            ],
            "ServiceRequest": [
                subject,
                status,
                code,
                P("based-on", "reference", "basedOn", target="ServiceRequest"),
                P("intent", "token", "intent"),
            ],
            "ClinicalImpression": [subject, status],
            "CarePlan": [subject, status],
            "Flag": [subject, status, code],
            "Provenance": [P("target", "reference", "target")],
            "Patient": [P("identifier", "token", "identifier")],
            "Condition": [subject, code],
            "MedicationStatement": [subject, status],
            "AllergyIntolerance": [patient],
            "Coverage": [P("beneficiary", "reference", "beneficiary", target="Patient")],
            "EpisodeOfCare": [patient, status],
        }
    )


def capabilities() -> list[ResourceCapability]:
    """Exactly what the read routes and api.py serve."""
    owned = ["Questionnaire", "Observation", "ClinicalImpression", "CarePlan", "Flag"]
    return [
        *(ResourceCapability(t) for t in owned),
        ResourceCapability("QuestionnaireResponse", (*READS, "create"), conditional_create=True),
        ResourceCapability("Task", (*READS, "update", "patch")),
        ResourceCapability("ServiceRequest", (*READS, "create", "update")),
        ResourceCapability("Provenance"),
        *(ResourceCapability(t) for t in RECORD_TYPES),
    ]
