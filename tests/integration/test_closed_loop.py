"""Closing the loop: the follow-up service's events move the referrer's Task on."""

from __future__ import annotations

from typing import Any

import pytest
from kafka import KafkaProducer

from painflow_shared.codes import NextStep, concept
from painflow_shared.events.envelope import build_event
from painflow_shared.events.topics import FOLLOWUP_TOPIC
from painflow_shared.events.types import FollowupEvent
from painflow_shared.testing.fixtures import wait_for
from painflow_shared.testing.infra import kafka_config

from .api import api
from .conftest import FHIR_JSON, post_referral

pytestmark = pytest.mark.integration


# The procedure and its order live at the scheduling and assessment services; the follow-up
# events only name them, as the followup service's do.
PROCEDURE = "Procedure/proc-1"
ORDER = "ServiceRequest/order-1"


def _publish(
    platform: Any, kafka: str, event_type: str, patient_id: str, focus: list[dict[str, Any]]
) -> None:
    """Publish a follow-up event exactly as the followup service's relay would; the test
    fails here, not in a DLQ, if the event does not keep its contract."""
    patient = {"resourceType": "Patient", "id": patient_id}
    envelope = build_event(
        event_type=event_type,
        service="followup",
        base_url=platform.fhir("followup"),
        patient_id=patient_id,
        focus=focus,
        include=[patient],
    )
    platform.runtime("referral").contracts.validate(envelope.headers(), envelope.bundle)
    producer = KafkaProducer(**kafka_config(kafka))
    headers = [(k, v.encode()) for k, v in envelope.headers().items()]
    producer.send(
        platform.settings["referral"].topic(FOLLOWUP_TOPIC),
        key=patient_id.encode(),
        value=envelope.value(),
        headers=headers,
    ).get(timeout=10)
    producer.close()


def _pain_score(patient_id: str, observation_id: str, score: int) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": observation_id,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "72514-3"}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "partOf": [{"reference": PROCEDURE}],
        "valueInteger": score,
    }


def _task_status(platform: Any, request_id: str) -> str:
    bundle = api.get(
        f"{platform.fhir('referral')}/Task", params={"focus": f"ServiceRequest/{request_id}"}
    ).json()
    return str(bundle["entry"][0]["resource"]["status"])


def _accept(platform: Any, request_id: str) -> None:
    task = api.get(
        f"{platform.fhir('referral')}/Task", params={"focus": f"ServiceRequest/{request_id}"}
    ).json()["entry"][0]["resource"]
    response = api.put(
        f"{platform.fhir('referral')}/Task/{task['id']}",
        json={**task, "status": "accepted"},
        headers=FHIR_JSON,
    )
    assert response.status_code == 200, response.text


def test_outcomes_move_the_task_in_progress_and_discharge_completes_it(platform, kafka):
    patient_id, request_id = post_referral(platform)
    _accept(platform, request_id)
    outcome = _pain_score(patient_id, "obs-1", 3)
    _publish(platform, kafka, FollowupEvent.OUTCOME_RECORDED, patient_id, [outcome])
    wait_for(lambda: _task_status(platform, request_id) == "in-progress", what="Task in-progress")

    discharge = {
        "resourceType": "ServiceRequest",
        "id": "next-1",
        "basedOn": [{"reference": ORDER}],
        "status": "active",
        "intent": "proposal",
        "code": concept(NextStep.DISCHARGE),
        "subject": {"reference": f"Patient/{patient_id}"},
        "reasonReference": [{"reference": "Observation/obs-1"}],
        "note": [{"text": "Sustained improvement at 6 months: back to the referrer."}],
    }
    _publish(platform, kafka, FollowupEvent.NEXT_STEP, patient_id, [discharge])
    wait_for(lambda: _task_status(platform, request_id) == "completed", what="Task completed")
    episode = api.get(
        f"{platform.fhir('referral')}/EpisodeOfCare", params={"patient": f"Patient/{patient_id}"}
    ).json()
    assert episode["entry"][0]["resource"]["status"] == "finished"


def test_followup_events_do_not_advance_a_referral_nobody_accepted(platform, kafka):
    patient_id, request_id = post_referral(platform)
    outcome = _pain_score(patient_id, "obs-2", 5)
    consumers = platform.runtime("referral").consumers
    before = sum(c.stats.handled for c in consumers)  # counted before it can be handled
    _publish(platform, kafka, FollowupEvent.OUTCOME_RECORDED, patient_id, [outcome])
    wait_for(
        lambda: sum(c.stats.handled for c in consumers) > before,
        what="the referral consumer to handle it",
    )
    assert _task_status(platform, request_id) == "received"
