"""Morphine milligram equivalents per day from the patient's opioid MedicationStatements.

Daily dose = ``dosage[0].doseAndRate[0].doseQuantity`` (mg, or tablets/patches via the product
strength table) x ``timing.repeat`` frequency per period, or ``rateQuantity`` (mcg/h) for
transdermal fentanyl; an as-needed dose counts at ``maxDosePerPeriod``. MME/day = daily dose x the
CDC 2022 factor. A statement whose dose cannot be read is never guessed: it is listed by id and
makes the total a lower bound.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from painflow_assessment.domain.elements import INTERPRETATION, number, reference, ucum_quantity
from painflow_assessment.domain.policy import MmePolicy, MmeThreshold, Opioid, Product
from painflow_shared.codes import AssessmentCode, System, coding

MME_UNIT, MME_UNIT_DISPLAY = "{MME}/d", "MME/day"
_MG = frozenset({"mg"})
_MCG_PER_HOUR = frozenset({"ug/h", "mcg/h", "mcg/hr", "µg/h"})
_COUNTS = {
    "tablet": frozenset({"tablet", "tablets", "tab", "{tbl}", "{tablet}", "{tablets}"}),
    "patch": frozenset({"patch", "patches", "{patch}", "{patches}"}),
}
_DAYS_PER = {"h": 1 / 24, "d": 1.0, "wk": 7.0}


@dataclass(frozen=True)
class MmeComponent:
    ingredient: str  # RxNorm ingredient code
    name: str
    daily_amount: float  # in ``amount_unit``
    amount_unit: str  # mg/day, or mcg/h for transdermal fentanyl
    factor: float
    mme_per_day: float
    statements: tuple[str, ...]  # MedicationStatement ids


@dataclass(frozen=True)
class MmeResult:
    components: tuple[MmeComponent, ...]
    total: float
    flags: tuple[MmeThreshold, ...]
    unreadable: tuple[str, ...]  # MedicationStatement ids whose dose could not be read

    @property
    def lower_bound(self) -> bool:
        return bool(self.unreadable)


def compute_mme(statements: Sequence[Mapping[str, Any]], policy: MmePolicy) -> MmeResult:
    """MME/day over every counted opioid statement, one component per drug."""
    amounts: dict[str, tuple[float, tuple[str, ...]]] = {}
    unreadable: list[str] = []
    for statement in statements:
        if statement.get("status") not in policy.counted_statuses:
            continue
        found = identify_opioid(statement, policy)
        if found is None:
            continue
        opioid, product = found
        daily = daily_amount(statement, opioid, product) if opioid else None
        if opioid is None or daily is None:
            unreadable.append(str(statement.get("id")))
            continue
        total, ids = amounts.get(opioid.rxnorm, (0.0, ()))
        amounts[opioid.rxnorm] = (total + daily, (*ids, str(statement.get("id"))))
    components = tuple(_component(policy.opioids[code], *amounts[code]) for code in amounts)
    total = round(sum(c.mme_per_day for c in components), 1)
    flags = tuple(t for t in policy.thresholds if total >= t.at)
    return MmeResult(components, total, flags, tuple(unreadable))


def _component(opioid: Opioid, daily: float, ids: tuple[str, ...]) -> MmeComponent:
    unit = "mcg/h" if opioid.dose_unit == "mcg/h" else "mg/day"
    mme = round(daily * opioid.factor, 1)
    return MmeComponent(opioid.rxnorm, opioid.name, daily, unit, opioid.factor, mme, ids)


def identify_opioid(
    statement: Mapping[str, Any], policy: MmePolicy
) -> tuple[Opioid | None, Product | None] | None:
    """(opioid, product) for a statement coding an opioid; (None, None) when it only names one
    (in text or an unknown product's display); None when it is not an opioid."""
    concept = statement.get("medicationCodeableConcept") or {}
    codings = [c for c in concept.get("coding") or [] if c.get("system") == System.RXNORM]
    for entry in codings:
        product = policy.products.get(str(entry.get("code")))
        if product:
            return policy.opioids[product.ingredient], product
        if str(entry.get("code")) in policy.opioids:
            return policy.opioids[str(entry.get("code"))], None
    words = " ".join(
        [str(concept.get("text") or "")] + [str(c.get("display") or "") for c in codings]
    )
    if any(o.name in words.lower() for o in policy.opioids.values()):
        return None, None
    return None


def daily_amount(
    statement: Mapping[str, Any], opioid: Opioid, product: Product | None
) -> float | None:
    """The daily amount in the opioid's dose unit (mg/day, or mcg/h), or None if unreadable."""
    dosages = statement.get("dosage") or [{}]
    dosage = dosages[0] if isinstance(dosages[0], dict) else {}
    dose_and_rate = (dosage.get("doseAndRate") or [{}])[0]
    if opioid.dose_unit == "mcg/h":
        return _fentanyl_rate(dose_and_rate, product)
    dose = _amount(dose_and_rate.get("doseQuantity"), product)
    if _as_needed(dosage) and dosage.get("maxDosePerPeriod"):
        return _max_per_day(dosage["maxDosePerPeriod"], product)
    per_day = _doses_per_day(dosage.get("timing"))
    return dose * per_day if dose is not None and per_day is not None else None


def _fentanyl_rate(dose_and_rate: Mapping[str, Any], product: Product | None) -> float | None:
    rate = dose_and_rate.get("rateQuantity") or {}
    if _unit(rate) in _MCG_PER_HOUR and _positive(rate.get("value")):
        return float(rate["value"])
    patches = dose_and_rate.get("doseQuantity") or {}
    if product and product.form == "patch" and _unit(patches) in _COUNTS["patch"]:
        return (
            float(patches["value"]) * product.strength if _positive(patches.get("value")) else None
        )
    return None


def _amount(quantity: Mapping[str, Any] | None, product: Product | None) -> float | None:
    """A dose in mg: given in mg, or a count of tablets of a product in the strength table."""
    if not quantity or not _positive(quantity.get("value")):
        return None
    if _unit(quantity) in _MG:
        return float(quantity["value"])
    if product and product.unit == "mg" and _unit(quantity) in _COUNTS.get(product.form, ()):
        return float(quantity["value"]) * product.strength
    return None


def _max_per_day(ratio: Mapping[str, Any], product: Product | None) -> float | None:
    amount = _amount(ratio.get("numerator"), product)
    per = ratio.get("denominator") or {}
    days = _DAYS_PER.get(_unit(per) or "")
    if amount is None or days is None or not _positive(per.get("value")):
        return None
    return amount / (float(per["value"]) * days)


def _doses_per_day(timing: Mapping[str, Any] | None) -> float | None:
    repeat = (timing or {}).get("repeat") or {}
    frequency, period = repeat.get("frequency", 1), repeat.get("period")
    days = _DAYS_PER.get(str(repeat.get("periodUnit")))
    if days is None or not _positive(period) or not _positive(frequency):
        return None
    return float(frequency) / (float(period or 0) * days)


def _as_needed(dosage: Mapping[str, Any]) -> bool:
    return dosage.get("asNeededBoolean") is True or bool(dosage.get("asNeededCodeableConcept"))


def _unit(quantity: Mapping[str, Any]) -> str | None:
    unit = quantity.get("code") or quantity.get("unit")
    if str(unit).upper() == "TAB":  # v3 orderableDrugForm's tablet
        return "tablet"
    return str(unit).strip().lower() if unit else None


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def mme_observation(
    result: MmeResult, policy: MmePolicy, *, observation_id: str, patient: str, effective: str
) -> dict[str, Any]:
    """The opioid-load Observation: ``assessment#mme-per-day`` in ``{MME}/d``, one component per
    drug, the thresholds reached in ``interpretation``, and a ``note`` naming any unreadable
    statement and saying the total is then a lower bound."""
    observation: dict[str, Any] = {
        "resourceType": "Observation",
        "id": observation_id,
        "status": "final",
        "code": {
            "coding": [coding(AssessmentCode.MME_PER_DAY, "Morphine milligram equivalents per day")]
        },
        "subject": reference(patient),
        "effectiveDateTime": effective,
        "method": {"text": f"CDC 2022 MME conversion factors ({policy.name} {policy.version})"},
        "valueQuantity": ucum_quantity(number(result.total), MME_UNIT, MME_UNIT_DISPLAY),
        "note": [{"text": text} for text in mme_notes(result)],
    }
    if result.components:
        observation["component"] = [_component_json(c) for c in result.components]
    if result.flags:
        observation["interpretation"] = [_flag_json(flag) for flag in result.flags]
    ids = [i for c in result.components for i in c.statements] + list(result.unreadable)
    if ids:
        observation["derivedFrom"] = [reference(f"MedicationStatement/{i}") for i in ids]
    return observation


def mme_notes(result: MmeResult) -> list[str]:
    notes = [
        f"{c.name}: {number(round(c.daily_amount, 2))} {c.amount_unit} x {c.factor:g} "
        f"(CDC 2022) = {number(c.mme_per_day)} MME/day."
        for c in result.components
    ]
    if not result.components and not result.unreadable:
        notes.append("No opioid MedicationStatement: 0 MME/day.")
    if result.unreadable:
        names = ", ".join(f"MedicationStatement/{i}" for i in result.unreadable)
        notes.append(
            f"The dose of {names} could not be read and is not counted: "
            f"the total of {number(result.total)} MME/day is a lower bound."
        )
    return notes


def _component_json(component: MmeComponent) -> dict[str, Any]:
    drug = {"system": str(System.RXNORM), "code": component.ingredient, "display": component.name}
    value = ucum_quantity(number(component.mme_per_day), MME_UNIT, MME_UNIT_DISPLAY)
    return {"code": {"coding": [drug]}, "valueQuantity": value}


def _flag_json(flag: MmeThreshold) -> dict[str, Any]:
    return {"coding": [{"system": INTERPRETATION, "code": flag.code}], "text": flag.text}
