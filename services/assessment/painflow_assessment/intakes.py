"""The intake: opened when a referral is accepted, closed when it is cancelled, redirected or
rejected, reopened by a follow-up ``reassessment``; one parent Task and one Task per
questionnaire, chosen by the intake policy from the referral's Conditions."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from painflow_assessment import record
from painflow_assessment.context import AssessmentContext
from painflow_assessment.domain.intake import (
    intake_questionnaires,
    questionnaires_for_region,
    region_of_conditions,
)
from painflow_assessment.tables import IntakeCase
from painflow_assessment.tasks import OPEN, intake_task, questionnaire_task
from painflow_shared.events.types import AssessmentEvent
from painflow_shared.fhir.dates import utcnow
from painflow_shared.fhir.ids import new_id
from painflow_shared.fhir.references import reference_string


def open_intake(
    ctx: AssessmentContext, referral: dict[str, Any], referral_url: str, patient_id: str
) -> IntakeCase | None:
    """The first intake of an accepted referral (None when it is already open or was)."""
    known = ctx.session.exec(
        select(IntakeCase).where(IntakeCase.referral_id == referral["id"])
    ).first()
    if known is not None:
        return None
    reasons = [
        ref.split("/", 1)[1]
        for ref in (ctx.local_of(r) for r in referral.get("reasonReference") or [])
        if ref and ref.startswith("Condition/")
    ]
    codes = _condition_codes(ctx, reasons)
    region = region_of_conditions(codes, ctx.policies.intake)
    urls = intake_questionnaires(codes, ctx.policies.intake)
    case = IntakeCase(
        intake_task_id=new_id(),
        referral_id=referral["id"],
        referral_url=referral_url,
        patient_id=patient_id,
        status="open",
        region=region,
        reasons=reasons,
        created_at=utcnow(),
    )
    _start(ctx, case, urls, [])
    return case


def reopen_intake(ctx: AssessmentContext, patient_id: str, because: str) -> IntakeCase | None:
    """A fresh round of questionnaires for the patient's latest referral (``because``: the
    next-step that asked, named in the intake Task's basedOn; a second ask is no new round)."""
    if ctx.find("Task", ("based-on", because)) or open_case(ctx, patient_id):
        return None
    last = latest_case(ctx, patient_id)
    if last is None:
        return None
    case = IntakeCase(
        intake_task_id=new_id(),
        referral_id=last.referral_id,
        round=last.round + 1,
        referral_url=last.referral_url,
        patient_id=patient_id,
        status="open",
        region=last.region,
        reasons=list(last.reasons),
        created_at=utcnow(),
    )
    _start(ctx, case, questionnaires_for_region(case.region, ctx.policies.intake), [because])
    return case


def _start(
    ctx: AssessmentContext, case: IntakeCase, urls: tuple[str, ...], based_on: list[str]
) -> None:
    now = ctx.now()
    parent = intake_task(case.intake_task_id, case.patient_id, case.referral_url, now, based_on)
    ctx.session.add(case)
    ctx.session.flush()  # a concurrent second intake for this round fails here, not later
    parent = ctx.store.create(parent, resource_id=parent["id"])
    children = [add_questionnaire(ctx, case, url) for url in urls]
    record.refresh_mme(ctx, case.patient_id)
    ctx.uow.publish(
        AssessmentEvent.STARTED,
        patient_id=case.patient_id,
        focus=[parent],
        include=[*children, *record.event_record(ctx, case.patient_id)[:1]],
    )


def add_questionnaire(ctx: AssessmentContext, case: IntakeCase, url: str) -> dict[str, Any]:
    title = str(ctx.policies.questionnaires[url].get("title") or url.rsplit("/", 1)[-1])
    task = questionnaire_task(new_id(), case.patient_id, case.intake_task_id, url, title, ctx.now())
    return ctx.store.create(task, resource_id=task["id"])


def close_intakes(ctx: AssessmentContext, referral_id: str, reason: str) -> None:
    """Cancel every open intake of the referral, its open questionnaire Tasks with it."""
    cases = ctx.session.exec(
        select(IntakeCase).where(IntakeCase.referral_id == referral_id, IntakeCase.status == "open")
    ).all()
    for case in cases:
        for task in [*child_tasks(ctx, case), ctx.store.read("Task", case.intake_task_id)]:
            if task["status"] in OPEN:
                set_status(ctx, task, "cancelled", reason)
        case.status = "closed"
        ctx.session.add(case)


def set_status(
    ctx: AssessmentContext, task: dict[str, Any], status: str, reason: str | None = None
) -> dict[str, Any]:
    changed = {**task, "status": status, "lastModified": ctx.now()}
    if reason:
        changed["statusReason"] = {"text": reason}
    stored, _ = ctx.store.update(changed)
    return stored


def child_tasks(ctx: AssessmentContext, case: IntakeCase) -> list[dict[str, Any]]:
    return ctx.find("Task", ("part-of", reference_string("Task", case.intake_task_id)))


def open_case(ctx: AssessmentContext, patient_id: str) -> IntakeCase | None:
    return ctx.session.exec(
        select(IntakeCase)
        .where(IntakeCase.patient_id == patient_id, IntakeCase.status == "open")
        .order_by(col(IntakeCase.created_at).desc())
    ).first()


def latest_case(ctx: AssessmentContext, patient_id: str) -> IntakeCase | None:
    return ctx.session.exec(
        select(IntakeCase)
        .where(IntakeCase.patient_id == patient_id)
        .order_by(col(IntakeCase.created_at).desc())
    ).first()


def _condition_codes(
    ctx: AssessmentContext, condition_ids: list[str]
) -> list[tuple[str | None, str | None]]:
    codes: list[tuple[str | None, str | None]] = []
    for condition_id in condition_ids:
        condition = ctx.store.find("Condition", condition_id) or {}
        for coding in (condition.get("code") or {}).get("coding") or []:
            codes.append((coding.get("system"), coding.get("code")))
    return codes
