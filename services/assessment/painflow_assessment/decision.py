"""The pathway decision: when every intake Task is done and no urgent review is open, the
domain decides (``decide_pathway``) and the service writes the ClinicalImpression, the CarePlan
and any procedure orders, and publishes ``completed`` (procedure) or ``not-candidate``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from painflow_assessment import intakes, record, safety
from painflow_assessment.context import AssessmentContext
from painflow_assessment.domain.intake import IntakeHistory, intake_history
from painflow_assessment.domain.orders import service_request
from painflow_assessment.domain.pathway import (
    ConditionFact,
    PathwayDecision,
    PathwayFacts,
    decide_pathway,
)
from painflow_assessment.domain.pathway_resources import care_plan, clinical_impression
from painflow_assessment.domain.questionnaires import Answers, validate_response
from painflow_assessment.tables import IntakeCase
from painflow_assessment.tasks import OPEN
from painflow_shared.codes import PathwayDecision as DecisionCode
from painflow_shared.codes import Questionnaire, System
from painflow_shared.events.types import AssessmentEvent
from painflow_shared.fhir.ids import new_id
from painflow_shared.fhir.references import reference_of, reference_string


@dataclass
class _Gathered:
    scores: list[dict[str, Any]] = field(default_factory=list)
    history: IntakeHistory = field(default_factory=IntakeHistory)
    conditions: list[dict[str, Any]] = field(default_factory=list)
    mme: dict[str, Any] | None = None


def decide_when_ready(ctx: AssessmentContext, case: IntakeCase) -> None:
    """Decide once every questionnaire Task is done and no urgent review is open."""
    if case.status != "open":
        return
    tasks = intakes.child_tasks(ctx, case)
    if any(t["status"] in OPEN for t in tasks) or safety.open_reviews(ctx, case.patient_id):
        return
    gathered = _gather(ctx, case, tasks)
    made = decide_pathway(_facts(ctx, gathered), ctx.policies.pathway, ctx.policies.intake)
    _record(ctx, case, made, gathered)


def _gather(ctx: AssessmentContext, case: IntakeCase, tasks: list[dict[str, Any]]) -> _Gathered:
    gathered = _Gathered(mme=record.current_mme(ctx, case.patient_id))
    for task in tasks:
        for output in task.get("output") or []:
            response = ctx.store.resolve(reference_of(output.get("valueReference")))
            if response is not None:
                _read_response(ctx, response, gathered)
    gathered.conditions = _conditions(ctx, case)
    return gathered


def _read_response(ctx: AssessmentContext, response: dict[str, Any], into: _Gathered) -> None:
    ref = reference_string("QuestionnaireResponse", response["id"])
    into.scores += ctx.find("Observation", ("derived-from", ref))
    url = str(response.get("questionnaire", "")).partition("|")[0]
    if url == Questionnaire.INTAKE_HISTORY:
        answers = validate_response(ctx.policies.questionnaires[url], response)
        if isinstance(answers, Answers):
            into.history = intake_history(answers)


def _conditions(ctx: AssessmentContext, case: IntakeCase) -> list[dict[str, Any]]:
    """The referral's reason Conditions first, then the patient's other Conditions."""
    every = ctx.patient_record(case.patient_id, "Condition")
    rank = {cid: n for n, cid in enumerate(case.reasons)}
    return sorted(every, key=lambda c: rank.get(c["id"], len(rank)))


def _facts(ctx: AssessmentContext, gathered: _Gathered) -> PathwayFacts:
    history = gathered.history
    mme = ((gathered.mme or {}).get("valueQuantity") or {}).get("value")
    return PathwayFacts(
        conditions=tuple(f for f in (_fact(c) for c in gathered.conditions) if f),
        region=history.region,
        side=history.side,
        levels=history.levels,
        pain_type=history.pain_type,
        pt_weeks=history.pt_weeks,
        phq9=_score(ctx, gathered, Questionnaire.PHQ_9),
        gad7=_score(ctx, gathered, Questionnaire.GAD_7),
        mme_per_day=float(mme) if isinstance(mme, int | float) else None,
        unstable_findings=history.unstable_findings,
        psychosocial_finding=history.psychosocial_finding,
        refractory=history.refractory,
        prior_spine_surgery=history.prior_spine_surgery,
    )


def _fact(condition: dict[str, Any]) -> ConditionFact | None:
    codings = (condition.get("code") or {}).get("coding") or []
    chosen = next((c for c in codings if c.get("system") == System.ICD10CM), None)
    chosen = chosen or (codings[0] if codings else {})
    return ConditionFact(
        reference_string("Condition", condition["id"]),
        chosen.get("system"),
        chosen.get("code"),
        chosen.get("display"),
    )


def _score(ctx: AssessmentContext, gathered: _Gathered, url: str) -> int | None:
    spec = ctx.policies.scoring.instruments.get(url)
    for observation in reversed(gathered.scores):
        codes = {c.get("code") for c in (observation.get("code") or {}).get("coding") or []}
        if spec and spec.score_code.code in codes and "valueInteger" in observation:
            return int(observation["valueInteger"])
    return None


def _record(
    ctx: AssessmentContext, case: IntakeCase, made: PathwayDecision, gathered: _Gathered
) -> None:
    patient, now = reference_string("Patient", case.patient_id), ctx.now()
    condition = made.diagnosis.reference if made.diagnosis else _first(gathered)
    orders = [
        ctx.store.create(
            service_request(
                order,
                ctx.policies.pathway.catalogue,
                order_id=new_id(),
                patient=patient,
                condition=condition,
                based_on=case.referral_url,
                authored=now,
            )
        )
        for order in made.orders
    ]
    investigations = [reference_string("Observation", o["id"]) for o in _observations(gathered)]
    impression = ctx.store.create(
        clinical_impression(
            made,
            ctx.policies.pathway,
            impression_id=new_id(),
            patient=patient,
            referral=case.referral_url,
            investigations=investigations,
            effective=now,
        )
    )
    order_refs = [reference_string("ServiceRequest", o["id"]) for o in orders]
    plan = ctx.store.create(
        care_plan(made, care_plan_id=new_id(), patient=patient, orders=order_refs, created=now)
    )
    intakes.set_status(ctx, ctx.store.read("Task", case.intake_task_id), "completed")
    case.status = "decided"
    ctx.session.add(case)
    _publish(ctx, case, made, impression, plan, orders, gathered, condition)


def _first(gathered: _Gathered) -> str:
    return (
        reference_string("Condition", gathered.conditions[0]["id"]) if gathered.conditions else ""
    )


def _observations(gathered: _Gathered) -> list[dict[str, Any]]:
    return [*gathered.scores, *([gathered.mme] if gathered.mme else [])]


def _publish(
    ctx: AssessmentContext,
    case: IntakeCase,
    made: PathwayDecision,
    impression: dict[str, Any],
    plan: dict[str, Any],
    orders: list[dict[str, Any]],
    gathered: _Gathered,
    condition: str,
) -> None:
    diagnosis = [
        c for c in gathered.conditions if reference_string("Condition", c["id"]) == condition
    ]
    carried = [plan, *_observations(gathered), *diagnosis]
    if made.code == DecisionCode.PROCEDURE:
        ctx.uow.publish(
            AssessmentEvent.COMPLETED,
            patient_id=case.patient_id,
            focus=[impression, *orders],
            include=[*carried, *record.event_record(ctx, case.patient_id)],
        )
        return
    ctx.uow.publish(
        AssessmentEvent.NOT_CANDIDATE,
        patient_id=case.patient_id,
        focus=[impression, plan],
        include=[*carried, *record.event_record(ctx, case.patient_id)[:1]],
    )
