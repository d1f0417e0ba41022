"""``POST /fhir/QuestionnaireResponse``: a response is validated against its Questionnaire,
scored as its instrument defines, and completes its Task; nothing is stored when it is refused.

Refusals (422, each naming the element): an unknown patient (``subject``), a questionnaire this
service does not serve or that the patient's open intake does not ask for (``questionnaire``;
a closed intake asks for none), and every problem the domain finds in the answers.
"""

from __future__ import annotations

from typing import Any

from painflow_assessment import decision, intakes, safety
from painflow_assessment.context import AssessmentContext
from painflow_assessment.domain.intake import intake_history, revise_for_region
from painflow_assessment.domain.problems import Problem, as_business_rule_violation
from painflow_assessment.domain.questionnaires import Answers, canonical_url, validate_response
from painflow_assessment.domain.scoring import InstrumentScore, score_observation, score_response
from painflow_assessment.tables import IntakeCase
from painflow_assessment.tasks import OPEN, questionnaire_of
from painflow_shared.codes import Questionnaire
from painflow_shared.fhir.errors import BusinessRuleViolation, InvalidRequest
from painflow_shared.fhir.ids import new_id
from painflow_shared.fhir.references import reference_string


def submit_response(
    ctx: AssessmentContext, body: dict[str, Any], if_none_exist: str | None
) -> tuple[dict[str, Any], int]:
    """The stored response with 201, or with 200 the one an ``If-None-Exist`` names."""
    if if_none_exist:
        found = _matching(ctx, if_none_exist)
        if found is not None:
            return found, 200
    response = {**body, "subject": {**(body.get("subject") or {})}}
    patient_id = _patient(ctx, response)
    url, questionnaire = _questionnaire(ctx, response)
    case, task = _open_task(ctx, patient_id, url)
    answers = _checked(validate_response(questionnaire, response))
    score = _scored(score_response(answers, ctx.policies.scoring))
    stored = ctx.store.create(response)
    _complete(ctx, task, stored)
    if score is not None:
        _observe(ctx, score, stored, patient_id)
    if url == Questionnaire.INTAKE_HISTORY:
        _revise_region(ctx, case, answers)
    decision.decide_when_ready(ctx, case)
    return stored, 201


def _matching(ctx: AssessmentContext, query: str) -> dict[str, Any] | None:
    name, _, value = query.lstrip("?").partition("=")
    if name != "identifier" or "&" in value or "|" not in value:
        raise InvalidRequest(
            "If-None-Exist supports identifier=system|value", expression="If-None-Exist"
        )
    found = ctx.find("QuestionnaireResponse", ("identifier", value))
    return found[0] if found else None


def _patient(ctx: AssessmentContext, response: dict[str, Any]) -> str:
    subject = ctx.local_of(response.get("subject")) or ""
    patient = ctx.store.resolve(subject, "Patient")
    if patient is None:
        raise BusinessRuleViolation(
            "subject must be a Patient this service knows (from an accepted referral)",
            expression="QuestionnaireResponse.subject",
        )
    response["subject"]["reference"] = subject
    return str(patient["id"])


def _questionnaire(ctx: AssessmentContext, response: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    canonical = response.get("questionnaire")
    url, _ = canonical_url(canonical if isinstance(canonical, str) else "")
    questionnaire = ctx.policies.questionnaires.get(url)
    if questionnaire is None:
        raise BusinessRuleViolation(
            "questionnaire must be the canonical URL of a Questionnaire served here",
            expression="QuestionnaireResponse.questionnaire",
        )
    return url, questionnaire


def _open_task(
    ctx: AssessmentContext, patient_id: str, url: str
) -> tuple[IntakeCase, dict[str, Any]]:
    case = intakes.open_case(ctx, patient_id)
    tasks = intakes.child_tasks(ctx, case) if case else []
    for task in tasks:
        if questionnaire_of(task) == url and task["status"] in OPEN:
            assert case is not None
            return case, task
    reason = "no open intake" if case is None else "its open intake does not ask for it"
    raise BusinessRuleViolation(
        f"the patient has {reason}: this questionnaire is not waiting for an answer",
        expression="QuestionnaireResponse.questionnaire",
    )


def _checked(result: list[Problem] | Answers) -> Answers:
    if isinstance(result, list):
        raise as_business_rule_violation(result)
    return result


def _scored(result: InstrumentScore | list[Problem] | None) -> InstrumentScore | None:
    if isinstance(result, list):
        raise as_business_rule_violation(result)
    return result


def _complete(ctx: AssessmentContext, task: dict[str, Any], response: dict[str, Any]) -> None:
    output = {
        "type": {"text": "questionnaire response"},
        "valueReference": {"reference": reference_string("QuestionnaireResponse", response["id"])},
    }
    ctx.store.update({**task, "status": "completed", "output": [output], "lastModified": ctx.now()})


def _observe(
    ctx: AssessmentContext, score: InstrumentScore, response: dict[str, Any], patient_id: str
) -> None:
    observation = score_observation(
        score,
        ctx.policies.scoring,
        observation_id=new_id(),
        patient=reference_string("Patient", patient_id),
        response=reference_string("QuestionnaireResponse", response["id"]),
        effective=str(response.get("authored") or ctx.now()),
    )
    ctx.store.create(observation, resource_id=observation["id"])
    if score.safety_finding:
        safety.raise_flag(ctx, patient_id, response)


def _revise_region(ctx: AssessmentContext, case: IntakeCase, answers: Answers) -> None:
    """intake-history names the region: ODI or NDI follows it (``revise_for_region``)."""
    region = intake_history(answers).region
    if not region or region == case.region:
        return
    tasks = [t for t in intakes.child_tasks(ctx, case) if t["status"] != "cancelled"]
    current = [url for url in (questionnaire_of(t) for t in tasks) if url]
    revision = revise_for_region(current, region, ctx.policies.intake)
    for task in tasks:
        if questionnaire_of(task) in revision.cancel and task["status"] in OPEN:
            intakes.set_status(ctx, task, "cancelled", f"not needed for {region} pain")
    for url in revision.add:
        intakes.add_questionnaire(ctx, case, url)
    case.region = region
    ctx.session.add(case)
