"""What the people of the whole journey type in (journey.py drives it over HTTP): the EHR's
referral of an acute facet-pain patient, the patient's intake answers, the proceduralist's
record of a procedure and the patient's outcome answers. FHIR JSON only, built from
``painflow_shared.codes``: no service package is imported here.

The answers lead to a procedure: PHQ-9 and GAD-7 low, six weeks of physical therapy, lumbar
axial pain on the left, an intake NRS of 7 and an ODI of 40% (every section 2 of 5).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from painflow_shared.codes import CodeSystem, Laterality, System
from painflow_shared.codes import Questionnaire as Q
from painflow_shared.fhir.dates import fhir_instant
from painflow_shared.testing.factories import SNOMED, condition, patient, service_request, urn

Resource = dict[str, Any]
FACET_PAIN = ("M47.816", "Spondylosis without myelopathy or radiculopathy, lumbar region")
INTAKE_NRS = 7
PHQ9_ITEMS = (
    *("44250-9", "44255-8", "44259-0", "44254-1", "44251-7"),
    *("44258-2", "44252-5", "44253-3", "44260-8"),
)
GAD7_ITEMS = ("69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7")
FREQUENCY = ("LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9")  # "not at all" .. "nearly every day"
PEG_ITEMS = ("75893-8", "91145-3", "91146-1")


def referral_transaction(onset: date, authored: datetime) -> Resource:
    """The EHR's transaction: the Patient, the injury (lumbar facet pain, left) and the referral."""
    p_url, c_url, s_url = urn(), urn(), urn()
    injury = condition(p_url, code=FACET_PAIN[0], display=FACET_PAIN[1], onset=onset)
    injury["bodySite"] = [
        {"coding": [{"system": str(System.SNOMED), "code": "7771000", "display": "Left"}]}
    ]
    request = service_request(p_url, c_url)
    request["authoredOn"] = fhir_instant(authored)
    request["code"] = {
        "coding": [{"system": SNOMED, "code": "3457005", "display": "Patient referral"}],
        "text": "Interventional pain program: lumbar facet pain after an injury",
    }
    entries = [(p_url, patient(mrn=uuid.uuid4().hex[:12])), (c_url, injury), (s_url, request)]
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": u, "resource": r, "request": {"method": "POST", "url": r["resourceType"]}}
            for u, r in entries
        ],
    }


def _response(url: str, patient_id: str, items: list[Resource], authored: datetime) -> Resource:
    return {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": url,
        "status": "completed",
        "subject": {"reference": f"Patient/{patient_id}"},
        "authored": fhir_instant(authored),
        "item": items,
    }


def _answer(link_id: str, **value: Any) -> Resource:
    return {"linkId": link_id, "answer": [value]}


def _frequency(link_id: str, score: int) -> Resource:
    return _answer(link_id, valueCoding={"system": str(System.LOINC), "code": FREQUENCY[score]})


def _intake_items(canonical: str) -> list[Resource]:
    """The patient's answers to one intake questionnaire, by its canonical URL."""
    if canonical == Q.NRS:
        return [_answer("72514-3", valueInteger=INTAKE_NRS)]
    if canonical == Q.PEG:
        return [_answer(i, valueInteger=s) for i, s in zip(PEG_ITEMS, (7, 6, 5), strict=True)]
    if canonical == Q.PHQ_9:  # total 3: minimal; item 9 (self-harm) 0
        return [_frequency(i, 1 if n < 3 else 0) for n, i in enumerate(PHQ9_ITEMS)]
    if canonical == Q.GAD_7:  # total 2: minimal
        return [_frequency(i, 1 if n < 2 else 0) for n, i in enumerate(GAD7_ITEMS)]
    if canonical in (Q.ODI, Q.NDI):
        name, system = canonical.rsplit("/", 1)[-1], str(CodeSystem.DISABILITY_SECTION_SCORE)
        return [
            _answer(f"{name}-{n}", valueCoding={"system": system, "code": "2"})
            for n in range(1, 11)
        ]
    if canonical == Q.INTAKE_HISTORY:
        return _history_items()
    if canonical == Q.MEDICATIONS:
        return [
            _answer("opioid-last-3-months", valueBoolean=False),
            _answer("blood-thinner", valueBoolean=False),
        ]
    raise ValueError(f"the journey has no answers for {canonical}")


def _history_items() -> list[Resource]:
    region = {"system": str(CodeSystem.BODY_REGION), "code": "lumbar"}
    side = {"system": str(System.SNOMED), "code": str(Laterality.LEFT)}
    clinician = [{"linkId": "spinal-levels", "answer": [{"valueString": "L4-L5"}]}]
    return [
        _answer("pt-weeks", valueInteger=6),
        _answer("pain-region", valueCoding=region),
        _answer("pain-side", valueCoding=side),
        _answer("pain-type", valueCoding={"system": str(CodeSystem.PAIN_TYPE), "code": "axial"}),
        _answer("prior-spine-surgery", valueBoolean=False),
        {"linkId": "clinician", "item": clinician},
    ]


def intake_response(canonical: str, patient_id: str, authored: datetime) -> Resource:
    return _response(canonical, patient_id, _intake_items(canonical), authored)


def procedure_record(
    order: Resource, start: datetime, end: datetime, pre_nrs: int = INTAKE_NRS
) -> Resource:
    """What the proceduralist records: the order's code and site, the pre-procedure NRS."""
    nrs = {
        "resourceType": "Observation",
        "id": "pre-nrs",
        "status": "final",
        "code": {"coding": [{"system": str(System.LOINC), "code": "72514-3"}]},
        "subject": order["subject"],
        "effectiveDateTime": fhir_instant(start),
        "valueInteger": pre_nrs,
    }
    return {
        "resourceType": "Procedure",
        "status": "completed",
        "basedOn": [{"reference": f"ServiceRequest/{order['id']}"}],
        "subject": order["subject"],
        "code": order["code"],
        "bodySite": order.get("bodySite") or [],
        "performer": [{"actor": {"reference": "Practitioner/dr-okafor"}}],
        "performedPeriod": {"start": fhir_instant(start), "end": fhir_instant(end)},
        "contained": [nrs],
    }


def relief_observation(
    patient_id: str, procedure_id: str, percent: float, at: datetime
) -> Resource:
    """The patient's percent relief during the block, as the nurse records it."""
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": str(CodeSystem.OUTCOME), "code": "percent-relief"}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "partOf": [{"reference": f"Procedure/{procedure_id}"}],
        "effectiveDateTime": fhir_instant(at),
        "valueQuantity": {"value": percent, "unit": "%", "system": str(System.UCUM), "code": "%"},
    }


def outcome_response(
    patient_id: str, procedure_id: str, at: datetime, *, nrs: int, relief: float, odi: int | None
) -> Resource:
    """The outcome questionnaire: NRS now, percent relief, PGIC and, later, the ODI by section."""
    items = [
        _answer("nrs-now", valueInteger=nrs),
        _answer("percent-relief", valueDecimal=relief),
        _answer("pgic", valueInteger=6),
    ]
    if odi is not None:
        sections = [_answer(f"odi-{n}", valueInteger=odi) for n in range(1, 11)]
        items.append({"linkId": "odi", "item": sections})
    response = _response(Q.OUTCOME, patient_id, items, at)
    response["partOf"] = [{"reference": f"Procedure/{procedure_id}"}]
    return response
