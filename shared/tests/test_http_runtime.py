"""What any HTTP client sees of a service's edge, over real uvicorn on loopback: an error never
poisons the keep-alive connection, an oversized body is refused while it streams, and
production mode hides the API docs and metrics, sets security headers and names no server.

The referral service stands in for every service (the edge is shared); it runs on SQLite with
no background workers, since none of this touches the database or Kafka.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio.to_thread
import httpx
import pytest
from sqlalchemy.exc import OperationalError

from painflow_referral.app import create_app
from painflow_referral.settings import ReferralSettings
from painflow_shared.telemetry import JsonLogFormatter
from painflow_shared.testing.factories import referral_bundle
from painflow_shared.testing.fixtures import service_settings
from painflow_shared.testing.servers import RunningServer, start_server

FHIR_JSON = {"content-type": "application/fhir+json"}
BODY_LIMIT = 256 * 1024
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


# production refuses to run without authentication; these tests never get as far as a token
_NO_ISSUER = {"auth_disabled": False, "auth_issuer": "http://127.0.0.1:9/realms/none"}


# production refuses to start without Kafka credentials (never contacted here)
_KAFKA_USER = {"kafka_sasl_username": "referral", "kafka_sasl_password": "a-production-secret"}


def _serve(tmp_path: Path, **extra: Any) -> RunningServer:
    settings = service_settings(
        "referral",
        ReferralSettings,
        run_id="edge",
        database_url=f"sqlite:///{tmp_path}/referral.db",
        kafka="127.0.0.1:9",  # never contacted: no background workers
        start_background_workers=False,
        max_body_bytes=BODY_LIMIT,
        # the HTTP edge; authorization: tests/integration
        **({"auth_disabled": True} | _KAFKA_USER | extra),
    )
    app = create_app(settings)

    def boom() -> None:
        raise RuntimeError("Jane Doe, born 1970-01-01")

    def database_gone() -> None:
        raise OperationalError("SELECT 1", {}, ConnectionError("server closed the connection"))

    app.add_api_route("/boom", boom)
    app.add_api_route("/database-gone", database_gone)
    return start_server(app, settings.port)


@pytest.fixture
def development(tmp_path: Path) -> Iterator[RunningServer]:
    server = _serve(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def production(tmp_path: Path) -> Iterator[RunningServer]:
    server = _serve(tmp_path, environment="production", **_NO_ISSUER)
    yield server
    server.stop()


class _JsonLines(logging.Handler):
    """Formats in the server's thread, while its span is current (as the real handler does)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonLogFormatter())
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def log_lines() -> Iterator[list[dict[str, Any]]]:
    handler = _JsonLines()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler.lines
    root.removeHandler(handler)


def _stream(response: httpx.Response) -> object:
    """The TCP connection a response came on (httpx opens a new one once the server closed)."""
    return response.extensions["network_stream"]


def test_a_500_leaves_the_keep_alive_connection_usable(development, log_lines):
    with httpx.Client(base_url=development.url, timeout=10) as client:
        failed = client.get("/boom")
        time.sleep(0.3)  # time for a server-side close to reach the client
        after = client.get("/fhir/metadata")
    assert failed.status_code == 500
    assert failed.headers["content-type"].startswith("application/fhir+json")
    assert failed.json()["issue"][0]["code"] == "exception"
    assert "Jane" not in failed.text
    assert "close" not in failed.headers.get("connection", "")
    assert after.status_code == 200
    assert _stream(after) is _stream(failed), "the server closed the connection after the 500"
    errors = [line for line in log_lines if line["level"] == "ERROR"]
    assert [line["message"] for line in errors] == ["unhandled error on GET /boom"]
    assert errors[0]["error"] == "RuntimeError" and len(errors[0]["trace_id"]) == 32
    assert "Jane" not in json.dumps(log_lines)


def test_a_chunked_body_over_the_limit_is_refused_while_it_streams(development):
    sent = 0
    chunk = b" " * 65536

    def body() -> Iterator[bytes]:  # no Content-Length: only counting can stop it
        nonlocal sent
        for _ in range(100 * 1024 * 1024 // len(chunk)):
            sent += len(chunk)
            yield chunk

    with httpx.Client(base_url=development.url, timeout=30) as client:
        response = client.post("/fhir", content=body(), headers=FHIR_JSON)
    assert response.status_code == 413
    assert sent < 20 * 1024 * 1024, f"the server read {sent} bytes of a 100 MiB body"
    assert response.json()["issue"][0]["code"] == "too-costly"
    assert response.headers["connection"] == "close"
    assert httpx.get(f"{development.url}/fhir/metadata").status_code == 200


def test_a_declared_length_over_the_limit_is_refused_before_reading(development):
    with httpx.Client(base_url=development.url, timeout=10) as client:
        response = client.post("/fhir", content=b"{" * (BODY_LIMIT + 1), headers=FHIR_JSON)
    assert response.status_code == 413
    assert response.headers["connection"] == "close"
    assert response.json()["issue"][0]["code"] == "too-costly"


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json", "/metrics"])
def test_production_serves_no_docs_and_no_metrics(production, path):
    response = httpx.get(f"{production.url}{path}")
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"


def test_production_serves_metrics_where_enabled(tmp_path):
    server = _serve(tmp_path, environment="production", metrics_enabled=True, **_NO_ISSUER)
    try:
        assert "painflow_http_requests" in httpx.get(f"{server.url}/metrics").text
        assert httpx.get(f"{server.url}/docs").status_code == 404
    finally:
        server.stop()


@pytest.mark.parametrize("path", ["/docs", "/openapi.json", "/metrics"])
def test_development_serves_docs_and_metrics(development, path):
    assert httpx.get(f"{development.url}{path}").status_code == 200


@pytest.mark.parametrize(
    "path", ["/fhir/Patient?family=x", "/fhir/Patient/nope", "/boom", "/health/live", "/nowhere"]
)
def test_every_response_has_security_headers_and_no_store(production, path):
    response = httpx.get(f"{production.url}{path}")
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    assert response.headers["cache-control"] == "no-store"
    assert "server" not in response.headers


def test_the_capability_statement_may_be_cached(production):
    response = httpx.get(f"{production.url}/fhir/metadata")
    assert response.status_code == 200
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "no-store" not in response.headers.get("cache-control", "")
    assert "server" not in response.headers


def test_a_lost_database_connection_is_a_503_to_retry_and_the_connection_serves_on(development):
    with httpx.Client(base_url=development.url) as client:
        gone = client.get("/database-gone")
        assert gone.status_code == 503
        assert gone.headers["retry-after"] == "1"
        assert gone.json()["issue"][0]["code"] == "transient"
        assert client.get("/fhir/metadata").status_code == 200


def test_a_referral_post_hands_work_to_the_thread_pool_once(development, monkeypatch):
    """The unit of work is the one blocking step of a POST: every dependency on the way to it
    (content negotiation, the runtime, the handlers, the caller) is async, where each plain
    ``def`` one cost a thread-pool hand-off per request (issue 12: there were 4 here, 5 with
    authentication on, where the token's check now runs in the pool only for a new token)."""
    handoffs: list[str] = []
    run_sync = anyio.to_thread.run_sync

    async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:
        target = getattr(func, "func", func)  # a functools.partial names its function
        handoffs.append(getattr(target, "__qualname__", type(target).__name__))
        return await run_sync(func, *args, **kwargs)

    with httpx.Client(base_url=development.url, timeout=30) as client:
        warm = client.post("/fhir", json=referral_bundle(), headers=FHIR_JSON)
        assert warm.status_code == 200, warm.text
        monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
        response = client.post("/fhir", json=referral_bundle(), headers=FHIR_JSON)
    assert response.status_code == 200, response.text
    assert len(handoffs) == 1, handoffs
