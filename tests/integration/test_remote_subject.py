"""A lone ServiceRequest whose subject lives on the sender's FHIR server: fetched over real HTTP,
and only from a trusted FHIR base (the server-side request forgery guard).

The stand-in sender runs on loopback, so a referral service trusts it only through a base that
names the literal IP (REFERRAL_TRUSTED_FHIR_BASES): these tests start their own referral
service with such settings. The platform's referral service trusts nothing (the default).
No test sends traffic anywhere but loopback: private, link-local and public hosts are refused
before any look-up or connection, which the `network` fixture records and checks.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from painflow_referral.app import create_app
from painflow_referral.settings import ReferralSettings
from painflow_shared.testing.factories import patient, service_request
from painflow_shared.testing.fixtures import Platform, service_settings
from painflow_shared.testing.infra import pg_admin_url, scratch_databases
from painflow_shared.testing.servers import free_port, start_server

from .api import api
from .conftest import FHIR_JSON, stored_counts

pytestmark = pytest.mark.integration
MAX_BODY = 64 * 1024  # the trusting referral service's body limit, also its remote read limit


class Sender:
    """A small stand-in for the referring EHR's FHIR server; counts the requests it gets."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        self.server = start_server(self._app(), free_port())
        self.base = f"{self.server.url}/fhir"

    def _app(self) -> FastAPI:
        app, flaky = FastAPI(), {"calls": 0}

        @app.middleware("http")
        async def count(request: Request, call_next: Any) -> Response:
            self.hits.append(request.url.path)
            response: Response = await call_next(request)
            return response

        @app.get("/fhir/Patient/{pid}")
        def read_patient(pid: str) -> Response:
            if pid == "flaky":
                flaky["calls"] += 1
                if flaky["calls"] < 2:
                    return JSONResponse({}, status_code=503)
            if pid == "moved":  # a redirect towards cloud metadata must not be followed
                return RedirectResponse("http://169.254.169.254/latest/meta-data/", 302)
            if pid == "huge":
                return JSONResponse({**patient(mrn="huge"), "id": pid, "x": "a" * MAX_BODY})
            if pid in ("ehr-1", "flaky"):
                return JSONResponse({**patient(mrn=f"remote-{pid}"), "id": pid})
            return JSONResponse({"resourceType": "OperationOutcome", "issue": []}, 404)

        @app.get("/fhir/Condition/{cid}")
        def read_condition(cid: str) -> JSONResponse:
            return JSONResponse(
                {
                    "resourceType": "Condition",
                    "id": cid,
                    "subject": {"reference": "Patient/ehr-1"},
                    "code": {
                        "coding": [
                            {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "M54.16"}
                        ]
                    },
                    "onsetDateTime": "2026-10-01",
                }
            )

        return app


@pytest.fixture(scope="module")
def sender() -> Iterator[Sender]:
    running = Sender()
    yield running
    running.server.stop()


@pytest.fixture
def hits(sender: Sender) -> list[str]:
    sender.hits.clear()
    return sender.hits


@pytest.fixture(scope="module")
def dead_port() -> int:
    return free_port()  # trusted, but nothing listens there


@pytest.fixture(scope="module")
def trusting(run_id, kafka, span_exporter, sender, dead_port) -> Iterator[Platform]:
    """A referral service that trusts the sender (by literal IP), a dead port, and `localhost`."""
    bases = [
        sender.base,
        f"http://127.0.0.1:{dead_port}/fhir",
        sender.base.replace("127.0.0.1", "localhost"),
    ]
    with scratch_databases(pg_admin_url(), run_id, ("referral_remote",)) as urls:
        settings = service_settings(
            "referral",
            ReferralSettings,
            run_id=run_id,
            database_url=urls["referral_remote"],
            kafka=kafka,
            trusted_fhir_bases=",".join(bases),  # parsed as the environment variable would be
            max_body_bytes=MAX_BODY,
            start_background_workers=False,  # no relay, no consumer: the platform has those
        )
        server = start_server(create_app(settings), settings.port)
        try:
            yield Platform(servers={"referral": server}, spans=span_exporter, run_id=run_id)
        finally:
            server.stop()


@pytest.fixture
def network(monkeypatch) -> dict[str, list[str]]:
    """Every host this process resolves or connects to while a test runs (still done for real)."""
    seen: dict[str, list[str]] = {"resolved": [], "connected": []}
    resolve, connect = socket.getaddrinfo, socket.create_connection

    def recording_resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        seen["resolved"].append(str(host))
        return resolve(host, *args, **kwargs)

    def recording_connect(address: Any, *args: Any, **kwargs: Any) -> Any:
        seen["connected"].append(str(address[0]))
        return connect(address, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", recording_resolve)
    monkeypatch.setattr(socket, "create_connection", recording_connect)
    return seen


def refer(service: Platform, subject: str, reason: str | None = None) -> httpx.Response:
    request = service_request(subject, reason)
    if reason is None:
        request["reasonCode"] = [{"text": "neck pain"}]
    return api.post(
        f"{service.fhir('referral')}/ServiceRequest", json=request, headers=FHIR_JSON, timeout=60
    )


def test_patient_and_reason_are_fetched_from_a_trusted_sender(trusting, sender, hits):
    created = refer(trusting, f"{sender.base}/Patient/ehr-1", f"{sender.base}/Condition/c-9")
    assert created.status_code == 201, created.text
    assert hits == ["/fhir/Patient/ehr-1", "/fhir/Condition/c-9"]
    subject = created.json()["subject"]["reference"]
    assert subject.startswith("Patient/") and "ehr-1" not in subject
    stored = api.get(f"{trusting.fhir('referral')}/{subject}").json()
    assert {"system": sender.base, "value": "ehr-1"} in stored["identifier"]
    task = api.get(
        f"{trusting.fhir('referral')}/Task",
        params={"focus": f"ServiceRequest/{created.json()['id']}"},
    ).json()
    # the fetched Condition's onset (2026-10-01) is the injury: under 12 weeks, fast track
    assert task["entry"][0]["resource"]["businessStatus"]["coding"][0]["code"] == "fast-track"


def test_an_absolute_reference_under_a_trusted_base_stays_and_is_not_fetched(
    trusting, sender, hits
):
    request = service_request(f"{sender.base}/Patient/ehr-1", None)
    requester = {"reference": f"{sender.base}/Practitioner/dr"}
    request.update(reasonCode=[{"text": "neck pain"}], requester=requester)
    created = api.post(
        f"{trusting.fhir('referral')}/ServiceRequest", json=request, headers=FHIR_JSON
    )
    assert created.status_code == 201, created.text
    assert created.json()["requester"] == requester
    assert hits == ["/fhir/Patient/ehr-1"]


def test_a_flaky_trusted_sender_is_retried(trusting, sender):
    created = refer(trusting, f"{sender.base}/Patient/flaky")
    assert created.status_code == 201, created.text


def test_unknown_remote_patient_is_422(trusting, sender):
    response = refer(trusting, f"{sender.base}/Patient/nobody")
    assert response.status_code == 422
    issue = response.json()["issue"][0]
    assert "no Patient" in issue["diagnostics"] and issue["expression"] == [
        "ServiceRequest.subject"
    ]


def test_an_unreachable_trusted_sender_is_a_clear_502(trusting, dead_port):
    response = refer(trusting, f"http://127.0.0.1:{dead_port}/fhir/Patient/x")
    assert response.status_code == 502
    issue = response.json()["issue"][0]
    assert issue["code"] == "transient" and "unreachable" in issue["diagnostics"]


def assert_refused(
    service: Platform, response: httpx.Response, before: tuple[int, int], why: str
) -> None:
    assert response.status_code == 422, response.text
    issue = response.json()["issue"][0]
    assert issue["expression"] == ["ServiceRequest.subject"], issue
    assert why in issue["diagnostics"], issue
    assert "REFERRAL_TRUSTED_FHIR_BASES" in issue["diagnostics"]  # how an operator trusts one
    assert stored_counts(service) == before


def test_by_default_nothing_is_trusted_not_even_loopback(platform, sender, hits):
    before = stored_counts(platform)
    response = refer(platform, f"{sender.base}/Patient/ehr-1")
    assert_refused(platform, response, before, "not a trusted FHIR base")
    assert hits == []


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.2",  # loopback, but not the trusted literal IP
        "10.0.0.1",  # private
        "192.168.1.1",  # private
        "169.254.169.254",  # link-local: cloud metadata
        "[::1]",  # IPv6 loopback
        "[::ffff:127.0.0.1]",  # IPv4-mapped IPv6 loopback
        "example.org",  # public-looking, but not trusted
        "127.0.0.1.nip.io",  # a name made to look like the trusted IP
    ],
)
def test_untrusted_hosts_are_refused_before_any_look_up_or_connection(
    trusting, sender, hits, network, host
):
    before = stored_counts(trusting)
    response = refer(trusting, f"http://{host}:{sender.server.port}/fhir/Patient/ehr-1")
    assert_refused(trusting, response, before, "not a trusted FHIR base")
    assert hits == []
    bare = host.strip("[]")
    assert bare not in network["resolved"] and bare not in network["connected"]


def test_a_trusted_host_name_that_resolves_to_loopback_is_refused(trusting, sender, hits, network):
    before = stored_counts(trusting)
    response = refer(trusting, f"{sender.base.replace('127.0.0.1', 'localhost')}/Patient/ehr-1")
    assert_refused(trusting, response, before, "resolves to a loopback address")
    assert hits == [] and "localhost" in network["resolved"]


def test_a_look_alike_of_the_trusted_base_is_refused(trusting, sender, hits):
    before = stored_counts(trusting)
    for url in (
        f"{sender.server.url}/fhir-other/Patient/ehr-1",  # not on a segment boundary
        f"http://user@127.0.0.1:{sender.server.port}/fhir/Patient/ehr-1",  # user information
        f"{sender.base}/%2e%2e/Patient/ehr-1",  # a percent-escape
    ):
        response = refer(trusting, url)
        assert response.status_code == 422, (url, response.text)
        assert response.json()["issue"][0]["expression"] == ["ServiceRequest.subject"]
    assert hits == [] and stored_counts(trusting) == before


def test_an_untrusted_reason_stops_the_fetch_before_the_trusted_subject(trusting, sender, hits):
    before = stored_counts(trusting)
    response = refer(trusting, f"{sender.base}/Patient/ehr-1", "http://10.0.0.1/fhir/Condition/c")
    assert response.status_code == 422, response.text
    assert response.json()["issue"][0]["expression"] == ["ServiceRequest.reasonReference[0]"]
    assert hits == [] and stored_counts(trusting) == before


def test_a_redirect_is_not_followed(trusting, sender, hits, network):
    before = stored_counts(trusting)
    response = refer(trusting, f"{sender.base}/Patient/moved")
    assert response.status_code == 502, response.text
    assert "redirect" in response.json()["issue"][0]["diagnostics"]
    assert hits == ["/fhir/Patient/moved"] and "169.254.169.254" not in network["connected"]
    assert stored_counts(trusting) == before


def test_an_oversized_remote_answer_is_not_read_whole(trusting, sender):
    before = stored_counts(trusting)
    response = refer(trusting, f"{sender.base}/Patient/huge")
    assert response.status_code == 502, response.text
    assert f"more than {MAX_BODY} bytes" in response.json()["issue"][0]["diagnostics"]
    assert stored_counts(trusting) == before
