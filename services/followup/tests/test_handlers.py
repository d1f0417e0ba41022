"""The follow-up handlers through the very code production runs, on an in-memory SQLite unit of
work: no PostgreSQL, no Kafka, no HTTP. What a handler records is what reaches the outbox, and
every staged event keeps its contract (contracts/)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, func, select

from painflow_followup.app import MIGRATIONS, followup_registry
from painflow_followup.handlers import FollowupHandlers
from painflow_followup.policies import load_policies
from painflow_followup.settings import FollowupSettings
from painflow_shared.codes import CodeSystem, NextStep
from painflow_shared.contracts import EventContracts, default_contracts_dir
from painflow_shared.events.envelope import Envelope
from painflow_shared.events.outbox import OutboxMessage
from painflow_shared.events.types import (
    AssessmentEvent,
    FollowupEvent,
    ReferralEvent,
    SchedulingEvent,
)
from painflow_shared.fhir.dates import fhir_instant
from painflow_shared.fhir.errors import BusinessRuleViolation
from painflow_shared.fhir.ids import new_id
from painflow_shared.fhir.search import find_resources
from painflow_shared.fhir.store import StoredResource
from painflow_shared.testing.fixtures import production_settings
from painflow_shared.unit_of_work import EventSource, in_memory_units

BASE = "http://followup.test/fhir"
CONTRACTS = EventContracts(default_contracts_dir())
EXAMPLES = default_contracts_dir() / "examples"
PERFORMED_AT = datetime(2026, 10, 13, 8, 58, tzinfo=UTC)
MBB, ESI = "64493", "64483"


def example(event_type: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / f"{event_type}.json").read_text("utf-8"))


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(PERFORMED_AT + timedelta(hours=1))


def make_handlers(clock: Clock, threshold: int = 80) -> FollowupHandlers:
    source = EventSource("followup", BASE, topic_prefix="unit.")
    units = in_memory_units(MIGRATIONS, followup_registry(), source)
    settings = FollowupSettings(database_url="sqlite://", mbb_relief_threshold=threshold)
    return FollowupHandlers(units, load_policies(mbb_threshold=threshold), settings, clock)


@pytest.fixture
def handlers(clock: Clock) -> FollowupHandlers:
    return make_handlers(clock)


def performed(
    patient_id: str,
    *,
    cpt: str = MBB,
    previous_order: str | None = None,
    pre_nrs: int = 8,
    complication: str | None = None,
    end: datetime = PERFORMED_AT,
) -> Envelope:
    """The procedure-performed example with fresh ids: another patient, procedure and order."""
    message = copy.deepcopy(example(SchedulingEvent.PROCEDURE_PERFORMED))
    old_patient = message["key"]
    text = json.dumps(message).replace(old_patient, patient_id)
    message = json.loads(text)
    procedure_id, order_id = new_id(), new_id()
    for entry in message["value"]["entry"]:
        resource = entry["resource"]
        kind = resource["resourceType"]
        if kind == "Procedure":
            resource["id"] = procedure_id
            resource["basedOn"] = [{"reference": f"ServiceRequest/{order_id}"}]
            resource["code"]["coding"][0]["code"] = cpt
            resource["performedPeriod"]["end"] = end.isoformat().replace("+00:00", "Z")
            if complication:
                resource["complication"] = [
                    {
                        "coding": [
                            {"system": CodeSystem.PROCEDURE_COMPLICATION, "code": complication}
                        ]
                    }
                ]
        elif kind == "ServiceRequest":
            resource["id"] = order_id
            resource["code"]["coding"][0]["code"] = cpt
            if previous_order:
                resource["basedOn"] = [{"reference": f"ServiceRequest/{previous_order}"}]
        elif kind == "Observation":
            resource["valueInteger"] = pre_nrs
            resource["partOf"] = [{"reference": f"Procedure/{procedure_id}"}]
        entry["fullUrl"] = f"http://scheduling.test/fhir/{kind}/{resource['id']}"
    headers = message["headers"]
    return Envelope(
        id=new_id(),
        type=headers["ce_type"],
        source=headers["ce_source"],
        subject=f"Patient/{patient_id}",
        time=headers["ce_time"],
        key=patient_id,
        bundle={**message["value"], "id": "x"},
        extra_headers={"traceparent": headers["traceparent"]},
    )


def deliver(handlers: FollowupHandlers, event: Envelope) -> None:
    with handlers.units.begin() as uow:
        handlers.handle(uow, event)


def procedure_of(event: Envelope) -> dict[str, Any]:
    found = event.first("Procedure")
    assert found is not None
    return found


def order_of(event: Envelope) -> str:
    return str(procedure_of(event)["basedOn"][0]["reference"]).split("/")[1]


def outbox(handlers: FollowupHandlers) -> list[OutboxMessage]:
    with Session(handlers.units.engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.seq))).all())


def published(handlers: FollowupHandlers, event_type: str) -> list[dict[str, Any]]:
    """The staged events of ``event_type``, each checked against its contract."""
    found = []
    for row in outbox(handlers):
        if row.event_type == event_type:
            bundle = json.loads(row.payload)
            CONTRACTS.validate(row.headers, bundle)
            found.append(bundle)
    return found


def next_steps(handlers: FollowupHandlers) -> list[str]:
    return [
        e["resource"]["code"]["coding"][0]["code"]
        for bundle in published(handlers, FollowupEvent.NEXT_STEP)
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "ServiceRequest"
    ]


def nrs_observation(event: Envelope, value: int, when: datetime) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "72514-3"}]},
        "subject": {"reference": f"http://127.0.0.1:8001/fhir/Patient/{event.patient_id}"},
        "partOf": [{"reference": f"Procedure/{procedure_of(event)['id']}"}],
        "effectiveDateTime": when.isoformat().replace("+00:00", "Z"),
        "valueInteger": value,
    }


def relief_observation(event: Envelope, percent: float) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": CodeSystem.OUTCOME, "code": "percent-relief"}]},
        "subject": {"reference": f"Patient/{event.patient_id}"},
        "partOf": [{"reference": f"Procedure/{procedure_of(event)['id']}"}],
        "valueQuantity": {
            "value": percent,
            "unit": "%",
            "system": "http://unitsofmeasure.org",
            "code": "%",
        },
    }


def search(handlers: FollowupHandlers, kind: str, params: list[tuple[str, str]]) -> list[dict]:
    with Session(handlers.units.engine) as session:
        return find_resources(session, handlers.units.registry, kind, params)


def stored_count(handlers: FollowupHandlers) -> int:
    with Session(handlers.units.engine) as session:
        return int(session.exec(select(func.count()).select_from(StoredResource)).one())


# ------------------------------------------------------------------ plans


def test_a_performed_esi_gets_a_care_plan_and_one_task_per_time_point(handlers):
    event = performed("p-esi", cpt=ESI)
    deliver(handlers, event)

    [scheduled] = published(handlers, FollowupEvent.FOLLOWUP_SCHEDULED)
    tasks = search(handlers, "Task", [("patient", "Patient/p-esi"), ("status", "requested")])
    plans = search(handlers, "CarePlan", [("patient", "Patient/p-esi")])
    assert len(tasks) == 5 and len(plans) == 1  # 2 and 6 weeks, then 3, 6 and 12 months
    assert {t["focus"]["reference"] for t in tasks} == {
        f"http://scheduling.test/fhir/Procedure/{procedure_of(event)['id']}"
    }
    coded = search(handlers, "Task", [("code", f"{CodeSystem.TASK_TYPE}|outcome-collection")])
    assert len(coded) == 5
    order = f"http://127.0.0.1:8002/fhir/ServiceRequest/{order_of(event)}"
    assert {"reference": order} in plans[0]["supportingInfo"]
    assert sum(e["resource"]["resourceType"] == "Task" for e in scheduled["entry"]) == 5


def test_the_same_procedure_reported_twice_gets_one_plan(handlers):
    event = performed("p-twice", cpt=ESI)
    deliver(handlers, event)
    deliver(handlers, Envelope(**{**event.__dict__, "id": new_id()}))

    assert len(published(handlers, FollowupEvent.FOLLOWUP_SCHEDULED)) == 1


# ------------------------------------------------------------------ outcomes and decisions


def test_a_first_block_at_85_percent_from_nrs_proposes_the_second_block(handlers, clock):
    event = performed("p-mbb", pre_nrs=8)
    deliver(handlers, event)
    stored = handlers.record_observation(nrs_observation(event, 1, clock.now))  # 87.5%

    assert stored["subject"] == {"reference": "Patient/p-mbb"}
    [recorded] = published(handlers, FollowupEvent.OUTCOME_RECORDED)
    relief = [
        e["resource"]
        for e in recorded["entry"]
        if e["resource"].get("code", {}).get("coding", [{}])[0].get("code") == "percent-relief"
    ]
    assert relief[0]["valueQuantity"]["value"] == 87.5
    assert relief[0]["interpretation"][0]["coding"][0]["code"] == "B"
    assert next_steps(handlers) == [NextStep.SECOND_COMPARATIVE_BLOCK]
    task = search(handlers, "Task", [("patient", "Patient/p-mbb")])[0]
    assert task["status"] == "completed"
    proposal = search(
        handlers, "ServiceRequest", [("code", f"{CodeSystem.NEXT_STEP}|second-comparative-block")]
    )
    assert proposal[0]["basedOn"][0]["reference"].endswith(f"ServiceRequest/{order_of(event)}")
    assert "80%" in proposal[0]["note"][0]["text"]


@pytest.mark.parametrize(
    ("second", "expected"),
    [
        (90, NextStep.RADIOFREQUENCY_ABLATION),
        (80, NextStep.RADIOFREQUENCY_ABLATION),
        (79, NextStep.REASSESSMENT),
        (40, NextStep.REASSESSMENT),
    ],
)
def test_the_second_block_decides_between_ablation_and_reassessment(handlers, second, expected):
    first = performed("p-chain")
    deliver(handlers, first)
    handlers.record_observation(relief_observation(first, 85))
    second_block = performed("p-chain", previous_order=order_of(first))
    deliver(handlers, second_block)
    handlers.record_observation(relief_observation(second_block, second))

    assert next_steps(handlers) == [NextStep.SECOND_COMPARATIVE_BLOCK, expected]


def test_a_site_at_50_percent_takes_a_first_block_of_50(clock):
    handlers = make_handlers(clock, threshold=50)
    event = performed("p-50")
    deliver(handlers, event)
    handlers.record_observation(relief_observation(event, 50))

    assert next_steps(handlers) == [NextStep.SECOND_COMPARATIVE_BLOCK]


def test_a_complication_proposes_an_urgent_review_once_before_anything_else(handlers):
    event = performed("p-comp", complication="dural-puncture")
    deliver(handlers, event)
    handlers.record_observation(relief_observation(event, 95))

    assert next_steps(handlers) == [NextStep.URGENT_REVIEW]
    urgent = search(handlers, "ServiceRequest", [("patient", "Patient/p-comp")])[0]
    assert urgent["priority"] == "urgent" and "complication" in urgent["note"][0]["text"]


def test_a_questionnaire_response_is_measured_against_the_intake_baseline(handlers, clock):
    event = performed("p-qr", cpt=ESI, end=PERFORMED_AT)
    deliver(handlers, event)
    clock.now = PERFORMED_AT + timedelta(days=15)  # inside the 2-week window
    response = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": "https://painflow.dev/fhir/Questionnaire/outcome",
        "status": "completed",
        "subject": {"reference": "Patient/p-qr"},
        "item": [{"linkId": "percent-relief", "answer": [{"valueDecimal": 60}]}],
    }
    stored = handlers.record_response(response)

    assert stored["partOf"][0]["reference"].endswith(f"Procedure/{procedure_of(event)['id']}")
    assert next_steps(handlers) == [NextStep.REPEAT_WHEN_PAIN_RETURNS]
    [recorded] = published(handlers, FollowupEvent.OUTCOME_RECORDED)
    kinds = {e["resource"]["resourceType"] for e in recorded["entry"]}
    assert {"QuestionnaireResponse", "Task", "Observation", "Patient"} <= kinds


@pytest.mark.parametrize(
    ("change", "expression"),
    [
        ({"subject": {"reference": "Group/1"}}, "Observation.subject"),
        ({"partOf": [{"reference": "Procedure/unknown"}]}, "Observation.partOf"),
        ({"valueInteger": 11}, "Observation.valueInteger"),
        ({"status": "preliminary"}, "Observation.status"),
        (
            {"code": {"coding": [{"system": "http://loinc.org", "code": "0000-0"}]}},
            "Observation.code",
        ),
    ],
)
def test_a_bad_outcome_is_a_422_naming_the_element_and_nothing_is_stored(
    handlers, clock, change, expression
):
    event = performed("p-bad")
    deliver(handlers, event)
    before, events = stored_count(handlers), len(outbox(handlers))

    with pytest.raises(BusinessRuleViolation) as refused:
        handlers.record_observation({**nrs_observation(event, 3, clock.now), **change})

    assert expression in {e for issue in refused.value.issues for e in issue.expression}
    assert (stored_count(handlers), len(outbox(handlers))) == (before, events)


def test_an_outcome_dated_in_the_future_is_refused_unless_a_demo_allows_it(clock):
    event = performed("p-future")
    later = {"effectiveDateTime": fhir_instant(clock.now + timedelta(days=30))}
    strict = make_handlers(clock)
    deliver(strict, event)
    with pytest.raises(BusinessRuleViolation) as refused:
        strict.record_observation({**nrs_observation(event, 3, clock.now), **later})
    assert "Observation.effectiveDateTime" in refused.value.issues[0].expression

    demo = make_handlers(clock)
    demo.settings.accept_future_outcomes = True
    deliver(demo, event)
    assert demo.record_observation({**nrs_observation(event, 3, clock.now), **later})["id"]


def test_production_refuses_future_outcomes():
    with pytest.raises(ValueError, match="demos"):
        production_settings(FollowupSettings, "followup", accept_future_outcomes=True)


# ------------------------------------------------------------------ overdue and cancellation


def test_an_overdue_task_is_marked_and_announced_once(handlers):
    deliver(handlers, performed("p-late"))  # the block's window closes 8 hours after
    assert handlers.mark_overdue(PERFORMED_AT + timedelta(hours=7)) == 0
    assert handlers.mark_overdue(PERFORMED_AT + timedelta(hours=9)) == 1
    assert handlers.mark_overdue(PERFORMED_AT + timedelta(hours=10)) == 0

    assert len(published(handlers, FollowupEvent.FOLLOWUP_OVERDUE)) == 1
    task = search(handlers, "Task", [("patient", "Patient/p-late")])[0]
    assert task["businessStatus"]["coding"][0]["code"] == "overdue"
    assert task["status"] == "requested"  # it may still come, late


def test_a_revoked_order_cancels_its_follow_up_tasks(handlers):
    event = performed("p-revoked", cpt=ESI)
    deliver(handlers, event)
    revoked = example(AssessmentEvent.ORDER_REVOKED)
    text = json.dumps(revoked).replace(revoked["key"], "p-revoked")
    order = json.loads(text)["value"]
    order["entry"][1]["resource"]["id"] = order_of(event)
    deliver(
        handlers,
        Envelope(
            new_id(),
            revoked["headers"]["ce_type"],
            "/painflow/assessment",
            "Patient/p-revoked",
            revoked["headers"]["ce_time"],
            "p-revoked",
            order,
        ),
    )

    tasks = search(handlers, "Task", [("patient", "Patient/p-revoked")])
    assert {t["status"] for t in tasks} == {"cancelled"}
    assert handlers.mark_overdue(PERFORMED_AT + timedelta(days=800)) == 0


# ------------------------------------------------------------------ the journey


def envelope_of(event_type: str, patient_id: str) -> Envelope:
    message = json.loads(
        json.dumps(example(event_type)).replace(example(event_type)["key"], patient_id)
    )
    headers = message["headers"]
    return Envelope(
        id=new_id(),
        type=headers["ce_type"],
        source=headers["ce_source"],
        subject=f"Patient/{patient_id}",
        time=headers["ce_time"],
        key=patient_id,
        bundle=message["value"],
        extra_headers={"traceparent": headers["traceparent"]},
    )


def test_events_arriving_out_of_order_still_give_the_timeline_from_the_injury(handlers):
    from painflow_followup.everything import everything, journey_of

    deliver(handlers, performed("p-journey", cpt=ESI))  # scheduling's topic was faster
    deliver(handlers, envelope_of(AssessmentEvent.COMPLETED, "p-journey"))
    deliver(handlers, envelope_of(ReferralEvent.RECEIVED, "p-journey"))

    with Session(handlers.units.engine) as session:
        journey = journey_of(session, "p-journey")
        bundle = everything(session, handlers.units.registry, BASE, "p-journey")
    steps = [(e["step"], e["days_since_injury"]) for e in journey["events"]]
    assert steps == [("injury", 0), ("referral", 21), ("decision", 29), ("procedure", 50)]
    assert journey["injury_onset"] == "2026-08-24"
    assert journey["events"][1]["trace_id"] == "6836203d44d681c08c77cbed9ee4d8c5"
    assert [p["value"] for p in journey["series"]["nrs"]] == [7, 8]  # intake, pre-procedure
    assert journey["current"]["step"] == "awaiting-follow-up-plan"
    types = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert {
        "Patient",
        "EpisodeOfCare",
        "Procedure",
        "CarePlan",
        "Task",
        "ClinicalImpression",
    } <= types
    episode = next(e for e in bundle["entry"] if e["resource"]["resourceType"] == "EpisodeOfCare")
    task = next(e for e in bundle["entry"] if e["resource"]["resourceType"] == "Task")
    assert task["link"] == [{"relation": "related", "url": episode["fullUrl"]}]
