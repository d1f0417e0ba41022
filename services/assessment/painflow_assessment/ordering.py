"""Procedure orders outside the intake decision: a clinician's direct order
(``POST /fhir/ServiceRequest``), an override (``PUT``, recorded as a Provenance) or a revocation
(``status`` revoked), and the follow-up's next order; scheduling's ``procedure-performed``
completes an order. Each order is built by the domain, so every one keeps the contract."""

from __future__ import annotations

from typing import Any

from painflow_assessment import intakes, record
from painflow_assessment.context import AssessmentContext
from painflow_assessment.domain.orders import (
    SPINAL_REGIONS,
    ProcedureOrder,
    order_from_service_request,
    service_request,
)
from painflow_assessment.provenance import CONFIRMED, record_provenance
from painflow_shared.codes import System
from painflow_shared.events.types import AssessmentEvent
from painflow_shared.fhir.errors import BusinessRuleViolation, PreconditionFailed
from painflow_shared.fhir.ids import new_id
from painflow_shared.fhir.references import reference_string
from painflow_shared.fhir.versions import version_of

REVOKED = frozenset({"revoked", "entered-in-error"})


def direct_order(ctx: AssessmentContext, body: dict[str, Any]) -> dict[str, Any]:
    """A clinician's order for a patient known here, with a CPT code from the catalogue."""
    _check_intent(body)
    if body.get("status", "active") != "active":
        raise _refuse("a new order's status must be active", "ServiceRequest.status")
    patient_id = _patient(ctx, body)
    order = _requested(ctx, body, "direct")
    resource = service_request(
        order,
        ctx.policies.pathway.catalogue,
        order_id=new_id(),
        patient=reference_string("Patient", patient_id),
        condition=_condition(ctx, body, patient_id),
        based_on=_based_on(ctx, body, patient_id),
        authored=ctx.now(),
        requester=ctx.local_of(body.get("requester")),
    )
    stored = ctx.store.create(_with_notes(resource, body))
    _publish_ordered(ctx, patient_id, stored)
    return stored


def update_order(
    ctx: AssessmentContext,
    body: dict[str, Any],
    if_match: int | None,
    provenance: dict[str, Any] | None,
) -> dict[str, Any]:
    """``status`` revoked (or entered-in-error) revokes; otherwise the PUT overrides the order
    (a clinician's change, which needs a Provenance naming its author and reason). A PUT of
    the order unchanged confirms it: a Provenance (verifier) and no new version or event."""
    current = ctx.store.read("ServiceRequest", body["id"])
    if current.get("status") != "active":
        raise _refuse("only an active order changes here", "ServiceRequest.status")
    patient_id = _patient(ctx, body)
    if ctx.local_of(current.get("subject")) != reference_string("Patient", patient_id):
        raise _refuse("an order's subject does not change", "ServiceRequest.subject")
    if body.get("status") in REVOKED:
        return _revoke(ctx, current, body["status"], if_match, provenance, patient_id)
    if body.get("status") != "active":
        raise _refuse("status must stay active, or be revoked", "ServiceRequest.status")
    if provenance is None:
        raise _refuse(
            "overriding an order needs an X-Provenance header naming its author and reason",
            "X-Provenance",
        )
    _check_intent(body)
    changed = _overridden(ctx, body, current, patient_id)
    if changed == _overridden(ctx, current, current, patient_id):
        return _confirm(ctx, current, if_match, provenance)
    stored, _ = ctx.store.update(changed, if_match=if_match)
    record_provenance(ctx, stored, provenance, "UPDATE")
    _publish_ordered(ctx, patient_id, stored)
    return stored


def _overridden(
    ctx: AssessmentContext, body: dict[str, Any], current: dict[str, Any], patient_id: str
) -> dict[str, Any]:
    """The order as ``body`` would leave it (what is not given stays as ``current`` has it)."""
    changed = service_request(
        _requested(ctx, body, "override"),
        ctx.policies.pathway.catalogue,
        order_id=current["id"],
        patient=reference_string("Patient", patient_id),
        condition=_condition(ctx, body, patient_id) or _condition(ctx, current, patient_id),
        based_on=_based_on(ctx, current, patient_id),
        authored=str(current.get("authoredOn") or ctx.now()),
        requester=ctx.local_of(body.get("requester") or current.get("requester")),
    )
    return _with_notes(changed, body)


def _confirm(
    ctx: AssessmentContext,
    current: dict[str, Any],
    if_match: int | None,
    provenance: dict[str, Any],
) -> dict[str, Any]:
    """A PUT that asks for exactly what the order asks: the clinician confirms it. Only the
    Provenance is recorded; the order keeps its version and nothing is ordered again."""
    if if_match is not None and version_of(current) != str(if_match):
        raise PreconditionFailed(f"version {if_match} is not the current version")
    record_provenance(ctx, current, provenance, CONFIRMED)
    return current


def _revoke(
    ctx: AssessmentContext,
    current: dict[str, Any],
    status: str,
    if_match: int | None,
    provenance: dict[str, Any] | None,
    patient_id: str,
) -> dict[str, Any]:
    stored, _ = ctx.store.update({**current, "status": status}, if_match=if_match)
    if provenance is not None:
        record_provenance(ctx, stored, provenance, "NULLIFY")
    patient = record.event_record(ctx, patient_id)[0]
    ctx.uow.publish(
        AssessmentEvent.ORDER_REVOKED, patient_id=patient_id, focus=[stored], include=[patient]
    )
    return stored


def next_order(
    ctx: AssessmentContext, order: ProcedureOrder, previous: dict[str, Any]
) -> dict[str, Any] | None:
    """The follow-up's next order, ``basedOn`` the previous one; once per previous order and
    code, however often the next step is sent."""
    previous_ref = reference_string("ServiceRequest", previous["id"])
    cpt = f"{System.CPT}|{order.cpt}"
    known = ctx.find("ServiceRequest", ("based-on", previous_ref), ("code", cpt))
    if any(o.get("status") not in REVOKED for o in known):
        return None
    patient = ctx.local_of(previous.get("subject")) or ""
    resource = service_request(
        order,
        ctx.policies.pathway.catalogue,
        order_id=new_id(),
        patient=patient,
        condition=ctx.local_of((previous.get("reasonReference") or [{}])[0]) or "",
        based_on=previous_ref,
        authored=ctx.now(),
        requester=ctx.local_of(previous.get("requester")),
    )
    stored = ctx.store.create(resource)
    _publish_ordered(ctx, patient.rpartition("/")[2], stored)
    return stored


def complete_order(ctx: AssessmentContext, order_ref: str) -> None:
    order = ctx.store.resolve(ctx.local(order_ref), "ServiceRequest")
    if order is not None and order.get("status") == "active":
        ctx.store.update({**order, "status": "completed"})


def _publish_ordered(ctx: AssessmentContext, patient_id: str, order: dict[str, Any]) -> None:
    ctx.uow.publish(
        AssessmentEvent.PROCEDURE_ORDERED,
        patient_id=patient_id,
        focus=[order],
        include=record.event_record(ctx, patient_id),
    )


def _check_intent(body: dict[str, Any]) -> None:
    if body.get("intent") != "order":
        raise _refuse("a procedure order's intent must be order", "ServiceRequest.intent")


def _patient(ctx: AssessmentContext, body: dict[str, Any]) -> str:
    patient = ctx.store.resolve(ctx.local_of(body.get("subject")), "Patient")
    if patient is None:
        raise _refuse("subject must be a Patient this service knows", "ServiceRequest.subject")
    return str(patient["id"])


def _requested(ctx: AssessmentContext, body: dict[str, Any], rule: str) -> ProcedureOrder:
    """What the clinician asks for: a CPT code of the catalogue, at a site it allows."""
    catalogue = ctx.policies.pathway.catalogue
    asked = order_from_service_request(body)
    if asked is None or asked.cpt not in catalogue:
        raise _refuse(
            "code must carry a CPT code (http://www.ama-assn.org/go/cpt) from the procedure "
            "catalogue",
            "ServiceRequest.code",
        )
    entry = catalogue[asked.cpt]
    region = asked.region or (entry.regions[0] if len(entry.regions) == 1 else None)
    if entry.image_guided and (region is None or region not in entry.regions):
        allowed = ", ".join(entry.regions)
        raise _refuse(
            f"bodySite must name the body-region of this procedure ({allowed})",
            "ServiceRequest.bodySite",
        )
    levels, note = asked.levels, None
    if entry.image_guided and region in SPINAL_REGIONS and not levels:
        pathway = ctx.policies.pathway  # the proceduralist confirms the level, as in the pathway
        levels, note = (pathway.levels_to_confirm[region],), pathway.levels_to_confirm_note
    site = region if entry.image_guided else None
    return ProcedureOrder(asked.cpt, entry.purpose, rule, site, asked.side, levels, note)


def _condition(ctx: AssessmentContext, body: dict[str, Any], patient_id: str) -> str:
    for reason in body.get("reasonReference") or []:
        ref = ctx.local_of(reason) or ""
        if ctx.store.resolve(ref, "Condition") is not None:
            return ref
    case = intakes.latest_case(ctx, patient_id)
    if case and case.reasons:
        return reference_string("Condition", case.reasons[0])
    raise _refuse(
        "reasonReference must name a Condition of the patient known here",
        "ServiceRequest.reasonReference",
    )


def _based_on(ctx: AssessmentContext, body: dict[str, Any], patient_id: str) -> str:
    for based in body.get("basedOn") or []:
        ref = ctx.local_of(based)
        absolute = "://" in (ref or "") and "/ServiceRequest/" in (ref or "")
        if ref and (absolute or ctx.store.resolve(ref, "ServiceRequest")):
            return ref
    case = intakes.latest_case(ctx, patient_id)
    if case is not None:
        return case.referral_url
    raise _refuse(
        "basedOn must name the referral or a previous order (no referral is known here)",
        "ServiceRequest.basedOn",
    )


def _with_notes(resource: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    notes = [n for n in body.get("note") or [] if isinstance(n, dict) and n.get("text")]
    if notes:
        resource["note"] = [*(resource.get("note") or []), *notes]
    return resource


def _refuse(message: str, expression: str) -> BusinessRuleViolation:
    return BusinessRuleViolation(message, expression=expression)
