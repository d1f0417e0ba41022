"""The assessment handlers through the very code production runs, on an in-memory SQLite unit of
work: no PostgreSQL, no Kafka, no HTTP. What a handler records is what reaches the outbox, and
every event staged there keeps its contract."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import Session, col, select

from painflow_assessment import samples
from painflow_assessment.app import MIGRATIONS
from painflow_assessment.handlers import AssessmentHandlers
from painflow_assessment.policies import load_assessment_policies
from painflow_assessment.search import assessment_registry
from painflow_shared.codes import CodeSystem, NextStep, concept
from painflow_shared.codes import Questionnaire as Q
from painflow_shared.contracts import EventContracts, default_contracts_dir
from painflow_shared.events.envelope import Envelope, build_event
from painflow_shared.events.outbox import OutboxMessage
from painflow_shared.events.types import (
    AssessmentEvent,
    FollowupEvent,
    ReferralEvent,
    SchedulingEvent,
    topic_of,
)
from painflow_shared.fhir.errors import BusinessRuleViolation
from painflow_shared.fhir.store import StoredResource
from painflow_shared.unit_of_work import EventSource, in_memory_units

HERE = "http://assessment.test/fhir"
REFERRAL = "http://referral.test/fhir"
PATIENT = "pat-1"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


@pytest.fixture(scope="module")
def contracts() -> EventContracts:
    return EventContracts(default_contracts_dir())


@pytest.fixture
def handlers() -> AssessmentHandlers:
    source = EventSource("assessment", HERE, topic_prefix="unit.")
    units = in_memory_units(MIGRATIONS, assessment_registry(), source)
    handlers = AssessmentHandlers(units, load_assessment_policies(), (HERE, REFERRAL))
    handlers.seed_questionnaires()
    return handlers


# ---------------------------------------------------------------------------- helpers


def referral_event(
    event_type: ReferralEvent = ReferralEvent.ACCEPTED,
    *,
    code: str = "M47.816",
    oxycodone_mg: int = 10,
    referral_id: str = "ref-1",
) -> Envelope:
    patient = {"resourceType": "Patient", "id": PATIENT, "gender": "female"}
    condition = {
        "resourceType": "Condition",
        "id": "cond-1",
        "subject": {"reference": f"Patient/{PATIENT}"},
        "code": {"coding": [{"system": ICD, "code": code}]},
    }
    statement = {
        "resourceType": "MedicationStatement",
        "id": "med-1",
        "status": "active",
        "subject": {"reference": f"Patient/{PATIENT}"},
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "7804"}]},
        "dosage": [
            {
                "timing": {"repeat": {"frequency": 4, "period": 1, "periodUnit": "d"}},
                "doseAndRate": [{"doseQuantity": {"value": oxycodone_mg, "code": "mg"}}],
            }
        ],
    }
    referral = {
        "resourceType": "ServiceRequest",
        "id": referral_id,
        "status": "active",
        "intent": "order",
        "subject": {"reference": f"Patient/{PATIENT}"},
        "reasonReference": [{"reference": "Condition/cond-1"}],
    }
    triage = {"resourceType": "Task", "id": f"triage-{referral_id}", "status": "accepted"}
    return build_event(
        event_type=event_type,
        service="referral",
        base_url=REFERRAL,
        patient_id=PATIENT,
        focus=[referral, triage],
        include=[patient, condition, statement],
    )


def deliver(handlers: AssessmentHandlers, event: Envelope) -> None:
    handle = handlers.subscriptions()[topic_of(event.type)][event.type]
    with handlers.units.begin() as uow:
        handle(uow, event)


def outbox(handlers: AssessmentHandlers) -> list[OutboxMessage]:
    with Session(handlers.units.engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.seq))).all())


def published(handlers: AssessmentHandlers) -> list[str]:
    return [row.event_type for row in outbox(handlers)]


def search(handlers: AssessmentHandlers, resource_type: str, *params: tuple[str, str]) -> list:
    return handlers.run(lambda ctx: ctx.find(resource_type, *params))


def stored(handlers: AssessmentHandlers) -> int:
    with Session(handlers.units.engine) as session:
        return int(session.exec(select(func.count()).select_from(StoredResource)).one())


def answer(handlers: AssessmentHandlers, responses: list[dict[str, Any]]) -> None:
    for response in responses:
        handlers.submit_response(response, None)


def questionnaire_tasks(handlers: AssessmentHandlers) -> dict[str, str]:
    tasks = search(handlers, "Task", ("code", f"{CodeSystem.TASK_TYPE}|questionnaire"))
    return {t["input"][0]["valueCanonical"]: t["status"] for t in tasks}


def last_event(handlers: AssessmentHandlers, event_type: str) -> dict[str, Any]:
    rows = [r for r in outbox(handlers) if r.event_type == event_type]
    return json.loads(rows[-1].payload)


def resources_in(bundle: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type
    ]


# ---------------------------------------------------------------------------- intake


def test_an_accepted_referral_opens_one_intake_with_its_questionnaires(handlers, contracts):
    deliver(handlers, referral_event())
    deliver(handlers, referral_event())  # the same fact again, under another event id

    assert published(handlers) == [AssessmentEvent.STARTED]
    assert questionnaire_tasks(handlers) == {
        str(url): "requested"
        for url in (Q.NRS, Q.PEG, Q.PHQ_9, Q.GAD_7, Q.INTAKE_HISTORY, Q.MEDICATIONS, Q.ODI)
    }
    intake = search(handlers, "Task", ("code", f"{CodeSystem.TASK_TYPE}|intake"))
    assert [t["focus"]["reference"] for t in intake] == [f"{REFERRAL}/ServiceRequest/ref-1"]
    mme = search(handlers, "Observation", ("code", f"{CodeSystem.ASSESSMENT}|mme-per-day"))
    assert [m["valueQuantity"]["value"] for m in mme] == [60]  # 40 mg oxycodone x 1.5
    for row in outbox(handlers):
        contracts.validate(row.headers, json.loads(row.payload))


def test_a_medication_change_recomputes_the_mme(handlers):
    deliver(handlers, referral_event())
    deliver(handlers, referral_event(ReferralEvent.RECEIVED, oxycodone_mg=20))

    [mme] = search(handlers, "Observation", ("code", f"{CodeSystem.ASSESSMENT}|mme-per-day"))
    assert mme["valueQuantity"]["value"] == 120  # 80 mg oxycodone x 1.5
    assert mme["meta"]["versionId"] == "2"
    assert [flag["text"] for flag in mme["interpretation"]]


def test_a_cancelled_referral_closes_the_intake_and_refuses_answers(handlers):
    deliver(handlers, referral_event())
    deliver(handlers, referral_event(ReferralEvent.CANCELLED))

    assert set(questionnaire_tasks(handlers).values()) == {"cancelled"}
    before = stored(handlers)
    with pytest.raises(BusinessRuleViolation) as refused:
        handlers.submit_response(samples.nrs(PATIENT), None)
    assert refused.value.issues[0].expression == ("QuestionnaireResponse.questionnaire",)
    assert stored(handlers) == before


def test_intake_history_naming_the_neck_swaps_the_odi_for_the_ndi(handlers):
    deliver(handlers, referral_event())
    history = samples.intake_history(PATIENT, region="cervical", levels=("C5-C6",))
    handlers.submit_response(history, None)

    tasks = questionnaire_tasks(handlers)
    assert tasks[str(Q.ODI)] == "cancelled"
    assert tasks[str(Q.NDI)] == "requested"


# ---------------------------------------------------------------------------- decisions


def test_a_facet_pain_intake_ends_in_a_medial_branch_block_order(handlers, contracts):
    deliver(handlers, referral_event())
    answer(handlers, samples.intake(PATIENT))

    assert published(handlers) == [AssessmentEvent.STARTED, AssessmentEvent.COMPLETED]
    bundle = last_event(handlers, AssessmentEvent.COMPLETED)
    [order] = resources_in(bundle, "ServiceRequest")
    assert order["code"]["coding"][0]["code"] == "64493"
    assert order["basedOn"] == [{"reference": f"{REFERRAL}/ServiceRequest/ref-1"}]
    assert order["bodySite"][0]["extension"][0]["valueString"] == "L4-L5"
    [impression] = resources_in(bundle, "ClinicalImpression")
    assert "facet-medial-branch-block" in impression["summary"]
    assert {"MedicationStatement", "CarePlan", "Condition", "Patient"} <= {
        e["resource"]["resourceType"] for e in bundle["entry"]
    }
    intake = search(handlers, "Task", ("code", f"{CodeSystem.TASK_TYPE}|intake"))
    assert intake[0]["status"] == "completed"
    for row in outbox(handlers):
        contracts.validate(row.headers, json.loads(row.payload))


@pytest.mark.parametrize(("phq9", "expected"), [(19, "completed"), (20, "not-candidate")])
def test_phq9_at_20_defers_to_behavioural_health(handlers, contracts, phq9, expected):
    deliver(handlers, referral_event())
    answer(handlers, samples.intake(PATIENT, phq9_total=phq9))

    assert published(handlers)[-1] == f"painflow.assessment.{expected}"
    if expected == "not-candidate":
        bundle = last_event(handlers, AssessmentEvent.NOT_CANDIDATE)
        [impression] = resources_in(bundle, "ClinicalImpression")
        findings = [f["itemCodeableConcept"]["coding"] for f in impression["finding"]]
        codes = [c["code"] for coding in findings for c in coding]
        assert "defer-behavioural-health" in codes
        contracts.validate(outbox(handlers)[-1].headers, bundle)


def test_self_harm_holds_the_decision_until_a_clinician_completes_the_review(handlers, contracts):
    deliver(handlers, referral_event())
    answer(handlers, samples.intake(PATIENT, phq9_total=6, item9=1))

    assert published(handlers) == [AssessmentEvent.STARTED, AssessmentEvent.SAFETY_FLAG]
    [review] = search(handlers, "Task", ("code", f"{CodeSystem.TASK_TYPE}|urgent-review"))
    assert review["priority"] == "stat"
    assert search(handlers, "Flag", ("patient", f"Patient/{PATIENT}"))
    close = [{"op": "replace", "path": "/status", "value": "completed"}]
    handlers.patch_task(review["id"], close, None)

    assert published(handlers)[-1] == AssessmentEvent.COMPLETED
    for row in outbox(handlers):
        contracts.validate(row.headers, json.loads(row.payload))


def test_a_retried_response_with_if_none_exist_is_the_same_response(handlers):
    deliver(handlers, referral_event())
    response = {**samples.nrs(PATIENT), "identifier": {"system": "urn:app", "value": "r-1"}}
    first, status = handlers.submit_response(response, "identifier=urn:app|r-1")
    again, again_status = handlers.submit_response(response, "identifier=urn:app|r-1")

    assert (status, again_status) == (201, 200)
    assert again["id"] == first["id"]
    assert len(search(handlers, "QuestionnaireResponse", ("patient", f"Patient/{PATIENT}"))) == 1


# ---------------------------------------------------------------------------- the loop


def next_step(code: NextStep, previous: str, step_id: str = "next-1") -> Envelope:
    proposal = {
        "resourceType": "ServiceRequest",
        "id": step_id,
        "status": "active",
        "intent": "proposal",
        "code": concept(code),
        "subject": {"reference": f"Patient/{PATIENT}"},
        "basedOn": [{"reference": f"{HERE}/ServiceRequest/{previous}"}],
        "note": [{"text": "85% relief for 4 hours after the first block."}],
    }
    return build_event(
        event_type=FollowupEvent.NEXT_STEP,
        service="followup",
        base_url="http://followup.test/fhir",
        patient_id=PATIENT,
        focus=[proposal],
        include=[{"resourceType": "Patient", "id": PATIENT}],
    )


def first_order(handlers: AssessmentHandlers) -> dict[str, Any]:
    deliver(handlers, referral_event())
    answer(handlers, samples.intake(PATIENT))
    [order] = search(handlers, "ServiceRequest", ("patient", f"Patient/{PATIENT}"))
    return order


def test_a_second_comparative_block_is_ordered_once_based_on_the_first(handlers, contracts):
    first = first_order(handlers)
    deliver(handlers, next_step(NextStep.SECOND_COMPARATIVE_BLOCK, first["id"]))
    deliver(handlers, next_step(NextStep.SECOND_COMPARATIVE_BLOCK, first["id"], "next-2"))

    assert published(handlers)[-1] == AssessmentEvent.PROCEDURE_ORDERED
    assert published(handlers).count(AssessmentEvent.PROCEDURE_ORDERED) == 1
    bundle = last_event(handlers, AssessmentEvent.PROCEDURE_ORDERED)
    [second] = resources_in(bundle, "ServiceRequest")
    assert second["basedOn"] == [{"reference": f"ServiceRequest/{first['id']}"}]
    assert second["code"]["coding"][0]["code"] == "64493"
    contracts.validate(outbox(handlers)[-1].headers, bundle)


def test_radiofrequency_ablation_follows_the_block_at_the_same_site(handlers):
    first = first_order(handlers)
    deliver(handlers, next_step(NextStep.RADIOFREQUENCY_ABLATION, first["id"]))

    [ablation] = search(handlers, "ServiceRequest", ("based-on", f"ServiceRequest/{first['id']}"))
    assert ablation["code"]["coding"][0]["code"] == "64635"
    assert ablation["bodySite"] == first["bodySite"]


def test_reassessment_reopens_the_intake_and_urgent_review_opens_a_task(handlers):
    first = first_order(handlers)
    deliver(handlers, next_step(NextStep.REASSESSMENT, first["id"]))
    deliver(handlers, next_step(NextStep.REASSESSMENT, first["id"]))
    deliver(handlers, next_step(NextStep.URGENT_REVIEW, first["id"], "next-3"))

    assert published(handlers).count(AssessmentEvent.STARTED) == 2
    tasks = search(handlers, "Task", ("code", f"{CodeSystem.TASK_TYPE}|questionnaire"))
    assert [t["status"] for t in tasks].count("requested") == 7
    reviews = search(handlers, "Task", ("code", f"{CodeSystem.TASK_TYPE}|urgent-review"))
    assert [r["priority"] for r in reviews] == ["stat"]


def test_procedure_performed_completes_the_order(handlers):
    first = first_order(handlers)
    procedure = {
        "resourceType": "Procedure",
        "id": "proc-1",
        "status": "completed",
        "basedOn": [{"reference": f"{HERE}/ServiceRequest/{first['id']}"}],
        "subject": {"reference": f"Patient/{PATIENT}"},
    }
    event = build_event(
        event_type=SchedulingEvent.PROCEDURE_PERFORMED,
        service="scheduling",
        base_url="http://scheduling.test/fhir",
        patient_id=PATIENT,
        focus=[procedure],
        include=[],
    )
    deliver(handlers, event)

    assert handlers.run(lambda ctx: ctx.store.read("ServiceRequest", first["id"]))["status"] == (
        "completed"
    )


# ---------------------------------------------------------------------------- orders


def direct(cpt: str = "64483", **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "subject": {"reference": f"{REFERRAL}/Patient/{PATIENT}"},
        "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": cpt}]},
        "bodySite": [{"coding": [{"system": str(CodeSystem.BODY_REGION), "code": "lumbar"}]}],
        **extra,
    }


def test_a_direct_order_is_published_and_a_revocation_follows(handlers, contracts):
    deliver(handlers, referral_event())
    order = handlers.order(direct())
    revoked = handlers.update_order({**order, "status": "revoked"}, None, None)

    assert order["subject"] == {"reference": f"Patient/{PATIENT}"}
    assert revoked["status"] == "revoked"
    assert published(handlers)[-2:] == [
        AssessmentEvent.PROCEDURE_ORDERED,
        AssessmentEvent.ORDER_REVOKED,
    ]
    for row in outbox(handlers):
        contracts.validate(row.headers, json.loads(row.payload))


def test_an_override_records_who_and_why(handlers):
    deliver(handlers, referral_event())
    order = handlers.order(direct())
    provenance = {
        "resourceType": "Provenance",
        "agent": [{"who": {"reference": "Practitioner/dr-1"}}],
        "reason": [{"text": "bilateral symptoms on examination"}],
    }
    changed = direct(
        "62323", id=order["id"], bodySite=order["bodySite"], note=[{"text": "interlaminar"}]
    )
    updated = handlers.update_order(changed, 1, provenance)

    assert updated["code"]["coding"][0]["code"] == "62323"
    [record] = search(handlers, "Provenance", ("target", f"ServiceRequest/{order['id']}"))
    assert record["agent"][0]["who"] == {"reference": "Practitioner/dr-1"}
    assert record["reason"] == [{"text": "bilateral symptoms on examination"}]


@pytest.mark.parametrize(
    ("body", "expression"),
    [
        (direct("99999"), "ServiceRequest.code"),
        (direct(subject={"reference": "Patient/nobody"}), "ServiceRequest.subject"),
        (direct(intent="proposal"), "ServiceRequest.intent"),
        (direct("64479", bodySite=[]), "ServiceRequest.bodySite"),
    ],
)
def test_a_direct_order_that_breaks_a_rule_is_refused_and_nothing_is_stored(
    handlers, body, expression
):
    deliver(handlers, referral_event())
    before = stored(handlers), len(outbox(handlers))
    with pytest.raises(BusinessRuleViolation) as refused:
        handlers.order(body)

    assert refused.value.issues[0].expression == (expression,)
    assert (stored(handlers), len(outbox(handlers))) == before


def test_an_override_without_provenance_is_refused(handlers):
    deliver(handlers, referral_event())
    order = handlers.order(direct())
    with pytest.raises(BusinessRuleViolation) as refused:
        handlers.update_order({**order, "note": [{"text": "x"}]}, None, None)
    assert refused.value.issues[0].expression == ("X-Provenance",)


@pytest.mark.parametrize("make", ["decision", "direct"])
def test_a_confirmation_records_the_verifier_and_orders_nothing_again(handlers, make):
    """A PUT of the order unchanged with X-Provenance confirms it: a Provenance naming the
    clinician (an identity-provider user, by identifier) as verifier, no new version and no
    second procedure-ordered event."""
    if make == "decision":
        order = first_order(handlers)
    else:
        deliver(handlers, referral_event())
        order = handlers.order(direct())
    events = published(handlers)
    clinician = {"identifier": {"system": "https://idp.test/realms/x", "value": "u-1"}}
    provenance = {
        "resourceType": "Provenance",
        "agent": [{"who": {**clinician, "display": "clinician"}}],
        "reason": [{"text": "confirm: facet pattern on examination"}],
    }

    confirmed = handlers.update_order(order, 1, provenance)

    assert confirmed == order
    assert published(handlers) == events
    [record] = search(handlers, "Provenance", ("target", f"ServiceRequest/{order['id']}"))
    assert record["agent"][0]["who"] == {**clinician, "display": "clinician"}
    assert record["agent"][0]["type"]["coding"][0]["code"] == "verifier"
    assert record["activity"]["coding"][0]["code"] == "VRF"
    assert record["entity"][0]["what"]["reference"].endswith("/_history/1")


def test_a_changed_order_is_still_an_override_with_its_event(handlers):
    order = first_order(handlers)
    events = published(handlers)
    provenance = {
        "resourceType": "Provenance",
        "agent": [{"who": {"reference": "Practitioner/dr-1"}}],
        "reason": [{"text": "one more level"}],
    }
    changed = {**order, "note": [*order.get("note", []), {"text": "add L3-L4"}]}

    updated = handlers.update_order(changed, 1, provenance)

    assert updated["meta"]["versionId"] == "2"
    assert published(handlers) == [*events, AssessmentEvent.PROCEDURE_ORDERED]
