"""A performed procedure: its record here, its follow-up plan (``followup-scheduled``), and a
complication's urgent review.

The Procedure comes from scheduling (its fullUrl there names it in every Task and Observation),
with its order and the same day's pre-procedure NRS. The order's ``basedOn`` says which block
of a dual comparative pair it is (domain.order_chain).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from painflow_followup import decisions
from painflow_followup.context import FollowupContext, Resource, aware, full_url_in, id_of
from painflow_followup.domain.journey_entries import NRS_LOINC
from painflow_followup.domain.order_chain import EarlierProcedure, block_number_of
from painflow_followup.domain.plan_policy import ProcedureType, procedure_type_for
from painflow_followup.domain.plans import build_followup_plan, plan_target_from
from painflow_followup.domain.task_state import window_closes
from painflow_followup.tables import OutcomeTask, ProcedureRecord
from painflow_shared.codes import CodeSystem, Extension, System
from painflow_shared.events.envelope import Envelope, PoisonMessage
from painflow_shared.events.types import FollowupEvent
from painflow_shared.fhir.ids import new_id
from painflow_shared.fhir.references import reference_of


def on_procedure_performed(ctx: FollowupContext, event: Envelope) -> None:
    procedure = _the_procedure(event)
    record = ctx.session.get(ProcedureRecord, procedure["id"])
    if record is None:
        record = _record(ctx, event, procedure)
    elif record.care_plan_id is not None:
        return  # the same procedure reported again: one plan
    record.complications = sorted(set(record.complications) | set(complications_of(procedure)))
    ctx.session.add(record)
    ptype = ctx.policies.plans.procedure_type(record.procedure_type or "")
    if ptype is not None:
        _schedule(ctx, record, procedure, ptype)
    if record.complications:
        decisions.propose_urgent_review(ctx, record)


def on_procedure_complication(ctx: FollowupContext, event: Envelope) -> None:
    procedure = _the_procedure(event)
    record = ctx.session.get(ProcedureRecord, procedure["id"])
    if record is None:  # performed not seen yet (another topic order): keep what we know
        record = _record(ctx, event, procedure)
    record.complications = sorted(set(record.complications) | set(complications_of(procedure)))
    ctx.session.add(record)
    if record.complications:
        decisions.propose_urgent_review(ctx, record)


def complications_of(procedure: Resource) -> list[str]:
    """Complication codes (or ``recorded`` for a text-only one) on the Procedure."""
    found = []
    for concept in procedure.get("complication") or []:
        codes = [
            c.get("code")
            for c in concept.get("coding") or []
            if c.get("system") == CodeSystem.PROCEDURE_COMPLICATION and c.get("code")
        ]
        found.extend(codes or ["recorded"])
    return found


def _the_procedure(event: Envelope) -> Resource:
    procedure = event.first("Procedure")
    if procedure is None or not procedure.get("id"):
        raise PoisonMessage("a scheduling procedure event without its Procedure")
    return procedure


def _record(ctx: FollowupContext, event: Envelope, procedure: Resource) -> ProcedureRecord:
    order_id = id_of(reference_of((procedure.get("basedOn") or [{}])[0]), "ServiceRequest")
    orders = event.resources("ServiceRequest")
    order: Resource = next((o for o in orders if o.get("id") == order_id), {})
    previous_id = id_of(reference_of((order.get("basedOn") or [{}])[0]), "ServiceRequest")
    codes = _codes(procedure.get("code"), System.CPT)
    purpose = _extension_code(order, Extension.PROCEDURE_PURPOSE)
    ptype = procedure_type_for(ctx.policies.plans, codes, purpose)
    region = next(iter(_codes(procedure.get("bodySite"), CodeSystem.BODY_REGION)), None)
    previous = _earlier(ctx, event.patient_id, previous_id)
    target = plan_target_from(
        procedure,
        patient_id=event.patient_id,
        procedure_reference=full_url_in(event, procedure),
        order_reference=ctx.order_reference(order_id) if order_id else "",
    )
    return ProcedureRecord(
        procedure_id=procedure["id"],
        patient_id=event.patient_id,
        procedure_reference=target.procedure_reference,
        order_id=order_id,
        order_reference=target.order_reference or None,
        previous_order_id=previous_id,
        procedure_type=ptype.id if ptype else None,
        purpose=purpose,
        region=region,
        cpt_codes=codes,
        block_number=block_number_of(ptype.id if ptype else None, region, previous),
        pre_procedure_nrs=_pre_procedure_nrs(event, procedure["id"]),
        complications=complications_of(procedure),
        reliefs={},
        performed_end=aware(target.performed_end),
    )


def _schedule(
    ctx: FollowupContext, record: ProcedureRecord, procedure: Resource, ptype: ProcedureType
) -> None:
    target = plan_target_from(
        procedure,
        patient_id=record.patient_id,
        procedure_reference=record.procedure_reference,
        order_reference=record.order_reference or "",
    )
    plan = build_followup_plan(ctx.policies.plans, ptype, target, new_id=new_id, now=ctx.now())
    care_plan = ctx.store.create(plan.care_plan, resource_id=plan.care_plan["id"])
    tasks = [ctx.store.create(task, resource_id=task["id"]) for task in plan.tasks]
    for task in tasks:
        closes = window_closes(task)
        assert closes is not None  # every plan Task has a window
        ctx.session.add(
            OutcomeTask(
                task_id=task["id"],
                patient_id=record.patient_id,
                procedure_id=record.procedure_id,
                window_end=aware(closes),
            )
        )
    record.care_plan_id = care_plan["id"]
    ctx.uow.publish(
        FollowupEvent.FOLLOWUP_SCHEDULED,
        patient_id=record.patient_id,
        focus=[care_plan],
        include=[*tasks, ctx.patient(record.patient_id)],
    )


def _earlier(
    ctx: FollowupContext, patient_id: str, order_id: str | None
) -> EarlierProcedure | None:
    if order_id is None:
        return None
    found = ctx.session.exec(
        select(ProcedureRecord).where(
            ProcedureRecord.order_id == order_id, ProcedureRecord.patient_id == patient_id
        )
    ).first()
    if found is None:
        return None
    return EarlierProcedure(found.procedure_type, found.region, found.block_number)


def _pre_procedure_nrs(event: Envelope, procedure_id: str) -> float | None:
    for observation in event.resources("Observation"):
        codes = _codes(observation.get("code"), System.LOINC)
        parts = [id_of(reference_of(p), "Procedure") for p in observation.get("partOf") or []]
        value = observation.get("valueInteger")
        if NRS_LOINC in codes and procedure_id in parts and isinstance(value, int):
            return float(value)
    return None


def _codes(concepts: Any, system: str) -> list[str]:
    items = concepts if isinstance(concepts, list) else [concepts or {}]
    return [
        str(c["code"])
        for concept in items
        for c in (concept.get("coding") or [])
        if c.get("system") == system and c.get("code")
    ]


def _extension_code(resource: Resource, url: str) -> str | None:
    for extension in resource.get("extension") or []:
        if extension.get("url") == url:
            codes = (extension.get("valueCodeableConcept") or {}).get("coding") or [{}]
            return codes[0].get("code")
    return None
