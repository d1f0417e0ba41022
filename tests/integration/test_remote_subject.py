"""A lone ServiceRequest whose subject lives on the sender's FHIR server: fetched over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from painflow_shared.testing.factories import patient, service_request
from painflow_shared.testing.servers import RunningServer, free_port, start_server

from .conftest import FHIR_JSON

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sender() -> Iterator[RunningServer]:
    """A small stand-in for the referring EHR's FHIR server (real HTTP on loopback)."""
    app = FastAPI()
    flaky = {"calls": 0}

    @app.get("/fhir/Patient/{pid}")
    def read_patient(pid: str) -> JSONResponse:
        if pid == "flaky":
            flaky["calls"] += 1
            if flaky["calls"] < 2:
                return JSONResponse({}, status_code=503)
        if pid in ("ehr-1", "flaky"):
            return JSONResponse({**patient(mrn=f"remote-{pid}"), "id": pid})
        return JSONResponse({"resourceType": "OperationOutcome", "issue": []}, status_code=404)

    @app.get("/fhir/Condition/{cid}")
    def read_condition(cid: str) -> JSONResponse:
        body = {
            "resourceType": "Condition",
            "id": cid,
            "subject": {"reference": "Patient/ehr-1"},
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "M54.16"}]},
            "onsetDateTime": "2026-10-01",
        }
        return JSONResponse(body)

    server = start_server(app, free_port())
    yield server
    server.stop()


def test_patient_and_reason_are_fetched_from_the_sender(platform, sender):
    base = f"{sender.url}/fhir"
    request = service_request(f"{base}/Patient/ehr-1", f"{base}/Condition/c-9")
    created = httpx.post(
        f"{platform.fhir('referral')}/ServiceRequest", json=request, headers=FHIR_JSON, timeout=60
    )
    assert created.status_code == 201, created.text
    subject = created.json()["subject"]["reference"]
    assert subject.startswith("Patient/") and "ehr-1" not in subject
    stored = httpx.get(f"{platform.fhir('referral')}/{subject}").json()
    assert {"system": base, "value": "ehr-1"} in stored["identifier"]
    task = httpx.get(
        f"{platform.fhir('referral')}/Task",
        params={"focus": f"ServiceRequest/{created.json()['id']}"},
    ).json()
    assert (
        task["entry"][0]["resource"]["businessStatus"]["coding"][0]["code"] == "fast-track"
    )  # onset 2026-10-01


def test_a_flaky_sender_is_retried(platform, sender):
    request = service_request(f"{sender.url}/fhir/Patient/flaky", None)
    request["reasonCode"] = [{"text": "neck pain"}]
    created = httpx.post(
        f"{platform.fhir('referral')}/ServiceRequest", json=request, headers=FHIR_JSON, timeout=60
    )
    assert created.status_code == 201, created.text


def test_unknown_remote_patient_is_422(platform, sender):
    request = service_request(f"{sender.url}/fhir/Patient/nobody", None)
    request["reasonCode"] = [{"text": "neck pain"}]
    response = httpx.post(
        f"{platform.fhir('referral')}/ServiceRequest", json=request, headers=FHIR_JSON, timeout=60
    )
    assert response.status_code == 422
    assert "no Patient" in response.json()["issue"][0]["diagnostics"]


def test_unreachable_sender_is_a_clear_502(platform):
    request = service_request(f"http://127.0.0.1:{free_port()}/fhir/Patient/x", None)
    request["reasonCode"] = [{"text": "neck pain"}]
    response = httpx.post(
        f"{platform.fhir('referral')}/ServiceRequest", json=request, headers=FHIR_JSON, timeout=60
    )
    assert response.status_code == 502
    issue = response.json()["issue"][0]
    assert issue["code"] == "transient" and "unreachable" in issue["diagnostics"]
