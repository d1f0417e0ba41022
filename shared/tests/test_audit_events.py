"""The audit's builders (validated with fhir.resources' R4B models), the trail's reach into
worker threads, and a unit of work's one audit INSERT."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient
from fhir.resources.R4B.auditevent import AuditEvent
from fhir.resources.R4B.provenance import Provenance
from sqlalchemy import event, func
from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool

from painflow_shared.audit.events import Agent, Occurrence, audit_events, provenance
from painflow_shared.audit.records import write_records
from painflow_shared.audit.table import AuditRecord
from painflow_shared.audit.trail import SCOPE_KEY, Trail, _current, current_trail, interaction_of
from painflow_shared.auth.guard import Authenticator, authorize
from painflow_shared.disconnect import run_cancellable
from painflow_shared.fhir.search_params import SearchParamRegistry
from painflow_shared.unit_of_work import EventSource, in_memory_units

MIGRATIONS = Path(__file__).parent / "migrations"
WHEN = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
AGENT = Agent("https://idp.example/realms/painflow", "ehr", "service-account-ehr", "10.0.0.7")


def _happened(interaction: str = "read", status: int = 200) -> Occurrence:
    return Occurrence(interaction, status, WHEN, "referral", "http://r/fhir", AGENT, "ab" * 16)


def test_a_read_is_one_valid_audit_event_naming_the_patient_and_the_resource() -> None:
    touched = {"Patient/p1": {"p1"}, "Condition/c1": {"p1"}}
    (drafted,) = audit_events(_happened(), touched)
    event_ = AuditEvent.model_validate(drafted.content)
    assert drafted.patient_id == "p1"
    assert event_.action == "R" and event_.outcome == "0"
    assert event_.type.code == "110110"
    assert event_.subtype[0].code == "read"
    agent = event_.agent[0]
    assert agent.requestor is True and agent.altId == "service-account-ehr"
    assert agent.who.identifier.system == AGENT.issuer and agent.who.identifier.value == "ehr"
    assert agent.network.address == "10.0.0.7" and agent.network.type == "2"
    whats = [e.what.reference for e in event_.entity if e.what]
    assert whats == ["Patient/p1", "Condition/c1"]
    roles = [e.role.code for e in event_.entity if e.role]
    assert roles == ["1", "4"]
    trace = [d.valueString for e in event_.entity for d in e.detail or [] if d.type == "trace-id"]
    assert trace == ["ab" * 16]


def test_a_search_over_two_patients_is_an_audit_event_for_each() -> None:
    touched = {"Patient/a": {"a"}, "Patient/b": {"b"}, "Practitioner/x": set()}
    drafted = audit_events(_happened("search-type"), touched)
    assert [d.patient_id for d in drafted] == ["a", "b"]
    for one in drafted:
        validated = AuditEvent.model_validate(one.content)
        assert validated.action == "E"
        assert "Practitioner/x" in [e.what.reference for e in validated.entity if e.what]


@pytest.mark.parametrize(("status", "outcome"), [(201, "0"), (401, "4"), (403, "4"), (500, "8")])
def test_the_outcome_follows_the_status(status: int, outcome: str) -> None:
    (drafted,) = audit_events(_happened("create", status), {})
    validated = AuditEvent.model_validate(drafted.content)
    assert (validated.outcome, validated.outcomeDesc) == (outcome, f"HTTP {status}")
    assert validated.action == "C" and drafted.patient_id is None


def test_a_refusal_before_any_token_has_no_who_but_the_address() -> None:
    anonymous = Agent("https://idp", None, None, "10.0.0.9")
    happened = Occurrence("read", 401, WHEN, "referral", "http://r/fhir", anonymous)
    (drafted,) = audit_events(happened, {"Patient/p1": {"p1"}})
    agent = AuditEvent.model_validate(drafted.content).agent[0]
    assert agent.who is None and agent.network.address == "10.0.0.9"


def test_a_provenance_names_the_version_the_client_and_the_operation() -> None:
    drafted = provenance(_happened("create"), "ServiceRequest/s1", 3, "UPDATE", "p1")
    validated = Provenance.model_validate(drafted.content)
    assert validated.target[0].reference == "ServiceRequest/s1/_history/3"
    assert validated.activity.coding[0].code == "UPDATE"
    assert validated.agent[0].who.identifier.value == "ehr"
    assert (drafted.target, drafted.patient_id) == ("ServiceRequest/s1", "p1")


@pytest.mark.parametrize(
    ("method", "path", "code"),
    [
        ("GET", "/fhir/{resource_type}", "search-type"),
        ("GET", "/fhir/{resource_type}/{resource_id}", "read"),
        ("GET", "/fhir/{resource_type}/{resource_id}/_history", "history-instance"),
        ("GET", "/fhir/{resource_type}/{resource_id}/_history/{version_id}", "vread"),
        ("POST", "/fhir", "transaction"),
        ("POST", "/fhir/{resource_type}", "create"),
        ("PUT", "/fhir/{resource_type}/{resource_id}", "update"),
        ("PATCH", "/fhir/Task/{task_id}", "patch"),
        ("DELETE", "/fhir/{resource_type}/{resource_id}", "delete"),
        ("POST", "/fhir/Appointment/$book", "operation"),
        ("GET", "/worklist/{queue}", "operation"),
    ],
)
def test_the_subtype_is_read_from_the_route(method: str, path: str, code: str) -> None:
    assert interaction_of(method, path) == code


def _app() -> FastAPI:
    """A guarded route, with authentication off (every caller is the unrestricted one)."""
    app = FastAPI()
    settings = SimpleNamespace(service_name="referral", auth_issuer="https://idp")
    app.state.runtime = SimpleNamespace(
        settings=settings, base_url="http://r/fhir", authenticator=Authenticator(verifier=None)
    )

    @app.get("/fhir/{resource_type}/{resource_id}", dependencies=[Depends(authorize)])
    async def read(request: Request) -> dict[str, Any]:
        opened = request.scope[SCOPE_KEY]
        in_pool = await run_in_threadpool(current_trail)
        cancellable = await run_cancellable(request, lambda _: current_trail())
        return {"pool": in_pool is opened, "cancellable": cancellable is opened}

    return app


def test_the_trail_opened_by_authorize_reaches_worker_threads() -> None:
    with TestClient(_app()) as client:
        answer = client.get("/fhir/Patient/p1")
    assert answer.json() == {"pool": True, "cancellable": True}


def test_a_unit_of_work_writes_its_audit_in_one_insert_with_its_commit() -> None:
    units = in_memory_units(
        MIGRATIONS, SearchParamRegistry({}), EventSource("referral", "http://r")
    )
    trail = Trail("referral", "http://r/fhir", "https://idp", "transaction", WHEN)
    statements: list[str] = []
    event.listen(units.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    token = _current.set(trail)
    try:
        with units.begin() as uow:
            patient = uow.store.create({"resourceType": "Patient"})
            uow.store.create(
                {"resourceType": "Condition", "subject": {"reference": f"Patient/{patient['id']}"}}
            )
    finally:
        _current.reset(token)
    audit_inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT INTO AUDIT")]
    assert len(audit_inserts) == 1 and trail.committed
    with Session(units.engine) as session:
        kinds = session.exec(
            select(AuditRecord.kind, func.count()).group_by(AuditRecord.kind)
        ).all()
        patients = set(session.exec(select(AuditRecord.patient_id)).all())
    assert dict(kinds) == {"AuditEvent": 1, "Provenance": 2}
    assert patients == {patient["id"]}


def test_a_consumer_s_unit_of_work_has_no_trail_and_writes_no_audit() -> None:
    units = in_memory_units(
        MIGRATIONS, SearchParamRegistry({}), EventSource("referral", "http://r")
    )
    with units.begin() as uow:
        uow.store.create({"resourceType": "Patient"})
    with Session(units.engine) as session:
        assert session.exec(select(func.count()).select_from(AuditRecord)).one() == 0


def test_write_records_never_copy_the_resource_body() -> None:
    units = in_memory_units(
        MIGRATIONS, SearchParamRegistry({}), EventSource("referral", "http://r")
    )
    trail = Trail("referral", "http://r/fhir", "https://idp", "create", WHEN)
    with units.begin() as uow:
        uow.store.create({"resourceType": "Patient", "name": [{"family": "Zyxwvut"}]})
        drafted = write_records(trail, uow.store.written())
        uow.session.rollback()
    assert drafted and "Zyxwvut" not in repr([d.content for d in drafted])
