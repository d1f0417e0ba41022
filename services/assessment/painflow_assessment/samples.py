"""Example QuestionnaireResponses for every intake questionnaire (tests and demos): an intake
answered over HTTP is these, in any order."""

from __future__ import annotations

from typing import Any

from painflow_shared.codes import CodeSystem, Laterality, System
from painflow_shared.codes import Questionnaire as Q

PHQ9_ITEMS = (
    "44250-9",
    "44255-8",
    "44259-0",
    "44254-1",
    "44251-7",
    "44258-2",
    "44252-5",
    "44253-3",
    "44260-8",
)
GAD7_ITEMS = ("69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7")
FREQUENCY = ("LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9")  # scored 0..3
PEG_ITEMS = ("75893-8", "91145-3", "91146-1")


def response(url: str, patient_id: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": str(url),
        "status": "completed",
        "subject": {"reference": f"Patient/{patient_id}"},
        "authored": "2026-11-23T10:00:00Z",
        "item": items,
    }


def _answer(link_id: str, **value: Any) -> dict[str, Any]:
    return {"linkId": link_id, "answer": [value]}


def nrs(patient_id: str, score: int = 7) -> dict[str, Any]:
    return response(Q.NRS, patient_id, [_answer("72514-3", valueInteger=score)])


def peg(patient_id: str, scores: tuple[int, int, int] = (7, 6, 5)) -> dict[str, Any]:
    items = [_answer(i, valueInteger=s) for i, s in zip(PEG_ITEMS, scores, strict=True)]
    return response(Q.PEG, patient_id, items)


def _frequency(link_id: str, score: int) -> dict[str, Any]:
    return _answer(link_id, valueCoding={"system": str(System.LOINC), "code": FREQUENCY[score]})


def spread(total: int, items: int) -> list[int]:
    """Item scores 0-3 adding up to ``total``, the last item (PHQ-9 item 9) as low as can be."""
    scores = [min(3, max(0, total - 3 * n)) for n in range(items)]
    return scores


def phq9(patient_id: str, total: int = 6, item9: int = 0) -> dict[str, Any]:
    scores = [*spread(total - item9, 8), item9]
    items = [_frequency(i, s) for i, s in zip(PHQ9_ITEMS, scores, strict=True)]
    return response(Q.PHQ_9, patient_id, items)


def gad7(patient_id: str, total: int = 4) -> dict[str, Any]:
    items = [_frequency(i, s) for i, s in zip(GAD7_ITEMS, spread(total, 7), strict=True)]
    return response(Q.GAD_7, patient_id, items)


def disability(url: str, patient_id: str, scores: list[int | None] | None = None) -> dict[str, Any]:
    """ODI or NDI sections 1..10 (None leaves a section blank)."""
    name = str(url).rsplit("/", 1)[-1]
    system = str(CodeSystem.DISABILITY_SECTION_SCORE)
    items = [
        _answer(f"{name}-{n}", valueCoding={"system": system, "code": str(s)})
        for n, s in enumerate(scores or [2] * 10, start=1)
        if s is not None
    ]
    return response(url, patient_id, items)


def intake_history(
    patient_id: str,
    *,
    region: str = "lumbar",
    side: Laterality = Laterality.RIGHT,
    pain_type: str = "axial",
    pt_weeks: int = 6,
    levels: tuple[str, ...] = ("L4-L5",),
) -> dict[str, Any]:
    items = [
        _answer("pt-weeks", valueInteger=pt_weeks),
        _answer("pain-region", valueCoding={"system": str(CodeSystem.BODY_REGION), "code": region}),
        _answer("pain-side", valueCoding={"system": str(System.SNOMED), "code": side.value}),
        _answer("pain-type", valueCoding={"system": str(CodeSystem.PAIN_TYPE), "code": pain_type}),
        _answer("prior-spine-surgery", valueBoolean=False),
    ]
    if levels:
        clinician = [{"linkId": "spinal-levels", "answer": [{"valueString": lv} for lv in levels]}]
        items.append({"linkId": "clinician", "item": clinician})
    return response(Q.INTAKE_HISTORY, patient_id, items)


def medications(patient_id: str) -> dict[str, Any]:
    items = [
        _answer("opioid-last-3-months", valueBoolean=True),
        _answer("blood-thinner", valueBoolean=False),
    ]
    return response(Q.MEDICATIONS, patient_id, items)


def intake(patient_id: str, *, phq9_total: int = 6, item9: int = 0) -> list[dict[str, Any]]:
    """A lumbar facet-pain patient's whole intake: a procedure candidate unless PHQ-9 says not."""
    return [
        nrs(patient_id),
        peg(patient_id),
        phq9(patient_id, phq9_total, item9),
        gad7(patient_id),
        disability(Q.ODI, patient_id),
        intake_history(patient_id),
        medications(patient_id),
    ]
