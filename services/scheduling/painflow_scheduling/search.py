"""What scheduling indexes and serves: the search parameters issue 10 names, plus the few its
handlers look records up by. Search dates without a time are read in the site's zone."""

from __future__ import annotations

from painflow_shared.fhir.search_params import SearchParam, SearchParamRegistry


def _patient(path: str) -> SearchParam:
    return SearchParam("patient", "reference", path, target="Patient")


def scheduling_registry(site_zone: str) -> SearchParamRegistry:
    status = SearchParam("status", "token", "status")
    return SearchParamRegistry(
        {
            "Schedule": [
                SearchParam("actor", "reference", "actor"),
                SearchParam("service-type", "token", "serviceType"),
            ],
            "Slot": [
                SearchParam("schedule", "reference", "schedule", target="Schedule"),
                SearchParam("start", "date", "start", zone=site_zone),
                status,
                SearchParam("service-type", "token", "serviceType"),
            ],
            "Appointment": [
                _patient("participant.actor"),
                SearchParam("date", "date", "start", zone=site_zone),
                status,
                SearchParam("actor", "reference", "participant.actor"),
                SearchParam("based-on", "reference", "basedOn", target="ServiceRequest"),
                SearchParam("identifier", "token", "identifier"),
                SearchParam("slot", "reference", "slot", target="Slot"),
            ],
            "Task": [
                _patient("for"),
                SearchParam("focus", "reference", "focus"),
                SearchParam("code", "token", "code"),
                status,
                SearchParam("based-on", "reference", "basedOn"),
            ],
            "ServiceRequest": [_patient("subject"), status],
            "Procedure": [
                _patient("subject"),
                SearchParam("based-on", "reference", "basedOn", target="ServiceRequest"),
            ],
            "Observation": [
                _patient("subject"),
                SearchParam("part-of", "reference", "partOf", target="Procedure"),
                SearchParam("code", "token", "code"),
            ],
            "MedicationAdministration": [
                _patient("subject"),
                SearchParam("part-of", "reference", "partOf", target="Procedure"),
            ],
            "Condition": [_patient("subject")],
            "Provenance": [SearchParam("target", "reference", "target")],
            "MedicationStatement": [_patient("subject")],
            "AllergyIntolerance": [_patient("patient")],
            "Coverage": [SearchParam("beneficiary", "reference", "beneficiary", target="Patient")],
        }
    )
