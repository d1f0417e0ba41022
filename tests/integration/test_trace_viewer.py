"""The trace viewer: one patient step is one trace in Zipkin, read back over Zipkin's own HTTP API.

The four services run here as separate processes (`python -m painflow_<service>`, as `make run`
starts them), each with its own tracer provider exporting to Zipkin through
PAINFLOW_ZIPKIN_ENDPOINT: the in-process ``platform`` shares one global provider, which would
neither name each service in the viewer nor exercise the exporter choice. Zipkin is started with
deploy/tracing/zipkin.sh (the first run on a machine resolves its jar: ~131 MB, once, usually
already done by `make setup`) and stopped afterwards only if this test started it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.instrumentation.utils import suppress_instrumentation

from painflow_shared.testing.fixtures import REPO, wait_for
from painflow_shared.testing.infra import pg_admin_url, scratch_databases
from painflow_shared.testing.servers import free_port

from .api import api
from .conftest import SERVICES, post_referral

pytestmark = pytest.mark.integration

ZIPKIN_SH = REPO / "deploy" / "tracing" / "zipkin.sh"
ZIPKIN = f"http://127.0.0.1:{os.environ.get('ZIPKIN_PORT', '9411')}"
CONSUMERS = ("assessment", "scheduling", "followup")
PUBLISH = "outbox publish painflow.referral.received"  # the relay's span


def _zipkin(command: str) -> int:
    return subprocess.run(["bash", str(ZIPKIN_SH), command], timeout=300).returncode


@pytest.fixture(scope="module")
def zipkin() -> Iterator[str]:
    """Zipkin's base URL; one already running (`make up`'s) is reused and left running."""
    already_running = _zipkin("status") == 0
    if not already_running:
        assert _zipkin("start") == 0, "deploy/tracing/zipkin.sh start failed (output above)"
    try:
        yield ZIPKIN
    finally:
        if not already_running:
            _zipkin("stop")


@dataclass
class Processes:
    """The four services as child processes, on this run's databases and topics."""

    ports: dict[str, int]
    logs: Path

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def fhir(self, service: str) -> str:
        return f"{self.url(service)}/fhir"


def _environment(
    name: str, processes: Processes, run_id: str, database_url: str, kafka: str, zipkin: str
) -> dict[str, str]:
    prefix = name.upper()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_EXPORTER_")}
    env.update(
        {
            f"{prefix}_PORT": str(processes.ports[name]),
            f"{prefix}_DATABASE_URL": database_url,
            f"{prefix}_CONSUMER_GROUP": f"painflow-{name}-{run_id}",
            f"{prefix}_CONSUMER_BACKOFF_SECONDS": "0.05",
            "FOLLOWUP_ASSESSMENT_BASE_URL": processes.fhir("assessment"),
            "PAINFLOW_REFERRAL_BASE_URL": processes.fhir("referral"),
            "PAINFLOW_TOPIC_PREFIX": f"test-{run_id}.",
            "PAINFLOW_TOPIC_PARTITIONS": "3",
            "KAFKA_BOOTSTRAP_SERVERS": kafka,
            "PAINFLOW_ZIPKIN_ENDPOINT": f"{zipkin}/api/v2/spans",
            "PAINFLOW_TRACE_CONSOLE": "false",
        }
    )
    return env


def _ready(processes: Processes, children: dict[str, subprocess.Popen[bytes]]) -> bool:
    for name, child in children.items():
        if child.poll() is not None:
            log = (processes.logs / f"{name}.log").read_text(errors="replace")[-3000:]
            raise AssertionError(f"{name} exited with {child.returncode}:\n{log}")
    try:
        return all(
            api.get(f"{processes.url(n)}/health/ready", timeout=2).status_code == 200
            for n in children
        )
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def processes(
    zipkin: str, kafka: str, run_id: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Processes]:
    processes = Processes({name: free_port() for name in SERVICES}, tmp_path_factory.mktemp("logs"))
    children: dict[str, subprocess.Popen[bytes]] = {}
    own = f"{run_id}tv"  # not the in-process platform's databases, topics or consumer groups
    with scratch_databases(pg_admin_url(), own, SERVICES) as urls:
        try:
            for name in SERVICES:
                env = _environment(name, processes, own, urls[name], kafka, zipkin)
                with open(processes.logs / f"{name}.log", "wb") as log:
                    children[name] = subprocess.Popen(
                        [sys.executable, "-m", f"painflow_{name}"],
                        env=env,
                        cwd=REPO,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
            wait_for(lambda: _ready(processes, children), timeout=120, what="four services ready")
            yield processes
        finally:
            _stop(children)


def _stop(children: dict[str, subprocess.Popen[bytes]]) -> None:
    for child in children.values():
        child.terminate()
    for child in children.values():
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=10)


def _refer(processes: Processes) -> tuple[str, str]:
    """POST a referral as an EHR without tracing would: this test process may have httpx
    instrumented (the in-process platform does that), and its traceparent would make our step a
    child of a span that only this process knows, leaving the trace in Zipkin without its root."""
    with suppress_instrumentation():
        return post_referral(processes)


def _journey_trace_id(processes: Processes, patient_id: str) -> str | None:
    """The trace id the journey shows for the referral step, once the follow-up service has it."""
    response = api.get(f"{processes.url('followup')}/journeys/{patient_id}", timeout=10)
    if response.status_code != 200:
        return None
    steps = [e for e in response.json()["events"] if e["step"] == "referral"]
    return steps[0]["trace_id"] if steps and steps[0]["trace_id"] else None


def _trace(zipkin: str, trace_id: str) -> list[dict[str, Any]] | None:
    """The trace from Zipkin once each process has exported its part (each on its own timer):
    the request, the relay's publish and every consuming service's processing span."""
    response = api.get(f"{zipkin}/api/v2/trace/{trace_id}", timeout=10)
    if response.status_code != 200:
        return None
    spans: list[dict[str, Any]] = response.json()
    seen = {_service(s) for s in spans if " process " in s["name"]}
    if not any(s["name"] == PUBLISH for s in spans) or not any(_root(s) for s in spans):
        return None
    return spans if seen >= {f"painflow-{c}" for c in CONSUMERS} else None


def _root(span: dict[str, Any]) -> bool:
    return not span.get("parentId")


def _service(span: dict[str, Any]) -> str:
    return str(span.get("localEndpoint", {}).get("serviceName", ""))


def _ancestors(span: dict[str, Any], by_id: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    chain = []
    while span.get("parentId"):
        span = by_id[span["parentId"]]  # a KeyError is a broken link: a span missing its parent
        chain.append(span)
    return chain


def test_one_patient_step_is_one_trace_in_zipkin(processes: Processes, zipkin: str) -> None:
    patient_id, _ = _refer(processes)
    trace_id = wait_for(
        lambda: _journey_trace_id(processes, patient_id), timeout=60, what="journey step"
    )
    spans = wait_for(lambda: _trace(zipkin, trace_id), timeout=60, what="the trace in Zipkin")

    assert {s["traceId"] for s in spans} == {trace_id}
    by_id = {s["id"]: s for s in spans}
    roots = [s for s in spans if _root(s)]
    assert len(roots) == 1, "one patient step, one root span"
    root = roots[0]
    assert (_service(root), root.get("kind")) == ("painflow-referral", "SERVER")
    assert root["tags"].get("http.route", "").startswith("/fhir")

    publish = [s for s in spans if s["name"] == PUBLISH]
    assert len(publish) == 1 and _service(publish[0]) == "painflow-referral"
    assert publish[0]["tags"]["painflow.event_type"] == "painflow.referral.received"
    assert root in _ancestors(publish[0], by_id), "the relay's span is not under the request"
    produce = [s for s in spans if s.get("kind") == "PRODUCER"]
    assert len(produce) == 1 and produce[0]["parentId"] == publish[0]["id"]

    for service in CONSUMERS:
        process = [
            s for s in spans if " process " in s["name"] and _service(s) == f"painflow-{service}"
        ]
        assert len(process) == 1, f"{service}: {[s['name'] for s in process]}"
        assert process[0]["kind"] == "CONSUMER"
        assert process[0]["parentId"] == produce[0]["id"], f"{service} is not under the produce"
        assert (
            process[0]["tags"]["messaging.message.id"] == publish[0]["tags"]["messaging.message.id"]
        )
        assert _ancestors(process[0], by_id)[-1] is root

    # the viewer shows ids and types only: nothing the referral said about the patient
    text = api.get(f"{zipkin}/api/v2/trace/{trace_id}", timeout=10).text
    for secret in ("Testpatient", "Alex", "1971-04-12", "555-0100"):
        assert secret not in text


def _found(zipkin: str, **query: str) -> set[str]:
    """The trace ids a Zipkin search (the UI's search, over its API) returns."""
    params = {**query, "lookback": "600000", "limit": "1000"}
    found = api.get(f"{zipkin}/api/v2/traces", params=params, timeout=10)
    assert found.status_code == 200, found.text
    return {trace[0]["traceId"] for trace in found.json()}


def test_the_viewer_finds_a_step_by_event_id_event_type_and_resource_id(
    processes: Processes, zipkin: str
) -> None:
    """The searches the README's "For ops" section shows find the step."""
    patient_id, request_id = _refer(processes)
    trace_id = wait_for(
        lambda: _journey_trace_id(processes, patient_id), timeout=60, what="journey step"
    )
    spans = wait_for(lambda: _trace(zipkin, trace_id), timeout=60, what="the trace in Zipkin")
    event_id = next(s for s in spans if s["name"] == PUBLISH)["tags"]["messaging.message.id"]

    assert trace_id in _found(zipkin, annotationQuery=f"messaging.message.id={event_id}")
    assert trace_id in _found(zipkin, serviceName="painflow-referral", spanName=PUBLISH)
    assert trace_id in _found(
        zipkin, annotationQuery="painflow.event_type=painflow.referral.received"
    )
    assert trace_id in _found(zipkin, annotationQuery=f"painflow.subject=Patient/{patient_id}")

    # a request that names a resource in its path is found by that path (its own trace)
    path = f"/fhir/ServiceRequest/{request_id}"
    assert api.get(f"{processes.url('referral')}{path}", timeout=10).status_code == 200
    read = wait_for(
        lambda: _found(zipkin, annotationQuery=f"http.target={path}"), what="the read in Zipkin"
    )
    assert len(read) == 1 and trace_id not in read
