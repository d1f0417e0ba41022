"""The remote FHIR client's own guards, without a network: pinned hosts, redirects, byte limit."""

from __future__ import annotations

import ipaddress

import httpcore
import httpx
import pytest

from painflow_shared.fhir.errors import UpstreamUnavailable
from painflow_shared.fhir.remote_client import PinnedBackend, RemoteFhirClient
from painflow_shared.fhir.remote_policy import RemotePolicy

URL = "https://ehr.example.org/fhir/Patient/1"


def client_answering(handler: httpx.MockTransport) -> tuple[RemoteFhirClient, httpx.Client]:
    remote = RemoteFhirClient(RemotePolicy.from_bases(["https://ehr.example.org/fhir"]), 1000)
    return remote, httpx.Client(transport=handler, follow_redirects=False)


def test_the_pinned_backend_connects_to_no_other_host():
    backend = PinnedBackend("ehr.example.org", [ipaddress.ip_address("127.0.0.1")])
    with pytest.raises(httpcore.ConnectError, match="not checked"):
        backend.connect_tcp("169.254.169.254", 80)


def test_a_redirect_is_reported_not_followed():
    moved = httpx.MockTransport(
        lambda request: httpx.Response(302, headers={"location": "http://169.254.169.254/"})
    )
    remote, client = client_answering(moved)
    with pytest.raises(UpstreamUnavailable, match="redirects are not followed"):
        remote._with_retries(client, URL)


@pytest.mark.parametrize("declared", [True, False])
def test_a_body_over_the_limit_is_abandoned(declared):
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(100):
            yield b"x" * 100

    def answer(request: httpx.Request) -> httpx.Response:
        if declared:
            return httpx.Response(200, content=b"x" * 5000)
        return httpx.Response(200, content=chunks())

    remote, client = client_answering(httpx.MockTransport(answer))
    with pytest.raises(UpstreamUnavailable, match="more than 1000 bytes"):
        remote._with_retries(client, URL)


def test_a_body_within_the_limit_is_read_whole():
    ok = httpx.MockTransport(lambda request: httpx.Response(200, content=b"{}"))
    remote, client = client_answering(ok)
    assert remote._with_retries(client, URL).body == b"{}"
