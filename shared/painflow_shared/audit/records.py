"""Writing the audit: with a write's own commit, or on its own once a request is decided.

Every request writes its audit rows into ``audit_record`` with one statement:

- a unit of work that commits writes during a request stages, in that same transaction, the
  request's AuditEvent(s) and one Provenance per resource written (``stage_write_audit``): they
  are part of the one statement that inserts all of the unit of work's rows
  (``staged_inserts``), so the write and its audit commit or roll back together;
- anything else a guarded request did (a read, a search, a refusal, a write that failed) is
  recorded by ``AuditRecorder`` in its own short transaction when the response's status is
  known, before that response reaches the client.

Outside a request (event consumers) there is no trail and nothing is recorded here. Successful
reads of the audit itself are not audited (reading it would otherwise record without end);
refused ones are.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from painflow_shared import staged_inserts
from painflow_shared.audit.events import Agent, Drafted, Occurrence, audit_events, provenance
from painflow_shared.audit.table import AuditRecord
from painflow_shared.audit.trail import SCOPE_KEY, Trail, current_trail
from painflow_shared.auth.compartment import patients_of
from painflow_shared.fhir.dates import utcnow
from painflow_shared.fhir.store_tables import StoredResource

log = logging.getLogger(__name__)


def occurrence(trail: Trail, status: int, recorded: datetime | None = None) -> Occurrence:
    principal = trail.principal
    agent = Agent(
        issuer=trail.issuer,
        client_id=principal.client_id if principal else None,
        subject=principal.subject if principal else None,
        address=trail.address,
    )
    return Occurrence(
        interaction=trail.interaction,
        status=status,
        recorded=recorded or utcnow(),
        service=trail.service,
        observer=trail.observer,
        agent=agent,
        trace_id=trail.trace_id,
    )


def write_records(
    trail: Trail, written: list[tuple[StoredResource, bool]], recorded: datetime | None = None
) -> list[Drafted]:
    """The AuditEvent(s) of a successful write and a Provenance per resource written."""
    happened = occurrence(trail, 200, recorded)
    touched = {ref: set(ps) for ref, ps in trail.touched.items()}
    provenances = []
    for row, created in written:
        target = f"{row.resource_type}/{row.id}"
        patients = sorted(patients_of(row.content))
        touched.setdefault(target, set()).update(patients)
        activity = "DELETE" if row.deleted else "CREATE" if created else "UPDATE"
        first = patients[0] if patients else None
        provenances.append(provenance(happened, target, row.version_id, activity, first))
    return [*audit_events(happened, touched), *provenances]


def stage_write_audit(session: Session, written: list[tuple[StoredResource, bool]]) -> Trail | None:
    """In a unit of work's transaction, before its commit: the request's write audit, if this
    unit of work runs for a request and wrote anything. Returns the trail to mark on commit."""
    trail = current_trail()
    if trail is None or not written:
        return None
    rows = [_row(d) for d in write_records(trail, written)]
    staged_inserts.stage(session, AuditRecord.__table__, rows)  # type: ignore[attr-defined]
    return trail


_INSERT = insert(AuditRecord.__table__)  # type: ignore[attr-defined]


def insert_records(connection: Connection, drafted: list[Drafted]) -> None:
    """One statement, however many rows: an executemany of one fixed INSERT (psycopg sends it
    in one pipeline). Its SQL text does not depend on the row count, so SQLAlchemy compiles it
    once per process instead of once per request (a multi-row VALUES did: 19% of a POST's CPU)."""
    if drafted:
        connection.execute(_INSERT, [_row(d) for d in drafted])


def _row(drafted: Drafted) -> dict[str, Any]:
    return {
        "id": drafted.id,
        "kind": drafted.kind,
        "recorded": drafted.recorded,
        "patient_id": drafted.patient_id,
        "agent": _agent_column(drafted),
        "target": drafted.target,
        "content": drafted.content,
    }


def _agent_column(drafted: Drafted) -> str | None:
    agents = drafted.content.get("agent") or [{}]
    identifier = (agents[0].get("who") or {}).get("identifier") or {}
    value = identifier.get("value")
    return str(value) if value else None


def needs_record(trail: Trail, status: int) -> bool:
    """False when nothing is left to record: the write's own commit recorded it, or the request
    is exempt (a successful read of the audit itself)."""
    return not ((trail.committed or trail.exempt) and status < 400)


def record_request(engine: Engine, trail: Trail, status: int) -> None:
    """A decided request's AuditEvent(s), in a transaction of their own."""
    if not needs_record(trail, status):
        return
    with engine.begin() as connection:
        insert_records(connection, audit_events(occurrence(trail, status), trail.touched))


class AuditRecorder:
    """Records each guarded request's audit once its status is known, before the response
    leaves: a client never holds an answer whose audit was not written (if writing it fails,
    the failure is logged and the answer still goes: availability of care first)."""

    def __init__(self, app: ASGIApp, engine: Engine) -> None:
        self.app = app
        self.engine = engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        done = False

        async def recording_send(message: Message) -> None:
            nonlocal done
            if message["type"] == "http.response.start" and not done:
                done = True
                await self._record(scope, int(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            if not done:  # nothing was answered: the client left (nginx's 499)
                await self._record(scope, 499)

    async def _record(self, scope: Scope, status: int) -> None:
        trail = scope.get(SCOPE_KEY)
        if not isinstance(trail, Trail):
            return  # not a guarded route (metadata, health) or refused before authorize
        if not needs_record(trail, status):
            return  # no thread hop for a write whose commit holds its audit
        try:
            await run_in_threadpool(record_request, self.engine, trail, status)
        except Exception as exc:  # the audit must not take the service down
            route = getattr(scope.get("route"), "path", "unmatched")
            log.error(
                "audit not recorded for %s %s: %s", scope["method"], route, type(exc).__name__
            )
