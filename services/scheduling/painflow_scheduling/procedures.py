"""``POST /fhir/Procedure``: what was done, recorded against its order.

The pre-procedure NRS Observation and the MedicationAdministrations come **contained** in the
Procedure (``Procedure.contained``): the service stores each as its own resource with
``partOf`` the Procedure (and the patient as subject), and the stored Procedure keeps no contained
copies. Each ``complication`` (a coding of ``procedure-complication``, or text only) becomes a
Condition named by ``complicationDetail``. The schedule Task completes and the booked Appointment
is fulfilled; ``procedure-performed`` and one ``procedure-complication`` per complication follow.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from painflow_scheduling.context import SchedulingContext
from painflow_scheduling.domain.fhir_values import concept_code, parse_moment
from painflow_scheduling.events import publish_procedure
from painflow_scheduling.facts import ORDER_DONE, based_on_order, patient_id_of
from painflow_scheduling.instants import require_zones
from painflow_scheduling.records import localise
from painflow_scheduling.slots import release_order
from painflow_scheduling.tasks import schedule_task, set_task
from painflow_shared.codes import CodeSystem, Extension, System
from painflow_shared.fhir.dates import CLOCK_SKEW, fhir_instant
from painflow_shared.fhir.errors import BusinessRuleViolation
from painflow_shared.fhir.ids import new_id
from painflow_shared.fhir.references import reference_string

NRS_LOINC = "72514-3"
HL7 = "http://terminology.hl7.org/CodeSystem"
PROCEDURE_INSTANTS = ("performedPeriod.start", "performedPeriod.end", "performedDateTime")
PART_INSTANTS = ("effectiveDateTime", "effectivePeriod.start", "effectivePeriod.end")
PARTS = ("Observation", "MedicationAdministration")
SPINE = frozenset({"lumbar", "cervical", "thoracic"})


def record_procedure(ctx: SchedulingContext, body: dict[str, Any]) -> dict[str, Any]:
    require_zones(body, PROCEDURE_INSTANTS)
    order = _order(ctx, body)
    patient_id = str(patient_id_of(order))
    _check(body, order)
    _not_ahead(ctx, body.get("performedPeriod") or {})
    procedure_id = new_id()
    procedure_ref = reference_string("Procedure", procedure_id)
    parts = [_part(ctx, p, procedure_ref, order) for p in body.get("contained") or []]
    conditions = [
        _complication(ctx, c, procedure_ref, order, body) for c in body.get("complication") or []
    ]
    procedure = _procedure(ctx, body, order, conditions)
    stored = ctx.store.create(procedure, resource_id=procedure_id)
    recorded = [ctx.store.create(p) for p in parts]
    stored_conditions = [ctx.store.create(c) for c in conditions]
    if stored_conditions:  # complicationDetail names the stored Conditions
        details = [{"reference": reference_string("Condition", c["id"])} for c in stored_conditions]
        stored = ctx.store.update({**stored, "complicationDetail": details})[0]
    appointment = _fulfil(ctx, order)
    recorded += [appointment] if appointment else []
    publish_procedure(
        ctx, stored, order, patient_id, recorded=recorded, complications=stored_conditions
    )
    return stored


def _order(ctx: SchedulingContext, body: dict[str, Any]) -> dict[str, Any]:
    order = based_on_order(ctx, body)
    if order is None:
        raise BusinessRuleViolation(
            "basedOn must name a procedure order known to scheduling",
            expression="Procedure.basedOn",
        )
    if order.get("status") in ORDER_DONE:
        raise BusinessRuleViolation(
            "the order was revoked or is already completed", expression="Procedure.basedOn"
        )
    return order


def _check(body: dict[str, Any], order: dict[str, Any]) -> None:
    rules = [
        (body.get("status") == "completed", "status", "a recorded Procedure is completed"),
        (bool(concept_code(body.get("code"), System.CPT)), "code", "code needs a CPT coding"),
        *_period_rules(body.get("performedPeriod") or {}),
        (bool(body.get("performer")), "performer", "performer names who performed it"),
    ]
    if concept_code(_modality(order), System.DICOM):
        rules.append(
            (
                bool(body.get("bodySite")),
                "bodySite",
                "an image-guided procedure needs bodySite with level and laterality",
            )
        )
        rules += _site_rules(body)
    for ok, element, text in rules:
        if not ok:
            raise BusinessRuleViolation(text, expression=f"Procedure.{element}")
    for index, part in enumerate(body.get("contained") or []):
        if part.get("resourceType") not in PARTS:
            raise BusinessRuleViolation(
                "contained resources are the NRS Observation and MedicationAdministrations",
                expression=f"Procedure.contained[{index}]",
            )


def _period_rules(period: dict[str, Any]) -> list[tuple[bool, str, str]]:
    """A completed Procedure has both ends: the follow-up windows start at its end."""
    # both ends are read in one zone: only their order matters here
    start, end = (parse_moment(period.get(k), ZoneInfo("UTC")) for k in ("start", "end"))
    return [
        (start is not None, "performedPeriod.start", "performedPeriod needs its start"),
        (
            end is not None,
            "performedPeriod.end",
            "a completed Procedure needs performedPeriod.end (follow-up windows start there)",
        ),
        (
            start is None or end is None or end >= start,
            "performedPeriod.end",
            "performedPeriod.end is before its start",
        ),
    ]


def _not_ahead(ctx: SchedulingContext, period: dict[str, Any]) -> None:
    """A Procedure is recorded after it was performed: a period that ends ahead of now (beyond
    a clock skew) is a booking entered as done, or a wrong date. It would complete the order,
    fulfil the Appointment and start the follow-up windows from a time that has not come."""
    end = parse_moment(period.get("end"), ZoneInfo("UTC"))
    if end is None or ctx.accept_future_procedures or end <= ctx.now() + CLOCK_SKEW:
        return
    raise BusinessRuleViolation(
        "performedPeriod.end is in the future: record a Procedure once it was performed",
        expression="Procedure.performedPeriod.end",
    )


def _site_rules(body: dict[str, Any]) -> list[tuple[bool, str, str]]:
    rules = []
    for index, site in enumerate(body.get("bodySite") or []):
        urls = {e.get("url") for e in site.get("extension") or []}
        region = concept_code(site, CodeSystem.BODY_REGION)
        rules.append(
            (
                Extension.LATERALITY in urls,
                f"bodySite[{index}]",
                "bodySite needs the laterality extension",
            )
        )
        if region in SPINE:
            rules.append(
                (
                    Extension.SPINAL_LEVEL in urls,
                    f"bodySite[{index}]",
                    "a spinal bodySite needs the spinal-level extension",
                )
            )
    return rules


def _modality(order: dict[str, Any]) -> Any:
    for extension in order.get("extension") or []:
        if extension.get("url") == Extension.IMAGING_MODALITY:
            return extension.get("valueCodeableConcept")
    return None


def _part(
    ctx: SchedulingContext, part: dict[str, Any], procedure: str, order: dict[str, Any]
) -> dict[str, Any]:
    require_zones(part, PART_INSTANTS)
    if part["resourceType"] == "Observation":
        codes = [c.get("code") for c in (part.get("code") or {}).get("coding") or []]
        if NRS_LOINC not in codes:
            raise BusinessRuleViolation(
                "the contained Observation is the pre-procedure NRS (LOINC 72514-3)",
                expression="Procedure.contained",
            )
    body = {k: v for k, v in localise(part, ctx.local_bases).items() if k not in ("id", "meta")}
    body["subject"] = order["subject"]
    body["partOf"] = [{"reference": procedure}]
    return body


def _complication(
    ctx: SchedulingContext,
    concept: dict[str, Any],
    procedure: str,
    order: dict[str, Any],
    body: dict[str, Any],
) -> dict[str, Any]:
    """A complication as a Condition: its coding, or its text alone (which still counts)."""
    return {
        "resourceType": "Condition",
        "clinicalStatus": {"coding": [{"system": f"{HL7}/condition-clinical", "code": "active"}]},
        "category": [
            {"coding": [{"system": f"{HL7}/condition-category", "code": "problem-list-item"}]}
        ],
        "code": concept,
        "subject": order["subject"],
        "onsetDateTime": body["performedPeriod"]["start"],
        "recordedDate": fhir_instant(ctx.now()),
        "evidence": [{"detail": [{"reference": procedure}]}],
    }


def _procedure(
    ctx: SchedulingContext,
    body: dict[str, Any],
    order: dict[str, Any],
    conditions: list[dict[str, Any]],
) -> dict[str, Any]:
    procedure = {k: v for k, v in body.items() if k not in ("id", "meta", "contained")}
    procedure = localise(procedure, ctx.local_bases)
    procedure["subject"] = order["subject"]
    procedure["basedOn"] = [{"reference": reference_string("ServiceRequest", order["id"])}]
    if "category" not in procedure and order.get("category"):
        procedure["category"] = order["category"][0]
    modality = _modality(order)
    urls = {e.get("url") for e in procedure.get("extension") or []}
    if modality and Extension.IMAGING_MODALITY not in urls:
        imaging = {"url": Extension.IMAGING_MODALITY, "valueCodeableConcept": modality}
        procedure["extension"] = [*(procedure.get("extension") or []), imaging]
    return procedure


def _fulfil(ctx: SchedulingContext, order: dict[str, Any]) -> dict[str, Any] | None:
    ref = reference_string("ServiceRequest", order["id"])
    task = schedule_task(ctx, ref)
    if task is not None:
        set_task(ctx, task, status="completed", businessStatus={"text": "performed"})
    booked = ctx.find("Appointment", based_on=ref, status="booked")
    if not booked:
        return None
    release_order(ctx, booked[0]["id"])  # its slots stay taken: they were used
    return ctx.store.update({**booked[0], "status": "fulfilled"})[0]
