"""Follow-up plans: time points per procedure type with their windows, the CarePlan and Tasks,
overdue at the window's end, and the next-step proposal."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone

import pytest
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir.resources.R4B.task import Task

from painflow_followup.domain.plan_policy import procedure_type_for, time_points_for
from painflow_followup.domain.plans import (
    PlanTarget,
    build_followup_plan,
    build_next_step_proposal,
    overdue,
    overdue_business_status,
    plan_target_from,
    task_window,
    time_point_of,
)
from painflow_followup.domain.progression import OutcomeFacts, decide_next_step
from painflow_followup.domain.task_state import (
    cancel_outcome_task,
    complete_outcome_task,
    mark_overdue,
    needs_overdue_mark,
    task_for_outcome,
)
from painflow_followup.domain.timing import add_months
from painflow_followup.policies import load_policies
from painflow_shared.fhir.errors import BusinessRuleViolation

POLICIES = load_policies()
PLANS = POLICIES.plans
PERFORMED = datetime(2026, 10, 13, 8, 58, tzinfo=UTC)
NOW = datetime(2026, 10, 13, 10, 0, tzinfo=UTC)
PROCEDURE_URL = "http://127.0.0.1:8003/fhir/Procedure/a86835b2-683a-56ba-9484-eadee71f17c9"
ORDER_URL = "http://127.0.0.1:8002/fhir/ServiceRequest/68d83cb1-ffbb-5e05-9cbb-87ac4282335f"
CONDITION_URL = "http://127.0.0.1:8001/fhir/Condition/f6b7238a-af72-57e0-ab9f-78c7dd4e2c23"


def target(end: datetime = PERFORMED) -> PlanTarget:
    return PlanTarget(
        patient_id="1f54b9d2-f0a0-5ba8-abe5-5a0b7dc7d528",
        procedure_reference=PROCEDURE_URL,
        order_reference=ORDER_URL,
        condition_references=(CONDITION_URL,),
        performed_end=end,
        procedure_phrase="left L5-S1 transforaminal epidural steroid injection",
    )


def windows(cpt: str, purpose: str | None = None, end: datetime = PERFORMED) -> dict[str, tuple]:
    ptype = procedure_type_for(PLANS, [cpt], purpose)
    assert ptype is not None
    return {
        tp.id: (task_window(target(end), tp).start, task_window(target(end), tp).end)
        for tp in time_points_for(PLANS, ptype)
    }


def at(day: str, clock: str = "00:00:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{clock}+00:00")


# ------------------------------------------------------------------ time points and windows


@pytest.mark.parametrize(
    ("cpt", "purpose", "ptype"),
    [
        ("64490", None, "medial-branch-block"),
        ("64493", None, "medial-branch-block"),
        ("64479", None, "epidural-steroid-injection"),
        ("64483", None, "epidural-steroid-injection"),
        ("62321", None, "epidural-steroid-injection"),
        ("62323", "therapeutic", "epidural-steroid-injection"),
        ("62323", "trial", "intrathecal-trial"),
        ("64633", None, "radiofrequency-ablation"),
        ("64635", None, "radiofrequency-ablation"),
        ("63650", "trial", "scs-trial"),
        ("63650", "therapeutic", "neurostimulator-implant"),
        ("63685", None, "neurostimulator-implant"),
        ("27096", None, "sacroiliac-joint-injection"),
        ("64450", None, "peripheral-nerve-block"),
    ],
)
def test_procedure_type_by_cpt_and_purpose(cpt, purpose, ptype):
    found = procedure_type_for(PLANS, [cpt], purpose)
    assert found is not None and found.id == ptype


def test_a_code_no_type_lists_has_no_plan():
    assert procedure_type_for(PLANS, ["99213"]) is None


def test_esi_windows_match_the_contract_example_and_add_the_program_time_points():
    assert windows("64483") == {
        "2w": (at("2026-10-27"), at("2026-10-30", "23:59:59")),
        "6w": (at("2026-11-24"), at("2026-11-27", "23:59:59")),
        "3m": (at("2027-01-13"), at("2027-01-27", "23:59:59")),
        "6m": (at("2027-04-13"), at("2027-04-27", "23:59:59")),
        "12m": (at("2027-10-13"), at("2027-10-27", "23:59:59")),
    }


def test_medial_branch_block_window_is_in_hours_after_the_block_only():
    assert windows("64493") == {
        "block-duration": (PERFORMED, PERFORMED + timedelta(hours=8)),
    }
    ptype = procedure_type_for(PLANS, ["64493"])
    assert ptype is not None
    point = time_points_for(PLANS, ptype)[0]
    assert point.baseline == "pre-procedure"
    assert point.measures == ("nrs", "percent-relief")


def test_rfa_six_weeks_then_3_6_12_months_with_function_later():
    ptype = procedure_type_for(PLANS, ["64635"])
    assert ptype is not None
    points = time_points_for(PLANS, ptype)

    assert [tp.id for tp in points] == ["6w", "3m", "6m", "12m"]
    assert "function" not in points[0].measures
    assert all("function" in tp.measures for tp in points[1:])
    assert windows("64635")["6m"] == (at("2027-04-13"), at("2027-04-27", "23:59:59"))


def test_stimulator_trial_ends_within_3_to_10_days_and_adds_no_program_points():
    assert windows("63650", "trial") == {
        "trial-end": (at("2026-10-16"), at("2026-10-23", "23:59:59")),
    }


def test_implant_has_the_wound_check_then_the_program():
    assert list(windows("63685")) == ["2w", "3m", "6m", "12m"]


def test_day_windows_are_drawn_in_the_procedures_own_offset():
    local = datetime(2026, 10, 13, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    start, end = windows("64483", end=local)["2w"]

    assert start == datetime(2026, 10, 27, tzinfo=local.tzinfo)
    assert end == datetime(2026, 10, 30, 23, 59, 59, tzinfo=local.tzinfo)


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        ("2026-01-31", 1, "2026-02-28"),
        ("2027-11-30", 3, "2028-02-29"),
        ("2026-10-13", 12, "2027-10-13"),
        ("2026-03-31", -1, "2026-02-28"),
    ],
)
def test_calendar_months_clamp_to_the_month_end(start, months, expected):
    assert add_months(at(start), months) == at(expected)


# ------------------------------------------------------------------ the CarePlan and its Tasks


def esi_plan():
    ptype = procedure_type_for(PLANS, ["64483"])
    assert ptype is not None
    ids = (f"id-{n}" for n in itertools.count())
    return build_followup_plan(PLANS, ptype, target(), new_id=lambda: next(ids), now=NOW)


def test_plan_has_one_task_per_time_point_in_the_contract_shape():
    plan = esi_plan()
    care_plan, first = plan.care_plan, plan.tasks[0]

    CarePlan.model_validate(care_plan)
    for task in plan.tasks:
        Task.model_validate(task)
    assert care_plan["supportingInfo"] == [{"reference": ORDER_URL}, {"reference": PROCEDURE_URL}]
    assert care_plan["addresses"] == [{"reference": CONDITION_URL}]
    assert "basedOn" not in care_plan  # R4 CarePlan.basedOn names CarePlans only
    assert care_plan["period"] == {"start": "2026-10-13", "end": "2027-10-27"}
    assert [a["reference"]["reference"] for a in care_plan["activity"]] == [
        f"Task/{t['id']}" for t in plan.tasks
    ]
    assert first["code"]["coding"][0]["system"] == (
        "https://painflow.dev/fhir/CodeSystem/task-type"
    )
    assert first["code"]["coding"][0]["code"] == "outcome-collection"
    assert first["focus"] == {"reference": PROCEDURE_URL}
    assert first["for"] == {"reference": "Patient/1f54b9d2-f0a0-5ba8-abe5-5a0b7dc7d528"}
    assert first["basedOn"] == [{"reference": f"CarePlan/{care_plan['id']}"}]
    assert first["restriction"]["period"] == {
        "start": "2026-10-27T00:00:00Z",
        "end": "2026-10-30T23:59:59Z",
    }
    assert first["description"] == (
        "2-week outcome after the left L5-S1 transforaminal epidural steroid injection"
    )
    assert [time_point_of(t) for t in plan.tasks] == ["2w", "6w", "3m", "6m", "12m"]


def test_plan_note_names_policy_source_and_time_points():
    note = esi_plan().care_plan["note"][0]["text"]

    assert note.startswith("Time points (policy painflow-followup-plans 1.0.0, epidural")
    assert "2-week, 6-week, 3-month, 6-month and 12-month." in note
    assert "DOMAIN.md section 4" in note


def test_plan_target_is_read_from_the_performed_procedure():
    procedure = {
        "resourceType": "Procedure",
        "code": {"text": "Left L5-S1 transforaminal epidural steroid injection"},
        "performedPeriod": {"start": "2026-10-13T08:41:00Z", "end": "2026-10-13T08:58:00Z"},
        "reasonReference": [{"reference": CONDITION_URL}],
    }
    found = plan_target_from(
        procedure, patient_id="p", procedure_reference=PROCEDURE_URL, order_reference=ORDER_URL
    )

    assert found.performed_end == PERFORMED
    assert found.procedure_phrase == "left L5-S1 transforaminal epidural steroid injection"
    assert found.condition_references == (CONDITION_URL,)


def test_a_procedure_without_a_performed_time_is_refused_naming_the_element():
    with pytest.raises(BusinessRuleViolation) as raised:
        plan_target_from({}, patient_id="p", procedure_reference="Procedure/x", order_reference="o")
    assert raised.value.issues[0].expression == ("Procedure.performedPeriod.end",)


# ------------------------------------------------------------------ overdue


def task_ending(end: str, status: str = "requested") -> dict:
    return {
        "resourceType": "Task",
        "status": status,
        "focus": {"reference": PROCEDURE_URL},
        "restriction": {"period": {"start": "2026-10-27T00:00:00Z", "end": end}},
    }


END = at("2026-10-30", "23:59:59")


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (END - timedelta(seconds=1), False),
        (END, False),  # the end's second is inside the window
        (END + timedelta(milliseconds=999), False),
        (END + timedelta(seconds=1), True),
        (END + timedelta(days=3), True),
    ],
)
def test_overdue_only_after_the_end_of_the_window(now, expected):
    assert overdue(task_ending("2026-10-30T23:59:59Z"), now) is expected


@pytest.mark.parametrize("status", ["completed", "cancelled", "failed", "entered-in-error"])
def test_a_closed_task_is_never_overdue(status):
    assert overdue(task_ending("2026-10-30T23:59:59Z", status), END + timedelta(days=30)) is False


def test_an_end_with_fractions_or_a_date_only_end():
    with_fraction = task_ending("2026-10-30T23:59:59.500Z")
    assert overdue(with_fraction, END + timedelta(milliseconds=500)) is False
    assert overdue(with_fraction, END + timedelta(milliseconds=501)) is True
    assert overdue(task_ending("2026-10-30"), END) is False
    assert overdue(task_ending("2026-10-30"), END + timedelta(seconds=1)) is True


def test_marking_overdue_sets_the_business_status_once():
    task = task_ending("2026-10-30T23:59:59Z")
    later = END + timedelta(hours=6)
    marked = mark_overdue(task, later)

    assert needs_overdue_mark(task, later) is True
    assert needs_overdue_mark(marked, later) is False
    assert marked["status"] == "requested"
    assert marked["businessStatus"] == overdue_business_status()
    assert marked["businessStatus"]["coding"][0] == {
        "system": "https://painflow.dev/fhir/CodeSystem/followup-status",
        "code": "overdue",
        "display": "Overdue",
    }


def test_completing_a_task_late_says_so():
    task = task_ending("2026-10-30T23:59:59Z")
    on_time = complete_outcome_task(task, output_reference="QuestionnaireResponse/q", now=END)
    late = complete_outcome_task(
        task, output_reference="QuestionnaireResponse/q", now=END + timedelta(days=1)
    )

    assert on_time["status"] == "completed" and "businessStatus" not in on_time
    assert late["businessStatus"] == {"text": "collected late"}
    assert late["output"][0]["valueReference"] == {"reference": "QuestionnaireResponse/q"}


def test_cancelling_leaves_completed_tasks_alone():
    done = task_ending("2026-10-30T23:59:59Z", "completed")
    assert cancel_outcome_task(done, reason="order revoked", now=END) is done
    cancelled = cancel_outcome_task(task_ending("2026-10-30T23:59:59Z"), reason="x", now=END)
    assert cancelled["status"] == "cancelled" and cancelled["statusReason"] == {"text": "x"}


def test_an_outcome_answers_the_task_whose_window_holds_it_or_the_late_one():
    plan = esi_plan()
    two_weeks, six_weeks = plan.tasks[0], plan.tasks[1]

    assert task_for_outcome(plan.tasks, PROCEDURE_URL, at("2026-10-28")) is two_weeks
    assert task_for_outcome(plan.tasks, PROCEDURE_URL, at("2026-11-02")) is two_weeks  # late
    assert task_for_outcome(plan.tasks, PROCEDURE_URL, at("2026-11-25")) is six_weeks
    assert task_for_outcome(plan.tasks, PROCEDURE_URL, at("2026-10-20")) is None  # too early
    assert task_for_outcome(plan.tasks, "Procedure/other", at("2026-10-28")) is None


# ------------------------------------------------------------------ the next-step proposal


def test_next_step_proposal_in_the_contract_shape():
    decision = decide_next_step(
        OutcomeFacts(cpt_codes=("64483",), time_point="2w", relief_percent=57.1),
        POLICIES.progression,
    )
    assert decision is not None
    proposal = build_next_step_proposal(
        decision,
        proposal_id="sr-1",
        patient_id="p-1",
        order_reference=ORDER_URL,
        observation_references=["Observation/o-1"],
        now=NOW,
    )

    ServiceRequest.model_validate(proposal)
    assert proposal["intent"] == "proposal"
    assert proposal["basedOn"] == [{"reference": ORDER_URL}]
    assert proposal["code"]["coding"] == [
        {
            "system": "https://painflow.dev/fhir/CodeSystem/next-step",
            "code": "repeat-when-pain-returns",
            "display": "Repeat the procedure when the pain returns",
        }
    ]
    assert proposal["reasonReference"] == [{"reference": "Observation/o-1"}]
    assert proposal["note"] == [{"text": decision.explanation}]
    assert proposal["priority"] == "routine"
