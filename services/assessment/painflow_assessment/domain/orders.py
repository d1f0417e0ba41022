"""Procedure orders: what to order (plain data) and the ServiceRequest JSON contracts/ expects.

An image-guided order has ``category`` SNOMED 387713003, one ``bodySite`` per treated level (a
``body-region`` coding, the ``laterality`` extension and, on the spine, ``spinal-level``) and the
``bleeding-risk`` and ``imaging-modality`` extensions; an office visit (the pre-implant
psychological evaluation) has the counselling category and neither. Both carry
``expected-duration`` and ``procedure-purpose``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from painflow_assessment.domain.elements import reference, ucum_quantity
from painflow_assessment.domain.policy import CatalogueEntry
from painflow_shared.codes import (
    SURGICAL_PROCEDURE,
    BleedingRisk,
    BodyRegion,
    CodeSystem,
    Extension,
    ImagingModality,
    Laterality,
    ProcedurePurpose,
    System,
    coding,
)

SPINAL_REGIONS = frozenset({BodyRegion.LUMBAR, BodyRegion.CERVICAL, BodyRegion.THORACIC})
COUNSELLING = "409063005"  # SNOMED CT, FHIR's servicerequest-category: counselling
_REGIONS = frozenset(r.value for r in BodyRegion)
_SIDE_WORDS = {
    Laterality.LEFT: "left",
    Laterality.RIGHT: "right",
    Laterality.BILATERAL: "bilateral",
}
_MODALITY_DISPLAY = {"RF": "Radio Fluoroscopy", "CT": "Computed Tomography", "US": "Ultrasound"}


@dataclass(frozen=True)
class ProcedureOrder:
    cpt: str
    purpose: str  # ProcedurePurpose code
    rule: str  # the pathway rule, next step or "direct" that made it
    region: str | None = None  # BodyRegion code; None for an office visit
    side: Laterality | None = None  # None: midline or unknown, ordered as bilateral
    levels: tuple[str, ...] = ()  # e.g. ("L5-S1",)
    note: str | None = None

    def describe(self, catalogue: Mapping[str, CatalogueEntry]) -> str:
        where = " ".join(
            part
            for part in (_SIDE_WORDS.get(self.side) if self.side else None, ", ".join(self.levels))
            if part
        )
        what = catalogue[self.cpt].display
        return f"{what} ({where})" if where else what


def service_request(
    order: ProcedureOrder,
    catalogue: Mapping[str, CatalogueEntry],
    *,
    order_id: str,
    patient: str,
    condition: str,
    based_on: str,
    authored: str,
    requester: str | None = None,
) -> dict[str, Any]:
    """The order as a ServiceRequest (``status`` active, ``intent`` order, CPT ``code``,
    ``reasonReference`` the Condition, ``basedOn`` the referral or the previous order)."""
    entry = catalogue[order.cpt]
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": order_id,
        "extension": _extensions(order, entry),
        "basedOn": [reference(based_on)],
        "status": "active",
        "intent": "order",
        "category": [_category(entry)],
        "priority": "routine",
        "code": {
            "coding": [{"system": str(System.CPT), "code": entry.cpt, "display": entry.display}],
            "text": order.describe(catalogue),
        },
        "subject": reference(patient),
        "authoredOn": authored,
        "reasonReference": [reference(condition)],
    }
    if requester:
        resource["requester"] = reference(requester)
    if entry.image_guided:
        resource["bodySite"] = body_sites(order)
    if order.note:
        resource["note"] = [{"text": order.note}]
    return resource


def _category(entry: CatalogueEntry) -> dict[str, Any]:
    if entry.image_guided:
        code, display = SURGICAL_PROCEDURE, "Surgical procedure"
    else:
        code, display = COUNSELLING, "Counseling"
    return {"coding": [{"system": str(System.SNOMED), "code": code, "display": display}]}


def _extensions(order: ProcedureOrder, entry: CatalogueEntry) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    risk = entry.bleeding_risk_for(order.region)
    if entry.image_guided and risk and entry.imaging:
        modality = ImagingModality(entry.imaging)
        found += [
            _concept_extension(Extension.BLEEDING_RISK, concept_of(BleedingRisk(risk))),
            _concept_extension(
                Extension.IMAGING_MODALITY,
                {"coding": [coding(modality, _MODALITY_DISPLAY[modality.value])]},
            ),
        ]
    duration = ucum_quantity(entry.expected_minutes, "min")
    found.append({"url": str(Extension.EXPECTED_DURATION), "valueDuration": duration})
    purpose = concept_of(ProcedurePurpose(order.purpose))
    found.append(_concept_extension(Extension.PROCEDURE_PURPOSE, purpose))
    return found


def concept_of(code: BleedingRisk | ProcedurePurpose | BodyRegion) -> dict[str, Any]:
    display = code.value.replace("-", " ").capitalize()
    return {"coding": [coding(code, display)]}


def _concept_extension(url: Extension, value: dict[str, Any]) -> dict[str, Any]:
    return {"url": str(url), "valueCodeableConcept": value}


def body_sites(order: ProcedureOrder) -> list[dict[str, Any]]:
    """One bodySite per treated level (or one for a site without levels)."""
    region = BodyRegion(order.region or BodyRegion.PERIPHERAL)
    side = order.side or Laterality.BILATERAL
    laterality = _concept_extension(
        Extension.LATERALITY, {"coding": [coding(side, _SIDE_WORDS[side].capitalize())]}
    )
    levels: tuple[str | None, ...] = order.levels if region in SPINAL_REGIONS else (None,)
    sites = []
    for level in levels or (None,):
        extensions = [laterality]
        if level:
            extensions.insert(0, {"url": str(Extension.SPINAL_LEVEL), "valueString": level})
        text = " ".join(p for p in (_SIDE_WORDS[side], level, region.value) if p)
        sites.append({"extension": extensions, **concept_of(region), "text": text})
    return sites


def order_from_service_request(resource: Mapping[str, Any]) -> ProcedureOrder | None:
    """What a stored procedure order asks for (its CPT code, region, side, levels, purpose)."""
    cpt = next(
        (
            str(c["code"])
            for c in (resource.get("code") or {}).get("coding") or []
            if c.get("system") == System.CPT and c.get("code")
        ),
        None,
    )
    if cpt is None:
        return None
    sites = resource.get("bodySite") or []
    return ProcedureOrder(
        cpt=cpt,
        purpose=_purpose(resource) or ProcedurePurpose.THERAPEUTIC.value,
        rule="previous-order",
        region=_region_of(sites),
        side=_side_of(sites),
        levels=tuple(_levels_of(sites)),
    )


def _region_of(sites: list[dict[str, Any]]) -> str | None:
    for site in sites:
        for c in site.get("coding") or []:
            if c.get("system") == CodeSystem.BODY_REGION and c.get("code") in _REGIONS:
                return str(c["code"])
    return None


def _side_of(sites: list[dict[str, Any]]) -> Laterality | None:
    for site in sites:
        for extension in site.get("extension") or []:
            if extension.get("url") == Extension.LATERALITY:
                for c in (extension.get("valueCodeableConcept") or {}).get("coding") or []:
                    if c.get("code") in {side.value for side in Laterality}:
                        return Laterality(c["code"])
    return None


def _levels_of(sites: list[dict[str, Any]]) -> list[str]:
    return [
        str(e["valueString"])
        for site in sites
        for e in site.get("extension") or []
        if e.get("url") == Extension.SPINAL_LEVEL and isinstance(e.get("valueString"), str)
    ]


def _purpose(resource: Mapping[str, Any]) -> str | None:
    for extension in resource.get("extension") or []:
        if extension.get("url") == Extension.PROCEDURE_PURPOSE:
            for c in (extension.get("valueCodeableConcept") or {}).get("coding") or []:
                if c.get("code") in {p.value for p in ProcedurePurpose}:
                    return str(c["code"])
    return None
