"""The event envelope: CloudEvents binary headers around a FHIR message Bundle."""

from __future__ import annotations

import json

import pytest

from painflow_shared.events.envelope import (
    EVENT_TYPE_SYSTEM,
    PoisonMessage,
    build_event,
    parse_record,
)

PATIENT = {"resourceType": "Patient", "id": "p1"}
REQUEST = {"resourceType": "ServiceRequest", "id": "sr1", "subject": {"reference": "Patient/p1"}}


def _event():
    return build_event(
        event_type="painflow.referral.received",
        service="referral",
        base_url="http://x/fhir",
        patient_id="p1",
        focus=[REQUEST],
        include=[PATIENT, REQUEST],
    )


def _record(envelope):
    headers = [(k, v.encode()) for k, v in envelope.headers().items()]
    return envelope.key.encode(), envelope.value(), headers


def test_message_bundle_opens_with_a_message_header_naming_the_event_and_focus():
    envelope = _event()
    bundle = envelope.bundle
    assert bundle["type"] == "message" and bundle["id"] == envelope.id
    header = bundle["entry"][0]["resource"]
    assert header["resourceType"] == "MessageHeader"
    assert header["eventCoding"] == {
        "system": EVENT_TYPE_SYSTEM,
        "code": "painflow.referral.received",
    }
    assert header["focus"] == [{"reference": "ServiceRequest/sr1"}]
    # each resource once, with an absolute fullUrl
    urls = [e["fullUrl"] for e in bundle["entry"][1:]]
    assert urls == ["http://x/fhir/ServiceRequest/sr1", "http://x/fhir/Patient/p1"]


def test_cloudevents_headers_are_binary_mode_and_keyed_by_patient():
    envelope = _event()
    headers = envelope.headers()
    assert headers["ce_specversion"] == "1.0"
    assert headers["ce_id"] == envelope.id
    assert headers["ce_type"] == "painflow.referral.received"
    assert headers["ce_subject"] == "Patient/p1"
    assert headers["ce_source"] == "/painflow/referral"
    assert headers["content-type"] == "application/fhir+json"
    assert envelope.key == "p1"


def test_round_trip_through_kafka_record_form():
    envelope = _event()
    parsed = parse_record(*_record(envelope))
    assert parsed.id == envelope.id and parsed.type == envelope.type
    assert parsed.first("ServiceRequest") == REQUEST
    assert parsed.patient_id == "p1"


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda k, v, h: (k, b"{not json", h), "not JSON"),
        (
            lambda k, v, h: (k, v, [x for x in h if x[0] != "ce_type"]),
            "missing CloudEvents headers: ce_type",
        ),
        (
            lambda k, v, h: (k, json.dumps({"resourceType": "Patient"}).encode(), h),
            "not a FHIR Bundle",
        ),
        (
            lambda k, v, h: (k, v, [(n, b"other" if n == "ce_id" else x) for n, x in h]),
            "whose id is ce_id",
        ),
        (
            lambda k, v, h: (k, v, [(n, b"0.3" if n == "ce_specversion" else x) for n, x in h]),
            "1.0",
        ),
    ],
)
def test_unreadable_records_are_poison_with_a_reason(mutate, reason):
    with pytest.raises(PoisonMessage, match=reason):
        parse_record(*mutate(*_record(_event())))
