"""Pytest fixtures for real-infrastructure tests (registered by the repository's conftest.py).

The platform fixture runs the four services as real HTTP servers in this process, each on its
own fresh PostgreSQL database and on Kafka topics unique to this run, and captures every span.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from painflow_shared.settings import SharedSettings
from painflow_shared.telemetry import tracer_provider
from painflow_shared.testing.infra import (
    kafka_bootstrap,
    new_run_id,
    pg_admin_url,
    require_tcp,
    scratch_databases,
)
from painflow_shared.testing.servers import RunningServer, free_port, start_server

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
def database_urls(run_id: str) -> Iterator[dict[str, str]]:
    with scratch_databases(pg_admin_url(), run_id) as urls:
        yield urls


@pytest.fixture(scope="session")
def kafka() -> str:
    address = kafka_bootstrap()
    require_tcp(address, "Kafka", "Run `make test`, or `bash deploy/kafka/kafka.sh start`.")
    return address


@dataclass
class Platform:
    servers: dict[str, RunningServer]
    spans: InMemorySpanExporter
    run_id: str
    settings: dict[str, SharedSettings] = field(default_factory=dict)

    def url(self, service: str) -> str:
        return self.servers[service].url

    def fhir(self, service: str) -> str:
        return f"{self.url(service)}/fhir"

    def runtime(self, service: str) -> Any:
        return self.servers[service].app.state.runtime

    def client(self, service: str) -> httpx.Client:
        return httpx.Client(base_url=self.url(service), timeout=30)

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


@pytest.fixture(scope="session")
def platform(
    run_id: str, database_urls: dict[str, str], kafka: str, span_exporter: InMemorySpanExporter
) -> Iterator[Platform]:
    from painflow_assessment.app import create_app as assessment_app
    from painflow_assessment.settings import AssessmentSettings
    from painflow_followup.app import create_app as followup_app
    from painflow_followup.settings import FollowupSettings
    from painflow_referral.app import create_app as referral_app
    from painflow_referral.settings import ReferralSettings
    from painflow_scheduling.app import create_app as scheduling_app
    from painflow_scheduling.settings import SchedulingSettings

    factories: dict[str, tuple[Callable[[Any], Any], type[SharedSettings]]] = {
        "referral": (referral_app, ReferralSettings),
        "assessment": (assessment_app, AssessmentSettings),
        "scheduling": (scheduling_app, SchedulingSettings),
        "followup": (followup_app, FollowupSettings),
    }
    platform = Platform(servers={}, spans=span_exporter, run_id=run_id)
    try:
        for name, (factory, cls) in factories.items():
            settings = service_settings(
                name, cls, run_id=run_id, database_url=database_urls[name], kafka=kafka
            )
            platform.settings[name] = settings
            platform.servers[name] = start_server(factory(settings), settings.port)
        consumers = [c for name in factories for c in platform.runtime(name).consumers]
        wait_for(lambda: all(c.assigned for c in consumers), timeout=90, what="consumer groups")
        yield platform
    finally:
        for server in platform.servers.values():
            server.stop()
