"""Turn a Synthea patient bundle into a referral transaction, the way an EHR integration would.

A Synthea bundle holds everything about one person (encounters, claims, observations...).
A referral to the pain program carries only:

- the Patient, trimmed to identifier, name, telecom, address, birthDate and gender;
- the pain-related Conditions (rule below), whatever their clinical status: a resolved
  whiplash still dates the injury the pain follows from (``Condition.onsetDateTime``);
- the active medications: each ``MedicationRequest`` with status ``active`` becomes a
  ``MedicationStatement`` (status active; any other request status would map to completed),
  keeping its RxNorm ``medicationCodeableConcept`` and dosage;
- the AllergyIntolerances, if any;
- a new ServiceRequest: intent order, SNOMED 3457005 "Patient referral", reasonReference =
  the pain Conditions, a requester display, authoredOn = ``today``, and an identifier
  (``SYNTHEA_REFERRAL_SYSTEM``) derived from the patient id and ``today`` so the same
  conversion on the same day names the same referral (a re-send is a duplicate).

**Pain-related rule.** A Condition is kept when one of its SNOMED codes is in
``PAIN_SNOMED_CODES`` or when a coding display or ``code.text`` contains (case-insensitive)
one of ``PAIN_KEYWORDS``. Arthritis of any kind (osteoarthritis, rheumatoid) counts;
injuries without a pain course (laceration, concussion, burns), drug overdose and
diabetic neuropathy do not.

Every entry is POSTed under a ``urn:uuid:`` fullUrl (Synthea's own for the Patient and
Conditions, a uuid5 of the source id for the rest, so the output is deterministic), and
references to resources left out (encounters, practitioners, claims...) are removed so
the transaction is self-contained.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from painflow_shared.testing.factories import SNOMED, transaction

SYNTHEA_REFERRAL_SYSTEM = "urn:painflow:synthea-referral"
REFERRAL_CODE = {
    "coding": [{"system": SNOMED, "code": "3457005", "display": "Patient referral"}],
    "text": "Patient referral",
}
PAIN_SNOMED_CODES = frozenset(
    {
        "82423001",  # Chronic pain
        "124171000119105",  # Chronic intractable migraine without aura
        "39848009",  # Whiplash injury to neck
        "44465007",  # Sprain of ankle
        "33737001",  # Fracture of rib
        "307731004",  # Injury of tendon of the rotator cuff of shoulder
        "201834006",  # Localized, primary osteoarthritis of the hand
        "69896004",  # Rheumatoid arthritis
        "5602001",  # Opioid abuse (disorder)
    }
)
PAIN_KEYWORDS = (
    "pain",
    "migraine",
    "whiplash",
    "sprain",
    "fracture",
    "arthritis",
    "rotator cuff",
    "opioid",
    "radiculopathy",
    "sciatica",
    "neuralgia",
    "spondylosis",
)
PATIENT_FIELDS = ("identifier", "name", "telecom", "address", "birthDate", "gender")
_DROPPED = ("id", "meta", "text")
_NAMESPACE = uuid.UUID("5b0c7b9e-4f1c-4d7e-9a55-2f0d6a1c3e21")

Resource = dict[str, Any]


def referral_from_synthea(patient_bundle: Resource, *, today: date) -> Resource:
    """A referral transaction Bundle for the one person in a Synthea bundle."""
    entries = _entries(patient_bundle)
    patient_url, patient = _the_patient(entries)
    conditions = [
        (url, r) for url, r in entries if r["resourceType"] == "Condition" and is_pain_condition(r)
    ]
    medications = [
        (_derived_urn(f"MedicationRequest/{r['id']}"), medication_statement(r))
        for _, r in entries
        if r["resourceType"] == "MedicationRequest" and r.get("status") == "active"
    ]
    allergies = [
        (url, _clean(r)) for url, r in entries if r["resourceType"] == "AllergyIntolerance"
    ]
    referral = service_request(
        patient, patient_url, conditions, requester=_requester(entries), today=today
    )
    chosen = [
        (patient_url, _trim_patient(patient)),
        *[(u, _clean(r)) for u, r in conditions],
        *medications,
        *allergies,
    ]
    chosen.append((_derived_urn(f"ServiceRequest/{referral['identifier'][0]['value']}"), referral))
    included = {url for url, _ in chosen}
    return transaction([(url, _drop_foreign_references(r, included)) for url, r in chosen])


def is_pain_condition(condition: Resource) -> bool:
    code = condition.get("code") or {}
    codings = code.get("coding") or []
    if any(c.get("system") == SNOMED and c.get("code") in PAIN_SNOMED_CODES for c in codings):
        return True
    texts = [str(c.get("display") or "") for c in codings] + [str(code.get("text") or "")]
    return any(keyword in text.lower() for text in texts for keyword in PAIN_KEYWORDS)


def medication_statement(request: Resource) -> Resource:
    """A MedicationStatement saying what a MedicationRequest ordered (RxNorm concept kept)."""
    statement: Resource = {
        "resourceType": "MedicationStatement",
        "status": "active" if request.get("status") == "active" else "completed",
        "medicationCodeableConcept": request["medicationCodeableConcept"],
        "subject": request["subject"],
    }
    if request.get("authoredOn"):
        statement["effectiveDateTime"] = request["authoredOn"]
    if request.get("reasonReference"):
        statement["reasonReference"] = request["reasonReference"]
    if request.get("dosageInstruction"):
        statement["dosage"] = request["dosageInstruction"]
    return statement


def service_request(
    patient: Resource,
    patient_url: str,
    conditions: list[tuple[str, Resource]],
    *,
    requester: str,
    today: date,
) -> Resource:
    resource: Resource = {
        "resourceType": "ServiceRequest",
        "identifier": [
            {"system": SYNTHEA_REFERRAL_SYSTEM, "value": referral_identifier(patient, today)}
        ],
        "status": "active",
        "intent": "order",
        "code": REFERRAL_CODE,
        "subject": {"reference": patient_url},
        "authoredOn": today.isoformat(),
        "requester": {"display": requester},
    }
    if conditions:
        resource["reasonReference"] = [_reason(url, c) for url, c in conditions]
    return resource


def _reason(url: str, condition: Resource) -> Resource:
    text = (condition.get("code") or {}).get("text")
    return {"reference": url, "display": text} if text else {"reference": url}


def referral_identifier(patient: Resource, today: date) -> str:
    """Stable per patient and day: the Synthea patient id, then the referral date."""
    return f"{patient['id']}-{today.isoformat()}"


def _entries(bundle: Resource) -> list[tuple[str, Resource]]:
    return [
        (str(e.get("fullUrl") or f"urn:uuid:{e['resource']['id']}"), e["resource"])
        for e in bundle.get("entry") or []
        if isinstance(e.get("resource"), dict)
    ]


def _the_patient(entries: list[tuple[str, Resource]]) -> tuple[str, Resource]:
    patients = [(url, r) for url, r in entries if r["resourceType"] == "Patient"]
    if len(patients) != 1:
        raise ValueError(f"a Synthea patient bundle has one Patient, this one has {len(patients)}")
    return patients[0]


def _trim_patient(patient: Resource) -> Resource:
    return {"resourceType": "Patient", **{k: patient[k] for k in PATIENT_FIELDS if k in patient}}


def _requester(entries: list[tuple[str, Resource]]) -> str:
    """The display of the first Practitioner Synthea wrote (the referring clinician)."""
    for _, resource in entries:
        if resource["resourceType"] == "Practitioner" and resource.get("name"):
            name = resource["name"][0]
            parts = [*name.get("prefix", []), *name.get("given", []), name.get("family", "")]
            return " ".join(p for p in parts if p)
    return "Referring clinician (Synthea)"


def _clean(resource: Resource) -> Resource:
    return {k: v for k, v in resource.items() if k not in _DROPPED}


def _derived_urn(source: str) -> str:
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, source)}"


def _drop_foreign_references(node: Any, included: set[str]) -> Any:
    """Remove every Reference (and list item) pointing at a resource not in the transaction."""
    if isinstance(node, list):
        return [_drop_foreign_references(i, included) for i in node if not _is_foreign(i, included)]
    if not isinstance(node, dict):
        return node
    cleaned = {
        k: _drop_foreign_references(v, included)
        for k, v in node.items()
        if not _is_foreign(v, included)
    }
    return {k: v for k, v in cleaned.items() if v != []}


def _is_foreign(value: Any, included: set[str]) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("reference"), str)
        and value["reference"] not in included
    )
