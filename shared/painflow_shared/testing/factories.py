"""Valid FHIR referral content for tests: built here, checked by the same parser as production."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from painflow_shared.fhir.dates import fhir_instant, utcnow

ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
EHR_PATIENT_SYSTEM = "urn:oid:2.16.840.1.113883.3.9999.1"
EHR_REFERRAL_SYSTEM = "urn:oid:2.16.840.1.113883.3.9999.2"


def urn() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def patient(*, mrn: str | None = None, with_contact: bool = True) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [{"system": EHR_PATIENT_SYSTEM, "value": mrn or uuid.uuid4().hex[:12]}],
        "name": [{"family": "Testpatient", "given": ["Alex"]}],
        "gender": "female",
        "birthDate": "1971-04-12",
    }
    if with_contact:
        resource["telecom"] = [{"system": "phone", "value": "555-0100", "use": "mobile"}]
    return resource


def condition(
    patient_ref: str,
    *,
    code: str = "M54.16",
    display: str = "Radiculopathy, lumbar region",
    onset: date | None = None,
    system: str = ICD10,
) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "active",
                }
            ]
        },
        "code": {"coding": [{"system": system, "code": code, "display": display}]},
        "subject": {"reference": patient_ref},
        "onsetDateTime": (onset or date.today() - timedelta(weeks=30)).isoformat(),
    }


def service_request(
    patient_ref: str,
    condition_ref: str | None,
    *,
    identifier: str | None = None,
    priority: str = "routine",
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "identifier": [{"system": EHR_REFERRAL_SYSTEM, "value": identifier or uuid.uuid4().hex}],
        "status": "active",
        "intent": "order",
        "priority": priority,
        "code": {"coding": [{"system": SNOMED, "code": "3457005", "display": "Patient referral"}]},
        "subject": {"reference": patient_ref},
        "authoredOn": fhir_instant(utcnow().replace(microsecond=0)),
        "requester": {"display": "Dr. Referring Physician"},
    }
    if condition_ref:
        resource["reasonReference"] = [{"reference": condition_ref}]
    return resource


def referral_bundle(
    *,
    mrn: str | None = None,
    identifier: str | None = None,
    condition_code: str = "M54.16",
    onset: date | None = None,
    with_contact: bool = True,
    extra: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A transaction Bundle as an EHR sends it: Patient, Condition (the injury), ServiceRequest."""
    p_url, c_url, s_url = urn(), urn(), urn()
    resources = [
        (p_url, patient(mrn=mrn, with_contact=with_contact)),
        (c_url, condition(p_url, code=condition_code, onset=onset)),
        (s_url, service_request(p_url, c_url, identifier=identifier)),
    ]
    resources += [(urn(), _with_subject(r, p_url)) for r in extra or []]
    return transaction([(url, r) for url, r in resources])


def transaction(entries: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": url, "resource": r, "request": {"method": "POST", "url": r["resourceType"]}}
            for url, r in entries
        ],
    }


def _with_subject(resource: dict[str, Any], patient_ref: str) -> dict[str, Any]:
    key = {"Coverage": "beneficiary", "AllergyIntolerance": "patient"}.get(
        resource["resourceType"], "subject"
    )
    return {**resource, key: {"reference": patient_ref}}


def response_location(response_bundle: dict[str, Any], resource_type: str) -> str:
    """The ``Type/id`` a transaction-response gives for the first entry of that type."""
    for entry in response_bundle["entry"]:
        location = entry["response"]["location"]
        if location.startswith(f"{resource_type}/"):
            return "/".join(location.split("/")[:2])
    raise AssertionError(f"no {resource_type} in the transaction response")
