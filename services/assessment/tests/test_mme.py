"""Morphine milligram equivalents per day with the CDC 2022 factors, never guessing a dose."""

from __future__ import annotations

from typing import Any

import pytest
from fhir.resources.R4B.observation import Observation

from painflow_assessment.domain.mme import MmeResult, compute_mme, mme_observation
from painflow_assessment.policies import AssessmentPolicies

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"


def statement(
    sid: str,
    code: str,
    *,
    dose: tuple[float, str] | None = None,
    every: tuple[float, float, str] | None = (1, 1, "d"),
    as_needed: bool = False,
    max_per: tuple[float, str, float, str] | None = None,
    rate: float | None = None,
    status: str = "active",
    text: str | None = None,
) -> dict[str, Any]:
    dose_and_rate: dict[str, Any] = {}
    if dose:
        dose_and_rate["doseQuantity"] = {"value": dose[0], "unit": dose[1]}
    if rate is not None:
        dose_and_rate["rateQuantity"] = {
            "value": rate,
            "unit": "mcg/h",
            "system": UCUM,
            "code": "ug/h",
        }
    dosage: dict[str, Any] = {"text": "free text the patient wrote"}
    if dose_and_rate:
        dosage["doseAndRate"] = [dose_and_rate]
    if every:
        frequency, period, unit = every
        dosage["timing"] = {
            "repeat": {"frequency": frequency, "period": period, "periodUnit": unit}
        }
    if as_needed:
        dosage["asNeededBoolean"] = True
    if max_per:
        dosage["maxDosePerPeriod"] = {
            "numerator": {"value": max_per[0], "unit": max_per[1]},
            "denominator": {
                "value": max_per[2],
                "unit": max_per[3],
                "system": UCUM,
                "code": max_per[3],
            },
        }
    concept: dict[str, Any] = {"coding": [{"system": RXNORM, "code": code}]}
    if text:
        concept["text"] = text
    return {
        "resourceType": "MedicationStatement",
        "id": sid,
        "status": status,
        "medicationCodeableConcept": concept,
        "subject": {"reference": "Patient/p1"},
        "dosage": [dosage],
    }


def mme(policies: AssessmentPolicies, *statements: dict[str, Any]) -> MmeResult:
    return compute_mme(list(statements), policies.mme)


@pytest.mark.parametrize(
    ("ingredient", "factor"),
    [
        ("2670", 0.15),
        ("5489", 1.0),
        ("3423", 5.0),
        ("6813", 4.7),
        ("7052", 1.0),
        ("7804", 1.5),
        ("7814", 3.0),
        ("787390", 0.4),
        ("10689", 0.2),
    ],
)
def test_every_oral_opioid_in_the_table(policies, ingredient: str, factor: float) -> None:
    # 10 mg every 6 hours = 40 mg/day
    result = mme(policies, statement("s1", ingredient, dose=(10, "mg"), every=(1, 6, "h")))

    assert result.total == round(40 * factor, 1)
    assert [(c.ingredient, c.daily_amount, c.factor) for c in result.components] == [
        (ingredient, 40, factor)
    ]
    assert result.unreadable == ()


def test_a_fentanyl_patch_by_rate(policies) -> None:
    result = mme(policies, statement("s1", "4337", rate=25, every=(1, 72, "h")))

    assert result.total == 60  # 25 mcg/h x 2.4
    assert result.components[0].amount_unit == "mcg/h"


def test_a_fentanyl_patch_product_by_count(policies) -> None:
    result = mme(policies, statement("s1", "245135", dose=(1, "patch"), every=(1, 3, "d")))

    assert result.total == 120  # 50 mcg/h x 2.4


def test_fentanyl_in_mg_is_not_guessed(policies) -> None:
    result = mme(policies, statement("s1", "4337", dose=(0.2, "mg")))

    assert (result.total, result.unreadable) == (0, ("s1",))


def test_two_drugs_add_up(policies) -> None:
    result = mme(
        policies,
        statement("s1", "7804", dose=(10, "mg"), every=(2, 1, "d")),  # 20 mg x 1.5 = 30
        statement("s2", "10689", dose=(50, "mg"), every=(1, 8, "h")),  # 150 mg x 0.2 = 30
    )

    assert result.total == 60
    assert [c.name for c in result.components] == ["oxycodone", "tramadol"]
    assert [t.at for t in result.flags] == [50]


def test_the_same_drug_twice_is_one_component(policies) -> None:
    result = mme(
        policies,
        statement("s1", "7052", dose=(30, "mg"), every=(2, 1, "d")),
        statement(
            "s2", "892582", dose=(1, "tablet"), as_needed=True, max_per=(2, "tablet", 1, "d")
        ),
    )

    assert [(c.daily_amount, c.statements) for c in result.components] == [(90, ("s1", "s2"))]


def test_an_as_needed_dose_counts_at_its_maximum(policies) -> None:
    # the contract example: oxycodone/APAP 5 mg, 1 tablet q8h as needed, at most 3 a day
    result = mme(
        policies,
        statement(
            "s1",
            "1049221",
            dose=(1, "tablet"),
            every=(1, 8, "h"),
            as_needed=True,
            max_per=(3, "tablet", 1, "d"),
        ),
    )

    assert result.total == 22.5


def test_an_as_needed_dose_without_a_maximum_counts_its_timing(policies) -> None:
    result = mme(
        policies, statement("s1", "7804", dose=(5, "mg"), every=(1, 4, "h"), as_needed=True)
    )

    assert result.total == 45  # 6 doses x 5 mg x 1.5


def test_tablets_of_a_product_code_use_the_strength_table(policies) -> None:
    result = mme(policies, statement("s1", "1049621", dose=(2, "{tbl}"), every=(1, 6, "h")))

    assert result.total == 60  # 8 tablets x 5 mg x 1.5
    assert result.components[0].ingredient == "7804"


def test_weekly_periods_are_read(policies) -> None:
    result = mme(policies, statement("s1", "7052", dose=(70, "mg"), every=(1, 1, "wk")))

    assert result.total == 10


@pytest.mark.parametrize(
    "unreadable",
    [
        statement("s9", "7804", dose=(5, "mg"), every=None),  # no timing
        statement("s9", "7804", dose=None),  # no dose
        statement("s9", "7804", dose=(1, "tablet")),  # tablets of an ingredient: strength unknown
        statement("s9", "7804", dose=(5, "mg"), every=(1, 1, "mo")),  # a period we do not read
        statement(
            "s9", "1111111", dose=(5, "mg"), text="OxyCODONE 5 mg capsule"
        ),  # unknown product
    ],
    ids=["no-timing", "no-dose", "tablets-without-strength", "monthly", "unknown-product"],
)
def test_an_unreadable_dose_is_listed_and_makes_the_total_a_lower_bound(
    policies, unreadable
) -> None:
    result = mme(policies, statement("s1", "7052", dose=(10, "mg"), every=(3, 1, "d")), unreadable)

    assert (result.total, result.unreadable, result.lower_bound) == (30, ("s9",), True)


def test_other_medicines_and_stopped_statements_do_not_count(policies) -> None:
    naproxen = statement("s1", "849574", dose=(220, "mg"), every=(2, 1, "d"), text="Naproxen")
    stopped = statement("s2", "7804", dose=(30, "mg"), every=(4, 1, "d"), status="stopped")

    result = mme(policies, naproxen, stopped)

    assert (result.total, result.components, result.unreadable) == (0, (), ())


@pytest.mark.parametrize(("mg", "flags"), [(49, []), (50, [50]), (89, [50]), (90, [50, 90])])
def test_flags_at_50_and_90(policies, mg: int, flags: list[int]) -> None:
    result = mme(policies, statement("s1", "7052", dose=(mg, "mg")))

    assert [t.at for t in result.flags] == flags


def test_the_observation_names_drugs_flags_and_unreadable_statements(policies) -> None:
    result = mme(
        policies,
        statement("s1", "7804", dose=(20, "mg"), every=(3, 1, "d")),  # 60 mg x 1.5 = 90
        statement("s2", "7052", dose=None),
    )

    built = mme_observation(
        result,
        policies.mme,
        observation_id="o1",
        patient="Patient/p1",
        effective="2026-09-22T16:10:00Z",
    )

    Observation.model_validate(built)
    assert built["code"]["coding"][0]["system"] == "https://painflow.dev/fhir/CodeSystem/assessment"
    assert built["code"]["coding"][0]["code"] == "mme-per-day"
    assert built["valueQuantity"] == {
        "value": 90,
        "unit": "MME/day",
        "system": UCUM,
        "code": "{MME}/d",
    }
    assert built["component"][0]["code"]["coding"][0]["code"] == "7804"
    assert built["component"][0]["valueQuantity"]["value"] == 90
    assert [i["coding"][0]["code"] for i in built["interpretation"]] == ["H", "HU"]
    assert "MedicationStatement/s2" in built["note"][-1]["text"]
    assert "lower bound" in built["note"][-1]["text"]
    assert "free text" not in str(built)
    assert built["derivedFrom"] == [
        {"reference": "MedicationStatement/s1"},
        {"reference": "MedicationStatement/s2"},
    ]


def test_no_opioid_gives_zero_without_components(policies) -> None:
    built = mme_observation(
        mme(policies),
        policies.mme,
        observation_id="o1",
        patient="Patient/p1",
        effective="2026-09-22T16:10:00Z",
    )

    assert built["valueQuantity"]["value"] == 0
    assert "component" not in built and "interpretation" not in built
