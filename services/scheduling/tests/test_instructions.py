"""The FHIR JSON the service stores: hold-instruction and other Tasks, $booking-constraints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fhir.resources.R4B.parameters import Parameters
from fhir.resources.R4B.task import Task

from painflow_scheduling.domain.constraints import (
    allergy_conflicts,
    authorization_requirements,
    procedure_agents,
    repeat_limit_statuses,
)
from painflow_scheduling.domain.holds import compute_holds, earliest_safe_start
from painflow_scheduling.domain.instructions import (
    booking_constraints_parameters,
    hold_instruction_task,
    hold_instruction_tasks,
    med_reconciliation_task,
    pre_procedure_lab_task,
    prior_authorization_task,
    schedule_procedure_task,
)
from painflow_scheduling.domain.order import OrderFacts
from painflow_shared.codes import BleedingRisk

from .conftest import BOOKING_TIME, RXNORM, statement

TASK_TYPE = "https://painflow.dev/fhir/CodeSystem/task-type"
CHICAGO = "America/Chicago"
START = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)  # 08:00 in Chicago (CDT from 8 March: 09:00)
END = START + timedelta(minutes=30)
ORDER = OrderFacts(
    "ServiceRequest/o-1",
    "Patient/p-1",
    "active",
    "64483",
    BleedingRisk.INTERMEDIATE,
    "RF",
    30,
    "therapeutic",
    frozenset({"lumbar"}),
)


def holds(asra, *meds, risk=BleedingRisk.INTERMEDIATE):
    return compute_holds(
        risk, list(meds), tables=asra.holds, booking_time=BOOKING_TIME, site_zone=CHICAGO
    )


def code_of(task):
    return [(c["system"], c["code"]) for c in task["code"]["coding"]]


def test_the_hold_instruction_task_runs_from_the_latest_safe_dose_to_the_restart(asra):
    (warfarin,) = holds(asra, statement("11289", ident="ms-w", display="warfarin 5 MG"))
    task = hold_instruction_task(
        warfarin,
        order=ORDER,
        appointment_start=START,
        appointment_end=END,
        authored=BOOKING_TIME,
        site_zone=CHICAGO,
        prescriber="Practitioner/dr-1",
    )
    Task.model_validate(task)
    assert code_of(task) == [(TASK_TYPE, "medication-hold")]
    assert task["status"] == "requested" and task["owner"] == {"reference": "Practitioner/dr-1"}
    assert task["focus"] == {"reference": "MedicationStatement/ms-w"}
    assert task["for"] == {"reference": "Patient/p-1"}
    assert task["basedOn"] == [{"reference": "ServiceRequest/o-1"}]
    assert task["restriction"]["period"] == {
        "start": "2026-03-05T14:00:00Z",  # 120 h before the start
        "end": "2026-03-10T20:30:00Z",  # the end plus warfarin's 6 h restart
    }
    assert task["description"].startswith(
        "Your procedure is on Tuesday 10 March 2026 at 09:00. Take your last dose of warfarin no "
        "later than Thursday 5 March 2026 at 08:00. You may start it again from Tuesday 10 March "
        "2026 at 15:30, unless your doctor says otherwise. Times are America/Chicago time."
    )
    assert "blood test (INR)" in task["description"]
    assert "Accept this Task" in task["note"][0]["text"]
    assert {"type": {"text": "hold-hours"}, "valueInteger": 120} in task["input"]
    assert "businessStatus" not in task


def test_an_unknown_aspirin_indication_is_said_and_the_prescriber_asked(asra):
    (aspirin,) = holds(asra, statement("1191", display="aspirin 81 MG"), risk=BleedingRisk.HIGH)
    task = hold_instruction_task(
        aspirin,
        order=ORDER,
        appointment_start=START,
        appointment_end=END,
        authored=BOOKING_TIME,
        site_zone=CHICAGO,
    )
    Task.model_validate(task)
    assert task["businessStatus"] == {"text": "indication unknown: prescriber asked"}
    assert "We do not know why you take aspirin" in task["description"]
    assert "indication for aspirin is not recorded" in task["note"][0]["text"]
    assert task["restriction"]["period"]["end"] == "2026-03-11T14:30:00Z"  # restart 24 h


def test_tasks_only_for_blocking_holds_of_drugs_still_taken(asra):
    meds = [
        statement("11289", ident="taking"),
        statement("32968", ident="stopped", status="stopped", taken="2025-12-01"),
        statement("1191", ident="shared", reason=[{"text": "stent"}]),
    ]
    tasks = hold_instruction_tasks(
        holds(asra, *meds),
        order=ORDER,
        appointment_start=START,
        appointment_end=END,
        authored=BOOKING_TIME,
    )
    assert [t["focus"]["reference"] for t in tasks] == ["MedicationStatement/taking"]


def test_the_pre_procedure_inr_task(asra):
    (warfarin,) = holds(asra, statement("11289"))
    task = pre_procedure_lab_task(
        warfarin,
        warfarin.conditions[0],
        order=ORDER,
        appointment_start=START,
        authored=BOOKING_TIME,
    )
    Task.model_validate(task)
    assert code_of(task) == [(TASK_TYPE, "pre-procedure-lab")]
    assert task["input"][0]["valueCodeableConcept"]["coding"][0]["code"] == "6301-6"
    assert task["restriction"]["period"] == {"end": "2026-03-10T14:00:00Z"}
    assert task["description"].startswith("Before the procedure: a normal INR")


def test_the_schedule_procedure_task_says_what_blocks_booking():
    task = schedule_procedure_task(
        ORDER,
        blockers=["prior authorization pending"],
        authored=BOOKING_TIME,
        earliest_start=START,
        site_zone=CHICAGO,
    )
    Task.model_validate(task)
    assert code_of(task) == [(TASK_TYPE, "schedule-procedure")]
    assert task["focus"] == {"reference": "ServiceRequest/o-1"}
    assert task["businessStatus"]["text"] == (
        "blocked: prior authorization pending; earliest safe start 2026-03-10T09:00:00-05:00"
    )
    ready = schedule_procedure_task(ORDER, blockers=[], authored=BOOKING_TIME)
    assert ready["businessStatus"]["text"] == "ready to book"


def test_the_prior_authorization_task(asra):
    scs = OrderFacts(
        "ServiceRequest/o-2",
        "Patient/p-1",
        "active",
        "63650",
        BleedingRisk.HIGH,
        "RF",
        90,
        "trial",
        frozenset({"thoracic"}),
    )
    coverage = {
        "resourceType": "Coverage",
        "id": "c-1",
        "status": "active",
        "payor": [{"display": "Blue Valley Health Plan"}],
    }
    (needed,) = authorization_requirements(scs, [coverage], asra.payers)
    task = prior_authorization_task(needed, order=scs, authored=BOOKING_TIME)
    Task.model_validate(task)
    assert code_of(task) == [(TASK_TYPE, "prior-authorization")]
    assert task["insurance"] == [{"reference": "Coverage/c-1"}]
    assert "CPT 63650" in task["description"]


def test_medication_reconciliation_is_due_7_days_before_or_now_when_sooner():
    task = med_reconciliation_task(
        order=ORDER, appointment="Appointment/a-1", appointment_start=START, authored=BOOKING_TIME
    )
    Task.model_validate(task)
    assert code_of(task) == [(TASK_TYPE, "med-reconciliation")]
    assert task["focus"] == {"reference": "Appointment/a-1"}
    assert task["restriction"]["period"] == {
        "start": "2026-03-03T14:00:00Z",
        "end": "2026-03-10T14:00:00Z",
    }
    soon = med_reconciliation_task(
        order=ORDER,
        appointment="Appointment/a-1",
        appointment_start=BOOKING_TIME + timedelta(days=2),
        authored=BOOKING_TIME,
    )
    assert soon["restriction"]["period"]["start"] == "2026-03-02T10:00:00Z"


def test_the_booking_constraints_parameters(asra):
    found = holds(
        asra,
        statement("11289", ident="ms-w", display="warfarin 5 MG"),
        statement("1191", ident="ms-a", reason=[{"text": "stent"}]),
    )
    allergy = {
        "resourceType": "AllergyIntolerance",
        "id": "al-1",
        "code": {"text": "Iodinated contrast"},
    }
    conflicts = allergy_conflicts(procedure_agents(ORDER, asra.agents), [allergy])
    repeats = repeat_limit_statuses(ORDER, BOOKING_TIME, [], asra.repeat_limits)
    params = booking_constraints_parameters(
        earliest_start=earliest_safe_start(found, booking_time=BOOKING_TIME),
        holds=found,
        allergy_conflicts=conflicts,
        repeat_limits=repeats,
        authorizations=(),
        site_zone=CHICAGO,
    )
    Parameters.model_validate(params)
    names = [p["name"] for p in params["parameter"]]
    assert names == ["earliest-start", "hold", "hold", "allergy-conflict", "repeat-limit"]
    assert params["parameter"][0] == {
        "name": "earliest-start",
        "valueDateTime": "2026-03-07T04:00:00-06:00",
    }
    warfarin = {p["name"]: p for p in params["parameter"][1]["part"]}
    assert warfarin["medication"]["valueCoding"] == {
        "system": RXNORM,
        "code": "11289",
        "display": "warfarin 5 MG",
    }
    assert warfarin["last-dose"]["valueDateTime"] == "2026-03-02T04:00:00-06:00"
    assert warfarin["hold-hours"]["valueInteger"] == 120
    assert warfarin["safe-from"]["valueDateTime"] == "2026-03-07T04:00:00-06:00"
    assert warfarin["restart-hours"]["valueInteger"] == 6
    assert "Narouze" in warfarin["source"]["valueString"]
    aspirin = [p for p in params["parameter"][2]["part"]]
    assert {"name": "action", "valueCode": "shared-assessment"} in aspirin
    assert not any(p["name"] == "safe-from" for p in aspirin)
    assert {"name": "agent", "valueCode": "iodinated-contrast"} in params["parameter"][3]["part"]
    repeat = {p["name"]: p for p in params["parameter"][4]["part"]}
    assert repeat["rule"]["valueCode"] == "epidural-steroid-injection"
    assert (repeat["count"]["valueInteger"], repeat["allowed"]["valueBoolean"]) == (1, True)


def test_authorization_parts_say_pending_or_completed(asra):
    scs = OrderFacts(
        "ServiceRequest/o-2",
        "Patient/p-1",
        "active",
        "63650",
        BleedingRisk.HIGH,
        "RF",
        90,
        "trial",
        frozenset(),
    )
    coverage = {"resourceType": "Coverage", "id": "c-1", "payor": [{"display": "Acme"}]}
    needed = authorization_requirements(scs, [coverage], asra.payers)
    for granted, status in (((), "pending"), (("Coverage/c-1",), "completed")):
        params = booking_constraints_parameters(
            earliest_start=BOOKING_TIME, authorizations=needed, granted=granted
        )
        Parameters.model_validate(params)
        parts = params["parameter"][1]["part"]
        assert {"name": "status", "valueCode": status} in parts
