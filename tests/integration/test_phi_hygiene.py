"""No patient data where it does not belong: every log line and every span of a whole journey
(referral to discharge, all four services, over Kafka) is scanned for the test patient's name,
birth date, identifiers, phone number and the referral's free text, and none is found.

Log lines are captured as they are written (the services' own JSON formatter, on the root
logger, at DEBUG); spans are every span the services exported during the journey.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from painflow_shared.telemetry import JsonLogFormatter
from painflow_shared.testing.journey import Bases, JourneyDriver

from .api import api
from .conftest import SERVICES

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(JsonLogFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    handler = _Lines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler.lines
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _phi(patient: dict[str, Any], request: dict[str, Any]) -> dict[str, str]:
    """The strings that identify the patient or say something only their record says."""
    found = {
        "family name": patient["name"][0]["family"],
        "given name": patient["name"][0]["given"][0],
        "birth date": patient["birthDate"],
        "phone": patient["telecom"][0]["value"],
        "referral free text": request["code"]["text"],
        "requester": request["requester"]["display"],
    }
    for n, identifier in enumerate(patient["identifier"]):
        found[f"identifier {n}"] = identifier["value"]
    for n, identifier in enumerate(request["identifier"]):
        found[f"referral identifier {n}"] = identifier["value"]
    return found


def _span_texts(spans: list[Any]) -> Iterator[str]:
    for span in spans:
        yield span.name
        yield json.dumps({k: str(v) for k, v in (span.attributes or {}).items()})
        for event in span.events:
            yield event.name
            yield json.dumps({k: str(v) for k, v in (event.attributes or {}).items()})


def test_no_log_line_or_span_of_a_whole_journey_carries_patient_data(platform, log_lines):
    spans_before = len(platform.finished_spans())
    driver = JourneyDriver(Bases(*(platform.url(s) for s in SERVICES)), timeout=20, auth=api.auth)
    try:
        result = driver.run()
    finally:
        driver.close()
    referral = platform.fhir("referral")
    patient = api.get(f"{referral}/Patient/{result.patient_id}").json()
    request = api.get(f"{referral}/ServiceRequest/{result.referral_id}").json()
    phi = _phi(patient, request)
    spans = platform.finished_spans()[spans_before:]
    assert len(log_lines) > 20 and len(spans) > 50  # the scan saw the journey's work

    leaks = [
        (what, where[:200])
        for where in [*log_lines, *_span_texts(spans)]
        for what, value in phi.items()
        if value in where
    ]
    assert leaks == []
