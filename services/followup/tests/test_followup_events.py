"""A worked example, end to end in the pure domain: the procedure-performed example's ESI gets
its plan, an outcome questionnaire is answered at 2 weeks, the rule decides, a later Task goes
overdue; every event built from these resources keeps its contract (contracts/)."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

from painflow_followup.domain.observations import (
    ObservationContext,
    nrs_observation,
    percent_relief_observation,
    pgic_observation,
)
from painflow_followup.domain.outcome_response import OutcomeAnswers, read_outcome_response
from painflow_followup.domain.outcomes import pgic_change, relief_change, relief_from_nrs
from painflow_followup.domain.plan_policy import procedure_type_for
from painflow_followup.domain.plans import (
    build_followup_plan,
    build_next_step_proposal,
    mark_overdue,
    plan_target_from,
    time_point_of,
)
from painflow_followup.domain.progression import OutcomeFacts, decide_next_step
from painflow_followup.domain.task_state import complete_outcome_task, task_for_outcome
from painflow_followup.policies import load_policies
from painflow_shared.codes import NextStep
from painflow_shared.contracts import ContractViolation, EventContracts, default_contracts_dir
from painflow_shared.events.envelope import Envelope, build_event
from painflow_shared.events.types import FollowupEvent

BASE = "http://127.0.0.1:8004/fhir"
SCHEDULING = "http://127.0.0.1:8003/fhir"
ASSESSMENT = "http://127.0.0.1:8002/fhir"
POLICIES = load_policies()
CONTRACTS = EventContracts(default_contracts_dir())
PERFORMED = json.loads(
    (
        default_contracts_dir() / "examples" / "painflow.scheduling.procedure-performed.json"
    ).read_text("utf-8")
)["value"]
IDS = (f"00000000-0000-4000-8000-{n:012d}" for n in itertools.count(1))


def resource(resource_type: str) -> dict[str, Any]:
    return next(
        e["resource"] for e in PERFORMED["entry"] if e["resource"]["resourceType"] == resource_type
    )


PATIENT, PROCEDURE, ORDER = resource("Patient"), resource("Procedure"), resource("ServiceRequest")
PROCEDURE_URL = f"{SCHEDULING}/Procedure/{PROCEDURE['id']}"
ORDER_URL = f"{ASSESSMENT}/ServiceRequest/{ORDER['id']}"
INTAKE_NRS = 7  # the intake baseline of this patient (assessment.completed example)


def event(event_type: str, focus: list[dict], include: list[dict]) -> Envelope:
    return build_event(
        event_type=event_type,
        service="followup",
        base_url=BASE,
        patient_id=PATIENT["id"],
        focus=focus,
        include=[*include, PATIENT],
    )


def keeps_its_contract(envelope: Envelope) -> None:
    CONTRACTS.validate(envelope.headers(), envelope.bundle)
    Bundle.model_validate(envelope.bundle)


@pytest.fixture(scope="module")
def plan():
    target = plan_target_from(
        PROCEDURE,
        patient_id=PATIENT["id"],
        procedure_reference=PROCEDURE_URL,
        order_reference=ORDER_URL,
    )
    codes = [c["code"] for c in PROCEDURE["code"]["coding"]]
    ptype = procedure_type_for(POLICIES.plans, codes, "therapeutic")
    assert ptype is not None
    now = datetime(2026, 10, 13, 10, 0, tzinfo=UTC)
    return build_followup_plan(POLICIES.plans, ptype, target, new_id=lambda: next(IDS), now=now)


def test_followup_scheduled(plan):
    keeps_its_contract(event(FollowupEvent.FOLLOWUP_SCHEDULED, [plan.care_plan], list(plan.tasks)))


@pytest.fixture(scope="module")
def outcome(plan):
    answered = datetime(2026, 10, 28, 17, 20, tzinfo=UTC)
    qr = {
        "resourceType": "QuestionnaireResponse",
        "id": next(IDS),
        "questionnaire": "https://painflow.dev/fhir/Questionnaire/outcome",
        "status": "completed",
        "subject": {"reference": f"Patient/{PATIENT['id']}"},
        "authored": "2026-10-28T17:20:00Z",
        "item": [
            {"linkId": "nrs-now", "answer": [{"valueInteger": 3}]},
            {"linkId": "pgic", "answer": [{"valueInteger": 6}]},
        ],
    }
    answers = read_outcome_response(qr, POLICIES.questionnaire, POLICIES.measures)
    assert isinstance(answers, OutcomeAnswers) and answers.nrs_now == 3
    task = task_for_outcome(plan.tasks, PROCEDURE_URL, answered)
    assert task is not None and time_point_of(task) == "2w"
    relief = relief_from_nrs(answers.nrs_now, INTAKE_NRS, plan.time_points[0].baseline)
    assert relief.percent == 57.1
    ctx = ObservationContext(
        PATIENT["id"], PROCEDURE_URL, answered, (f"QuestionnaireResponse/{qr['id']}",)
    )
    observations = [
        nrs_observation(ctx, next(IDS), answers.nrs_now, POLICIES.measures),
        percent_relief_observation(
            ctx, next(IDS), relief.percent, relief_change(relief.percent, POLICIES.measures), relief
        ),
        pgic_observation(ctx, next(IDS), 6, pgic_change(6, POLICIES.measures)),
    ]
    done = complete_outcome_task(
        task, output_reference=f"QuestionnaireResponse/{qr['id']}", now=answered
    )
    return observations, qr, done, relief


def test_outcome_recorded(outcome):
    observations, qr, done, _ = outcome
    assert done["status"] == "completed" and "businessStatus" not in done  # within its window
    keeps_its_contract(event(FollowupEvent.OUTCOME_RECORDED, observations, [qr, done]))


def test_next_step(outcome):
    observations, _, _, relief = outcome
    facts = OutcomeFacts(cpt_codes=("64483",), time_point="2w", relief_percent=relief.percent)
    decision = decide_next_step(facts, POLICIES.progression)
    assert decision is not None and decision.code is NextStep.REPEAT_WHEN_PAIN_RETURNS
    relief_observation = observations[1]
    proposal = build_next_step_proposal(
        decision,
        proposal_id=next(IDS),
        patient_id=PATIENT["id"],
        order_reference=ORDER_URL,
        observation_references=[f"Observation/{relief_observation['id']}"],
        now=datetime(2026, 10, 28, 17, 20, tzinfo=UTC),
    )

    keeps_its_contract(event(FollowupEvent.NEXT_STEP, [proposal], [relief_observation]))


def test_followup_overdue(plan):
    six_weeks = plan.tasks[1]
    late = mark_overdue(six_weeks, datetime(2026, 11, 28, 6, 0, tzinfo=UTC))

    keeps_its_contract(event(FollowupEvent.FOLLOWUP_OVERDUE, [late], []))


def test_a_broken_plan_would_be_caught(plan):
    """The check above can fail: a Task without its window breaks the contract."""
    broken = {k: v for k, v in plan.tasks[0].items() if k != "restriction"}
    with pytest.raises(ContractViolation, match="restriction"):
        keeps_its_contract(event(FollowupEvent.FOLLOWUP_SCHEDULED, [plan.care_plan], [broken]))
