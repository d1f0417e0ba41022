"""The alert rules and the dashboard in deploy/observability are well formed and every query
names a metric the services really serve on /metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from .api import api

pytestmark = pytest.mark.integration
DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "observability"
METRIC = re.compile(r"\bpainflow_[a-z_]+\b")
SUFFIXES = ("", "_total", "_count", "_sum", "_bucket", "_created")
ALERTS = {
    "PainflowConsumerLagGrowing",
    "PainflowOutboxGrowing",
    "PainflowOutboxStalled",
    "PainflowParkedEvents",
    "PainflowDeadLetter",
}


def _served(platform) -> set[str]:
    """Every series name the four services can serve (a labelled family with no sample yet
    still announces itself)."""
    served: set[str] = set()
    for service in ("referral", "assessment", "scheduling", "followup"):
        text = api.get(f"{platform.url(service)}/metrics", timeout=30).text
        for family in text_string_to_metric_families(text):
            served |= {family.name + suffix for suffix in SUFFIXES}
    return served


def _rules() -> list[dict]:
    document = yaml.safe_load((DEPLOY / "alerts.yaml").read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def _dashboard_queries() -> list[str]:
    dashboard = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
    return [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]


def test_the_alert_rules_parse_and_name_the_expected_alerts():
    rules = _rules()
    assert {rule["alert"] for rule in rules} == ALERTS
    for rule in rules:
        assert rule["expr"].strip() and rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]


def test_every_query_names_metrics_the_services_serve(platform):
    served = _served(platform)
    queries = [rule["expr"] for rule in _rules()] + _dashboard_queries()
    assert len(queries) >= 10
    for query in queries:
        named = set(METRIC.findall(query))
        assert named, f"no painflow metric in {query!r}"
        assert named <= served, f"not served on /metrics: {sorted(named - served)}"


def test_the_dashboard_covers_what_an_sre_looks_at_first():
    named = {name for q in _dashboard_queries() for name in METRIC.findall(q)}
    for needed in (
        "painflow_http_requests_total",
        "painflow_http_request_seconds_bucket",
        "painflow_outbox_pending",
        "painflow_outbox_oldest_pending_seconds",
        "painflow_outbox_parked",
        "painflow_relay_publish_seconds_bucket",
        "painflow_consumer_lag",
        "painflow_consumer_events_total",
        "painflow_handler_seconds_bucket",
        "painflow_dlq_depth",
    ):
        assert needed in named
