"""Pytest fixtures and helpers for real-infrastructure tests (registered by the repository's
conftest.py): the FHIR samples, the run's Kafka and span capture, settings for a service under
test, and polling. Nothing here knows a service: the four-service ``platform`` fixture lives with
the tests that use it (tests/integration/conftest.py).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from painflow_shared.settings import SharedSettings
from painflow_shared.telemetry import tracer_provider
from painflow_shared.testing.identity import Identity, IdentityUnavailable
from painflow_shared.testing.infra import (
    kafka_bootstrap,
    new_run_id,
    require_tcp,
)
from painflow_shared.testing.servers import RunningServer, free_port

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def fhir_samples() -> Path:
    path = Path(os.environ.get("FHIR_SAMPLES", REPO.parent / "shared" / "fhir-samples"))
    if not path.is_dir():
        pytest.skip(f"FHIR samples not found at {path} (set FHIR_SAMPLES); CI always has them")
    return path


@pytest.fixture(scope="session")
def run_id() -> str:
    return new_run_id()


@pytest.fixture(scope="session")
def span_exporter() -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    tracer_provider(SharedSettings(trace_console=False), extra=SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture(scope="session")
def kafka() -> str:
    address = kafka_bootstrap()
    require_tcp(address, "Kafka", "Run `make test`, or `bash deploy/kafka/kafka.sh start`.")
    return address


@pytest.fixture(scope="session")
def identity() -> Iterator[Identity]:
    """The local identity provider (Keycloak): tokens per client, a patient's token, and
    tokens a test mints with a key the realm publishes for this session only."""
    try:
        found = Identity.connect()
    except IdentityUnavailable as error:
        pytest.fail(str(error), pytrace=False)
    yield found
    found.unregister_signer()


@dataclass
class Platform:
    servers: dict[str, RunningServer]
    spans: InMemorySpanExporter
    run_id: str
    settings: dict[str, SharedSettings] = field(default_factory=dict)
    auth: httpx.Auth | None = None  # every test call's credentials (Keycloak's admin client)

    def url(self, service: str) -> str:
        return self.servers[service].url

    def fhir(self, service: str) -> str:
        return f"{self.url(service)}/fhir"

    def runtime(self, service: str) -> Any:
        return self.servers[service].app.state.runtime

    def client(self, service: str) -> httpx.Client:
        """A client of one service, authorised as the platform's test client."""
        return httpx.Client(base_url=self.url(service), timeout=30, auth=self.auth)

    def finished_spans(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())


def service_settings(
    service: str,
    cls: type[SharedSettings],
    *,
    run_id: str,
    database_url: str,
    kafka: str,
    **extra: Any,
) -> SharedSettings:
    port = free_port()
    return cls(
        port=port,
        database_url=database_url,
        kafka_bootstrap_servers=kafka,
        topic_prefix=f"test-{run_id}.",
        consumer_group=f"painflow-{service}-{run_id}",
        consumer_backoff_seconds=0.05,
        consumer_max_attempts=3,
        topic_partitions=3,
        trace_console=False,
        **extra,
    )


S = TypeVar("S", bound=SharedSettings)


def production_settings(cls: type[S], service: str, **extra: Any) -> S:
    """A service's settings under PAINFLOW_ENV=production, with what production requires besides
    (the service's own Kafka user, a password that is not the development default)."""
    return cls(
        environment="production",
        kafka_sasl_username=service,
        kafka_sasl_password="a-production-secret",
        **extra,
    )


def wait_for(
    predicate: Callable[[], Any],
    *,
    timeout: float = 30.0,
    interval: float = 0.1,
    what: str = "condition",
) -> Any:
    """Poll until ``predicate()`` is truthy; fail the test with ``what`` if it never is."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
