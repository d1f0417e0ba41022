"""The Kafka ACL table (painflow_shared/events/acls.py) says what the services' code does.

shared/ may not import the services, so it keeps its own table of who publishes and consumes
which topic; here each service is built (no workers, no broker) and its declaration compared.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from painflow_shared.events.acls import SERVICE_TOPICS, service_acls
from painflow_shared.events.types import ALL_TOPICS


def declaration(service: str, tmp_path: Any) -> Any:
    app_module = importlib.import_module(f"painflow_{service}.app")
    settings_module = importlib.import_module(f"painflow_{service}.settings")
    settings_cls = getattr(settings_module, f"{service.capitalize()}Settings")
    settings = settings_cls(
        database_url=f"sqlite:///{tmp_path}/{service}.db",
        start_background_workers=False,
        auth_disabled=True,
        trace_console=False,
    )
    return app_module.create_app(settings).state.runtime.declaration


@pytest.mark.parametrize("service", sorted(SERVICE_TOPICS))
def test_the_acl_table_matches_what_the_service_subscribes_to(service: str, tmp_path: Any) -> None:
    declared = declaration(service, tmp_path)
    access = SERVICE_TOPICS[service]
    assert sorted(access.consumes) == sorted(declared.subscriptions)
    assert (access.publishes is not None) == declared.publishes


def test_every_topic_has_exactly_one_publisher() -> None:
    publishers = sorted(a.publishes for a in SERVICE_TOPICS.values() if a.publishes)
    assert publishers == sorted(ALL_TOPICS)


def test_a_service_may_write_its_topic_and_the_dlqs_of_what_it_reads_only() -> None:
    acls = service_acls("scheduling", topic_prefix="p.")
    writable = {a.resource_pattern.resource_name for a in acls if a.operation.name == "WRITE"}
    readable = {a.resource_pattern.resource_name for a in acls if a.operation.name == "READ"}
    assert writable == {
        "p.painflow.scheduling.v1",
        "p.painflow.referral.v1.dlq",
        "p.painflow.assessment.v1.dlq",
    }
    assert readable == {"p.painflow.referral.v1", "p.painflow.assessment.v1", "painflow-scheduling"}
