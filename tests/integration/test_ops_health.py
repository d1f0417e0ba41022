"""Readiness tells the truth: a stopped or unassigned consumer, or a relay that cannot reach the
broker, makes /health/ready fail and say why in words; liveness stays a plain 200."""

from __future__ import annotations

import httpx
import pytest

from painflow_referral.app import create_app
from painflow_referral.settings import ReferralSettings
from painflow_shared.testing.factories import referral_bundle
from painflow_shared.testing.fixtures import wait_for
from painflow_shared.testing.servers import free_port, start_server

from .api import api
from .conftest import FHIR_JSON

pytestmark = pytest.mark.integration


def _ready(url: str) -> httpx.Response:
    return api.get(f"{url}/health/ready", timeout=30)


def test_a_stopped_consumer_makes_the_service_unready_until_it_is_back(platform):
    url = platform.url("followup")
    consumer = platform.runtime("followup").consumers[0]
    assert _ready(url).status_code == 200
    consumer.stop()
    try:
        ready = _ready(url)
        assert ready.status_code == 503
        assert ready.json()["checks"]["consumer"] == "fail"
        assert ready.json()["checks"]["database"] == "pass"
        assert "stopped" in ready.json()["problems"]["consumer"]
        assert api.get(f"{url}/health/live").status_code == 200
    finally:
        consumer.start()
    wait_for(lambda: _ready(url).status_code == 200, timeout=60, what="ready again")
    assert "problems" not in _ready(url).json()


def test_without_a_broker_the_consumer_and_relay_say_so(tmp_path):
    """A referral service whose broker address answers nothing: its consumer is never assigned
    partitions, and once a referral waits in the outbox the relay's attempt fails."""
    settings = ReferralSettings(
        port=free_port(),
        database_url=f"sqlite:///{tmp_path}/referral.db",
        trace_console=False,
        kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",
    )
    app = create_app(settings)
    app.state.runtime.consumer_grace_seconds = 1.0
    server = start_server(app, settings.port)
    try:
        posted = api.post(
            f"{server.url}/fhir", json=referral_bundle(), headers=FHIR_JSON, timeout=30
        )
        assert posted.status_code == 200, "the outbox takes the event without a broker"
        wait_for(
            lambda: _ready(server.url).json()["checks"]["relay"] == "fail",
            timeout=60,
            what="the relay's failed attempt to show",
        )
        body = _ready(server.url).json()
        assert body["status"] == "fail"
        assert body["checks"] == {
            "database": "pass",
            "kafka": "fail",
            "relay": "fail",
            "consumer": "fail",
        }
        assert "no partitions assigned" in body["problems"]["consumer"]
        assert "relay" in body["problems"]["relay"]
        assert settings.kafka_bootstrap_servers in body["problems"]["kafka"]
        assert api.get(f"{server.url}/health/live").json() == {"status": "pass"}
    finally:
        server.stop()
