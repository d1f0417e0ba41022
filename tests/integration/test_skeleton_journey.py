"""The walking skeleton: a referral flows from the referral service to the other three over Kafka,
and one trace covers the HTTP request, the relay, the produce and every consumer."""

from __future__ import annotations

import pytest

from painflow_shared.testing.fixtures import wait_for

from .api import api
from .conftest import post_referral

pytestmark = pytest.mark.integration


def _get_json(url: str) -> dict | None:
    response = api.get(url, timeout=10)
    return response.json() if response.status_code == 200 else None


def test_referral_reaches_assessment_scheduling_and_followup(platform):
    patient_id, request_id = post_referral(platform)

    worklist = wait_for(
        lambda: _get_json(f"{platform.url('assessment')}/worklist/{request_id}"),
        what="assessment worklist",
    )
    assert worklist["status"] == "awaiting-triage"
    assert worklist["patient_id"] == patient_id

    profile = wait_for(
        lambda: _get_json(f"{platform.url('scheduling')}/patients/{patient_id}/safety-profile"),
        what="scheduling profile",
    )
    assert profile["open_referrals"] == [request_id]

    journey = wait_for(
        lambda: _get_json(f"{platform.url('followup')}/journeys/{patient_id}"), what="journey"
    )
    steps = [event["step"] for event in journey["events"]]
    assert steps == ["injury", "referral"]
    assert journey["events"][1]["resources"][0] == f"ServiceRequest/{request_id}"
    assert journey["events"][1]["days_since_injury"] >= 0
    assert journey["current"]["step"] == "awaiting-triage"


def test_one_trace_covers_request_relay_produce_and_every_consumer(platform):
    platform.spans.clear()
    patient_id, request_id = post_referral(platform)
    wait_for(lambda: _get_json(f"{platform.url('followup')}/journeys/{patient_id}"), what="journey")
    wait_for(
        lambda: _get_json(f"{platform.url('assessment')}/worklist/{request_id}"), what="worklist"
    )
    wait_for(
        lambda: _get_json(f"{platform.url('scheduling')}/patients/{patient_id}/safety-profile"),
        what="profile",
    )

    def processing_spans():
        spans = platform.finished_spans()
        done = [s for s in spans if " process painflow.referral.received" in s.name]
        return spans if len({s.name.split(" ")[0] for s in done}) == 3 else None

    spans = wait_for(processing_spans, what="three consumer processing spans")
    server = [
        s
        for s in spans
        if s.kind.name == "SERVER" and s.attributes.get("http.route") in ("/fhir", "/fhir/")
    ]
    assert server, "no span for the POST /fhir request"
    trace_id = server[-1].context.trace_id
    in_trace = [s for s in spans if s.context.trace_id == trace_id]
    names = {s.name for s in in_trace}
    assert any(n.startswith("outbox publish painflow.referral.received") for n in names)
    producer_spans = [s for s in in_trace if s.kind.name == "PRODUCER"]
    assert len(producer_spans) == 1, names
    consumers = {
        s.name.split(" ")[0] for s in in_trace if " process painflow.referral.received" in s.name
    }
    assert consumers == {
        f"painflow-{service}-{platform.run_id}"
        for service in ("assessment", "scheduling", "followup")
    }
    by_id = {s.context.span_id: s for s in in_trace}
    send = producer_spans[0]
    for span in in_trace:
        if " process " in span.name:
            assert span.parent.span_id == send.context.span_id, (
                "processing span is not a child of the produce span"
            )
    assert by_id[send.parent.span_id].name.startswith("outbox publish")


def test_no_patient_data_in_span_attributes(platform):
    platform.spans.clear()
    post_referral(platform)
    search = {"family": "Testpatient", "birthdate": "1971-04-12"}
    assert api.get(f"{platform.fhir('referral')}/Patient", params=search).status_code == 200
    wait_for(
        lambda: [s for s in platform.finished_spans() if " process " in s.name],
        what="consumer spans",
    )
    text = " ".join(str(dict(s.attributes or {})) for s in platform.finished_spans())
    for secret in ("Testpatient", "Alex", "1971-04-12", "555-0100"):
        assert secret not in text
