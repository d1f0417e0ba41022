"""What an ops engineer sees: health, metrics, capability statements, truthful readiness."""

from __future__ import annotations

import pytest

from painflow_referral.app import create_app
from painflow_referral.settings import ReferralSettings
from painflow_shared.testing.fixtures import wait_for
from painflow_shared.testing.servers import free_port, start_server

from .api import api
from .conftest import post_referral

pytestmark = pytest.mark.integration
SERVICES = ("referral", "assessment", "scheduling", "followup")


@pytest.mark.parametrize("service", SERVICES)
def test_health_and_metadata(platform, service):
    assert api.get(f"{platform.url(service)}/health/live").json() == {"status": "pass"}
    ready = api.get(f"{platform.url(service)}/health/ready")
    assert ready.status_code == 200
    checks = ("database", "kafka", "relay", "consumer")
    assert ready.json()["checks"] == dict.fromkeys(checks, "pass")
    statement = api.get(f"{platform.fhir(service)}/metadata").json()
    assert statement["resourceType"] == "CapabilityStatement"
    assert statement["software"]["name"] == f"painflow-{service}"


def test_metrics_show_requests_events_and_backlog(platform):
    patient_id, _ = post_referral(platform)
    wait_for(
        lambda: api.get(f"{platform.url('followup')}/journeys/{patient_id}").status_code == 200,
        what="journey",
    )
    referral = api.get(f"{platform.url('referral')}/metrics").text
    assert 'painflow_http_requests_total{method="POST",route="/fhir",status="200"}' in referral
    assert 'painflow_events_published_total{event_type="painflow.referral.received"}' in referral
    assert "painflow_outbox_pending " in referral
    followup = api.get(f"{platform.url('followup')}/metrics").text
    handled = [
        line for line in followup.splitlines() if line.startswith("painflow_events_handled ")
    ]
    assert handled and float(handled[0].split()[1]) >= 1
    assert "painflow_events_dead_lettered " in followup


def test_ready_says_which_dependency_is_down(database_urls, run_id):
    """A referral service pointed at a Kafka that is not there: alive, but not ready."""
    settings = ReferralSettings(
        port=free_port(),
        database_url=database_urls["referral"],
        trace_console=False,
        kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",
        start_background_workers=False,
    )
    server = start_server(create_app(settings), settings.port)
    try:
        assert api.get(f"{server.url}/health/live").status_code == 200
        ready = api.get(f"{server.url}/health/ready", timeout=30)
        assert ready.status_code == 503
        assert ready.json()["checks"] == {"database": "pass", "kafka": "fail"}
    finally:
        server.stop()
