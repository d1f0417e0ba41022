"""Searching ``audit_record``: AuditEvent by patient, agent and date; Provenance by target.

``GET /fhir/AuditEvent?patient=&agent=&date=`` and ``GET /fhir/Provenance?target=&patient=``,
newest first, ``_count`` (default 20, at most 200) and ``_offset`` as every search here. Values
are ids: ``patient=123`` or ``Patient/123``; ``agent=<client id>`` (or ``<issuer>|<client id>``,
as the agent's identifier is written); ``target=ServiceRequest/1`` (any version); ``date`` with
the prefixes ``eq`` (default), ``ge``, ``gt``, ``le``, ``lt``. A comma ORs values; repeating a
parameter ANDs it. Anything else is a 400 naming the parameter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, func, or_
from sqlmodel import Session, col, select

from painflow_shared.audit.table import AuditRecord
from painflow_shared.auth.compartment import patient_id_of
from painflow_shared.fhir.errors import InvalidRequest, UnsupportedSearch
from painflow_shared.fhir.numbers import MAX_INT32, parse_bounded_int
from painflow_shared.fhir.search_params import DateRange, date_range
from painflow_shared.fhir.search_query import DEFAULT_COUNT, MAX_COUNT, MAX_OFFSET

PARAMS = {
    "AuditEvent": {"patient": "reference", "agent": "reference", "date": "date"},
    "Provenance": {"target": "reference", "patient": "reference"},
}
_IGNORED = frozenset({"_format", "_pretty"})  # negotiation's, answered elsewhere


@dataclass
class AuditQuery:
    where: list[ColumnElement[bool]] = field(default_factory=list)
    count: int = DEFAULT_COUNT
    offset: int = 0
    kept: list[tuple[str, str]] = field(default_factory=list)  # for the page links


def parse_audit_query(kind: str, params: list[tuple[str, str]]) -> AuditQuery:
    query = AuditQuery(where=[col(AuditRecord.kind) == kind])
    for name, value in params:
        if name in _IGNORED:
            continue
        if name in ("_count", "_offset"):
            _paging(query, name, value)
        elif name.partition(":")[0] in PARAMS[kind]:
            query.where.append(_criterion(name, value))
        else:
            raise UnsupportedSearch(
                f"{kind} is searched here by {', '.join(PARAMS[kind])}, _count and _offset",
                expression=name[:64],
            )
        query.kept.append((name, value))
    return query


def _paging(query: AuditQuery, name: str, value: str) -> None:
    number = parse_bounded_int(value, name=name, maximum=MAX_INT32)
    if name == "_count":
        query.count = min(number, MAX_COUNT)
    elif number > MAX_OFFSET:
        raise InvalidRequest(f"_offset is at most {MAX_OFFSET}: narrow the search", expression=name)
    else:
        query.offset = number


def _criterion(name: str, value: str) -> ColumnElement[bool]:
    values = [v for v in value.split(",") if v]
    if not values:
        raise InvalidRequest(f"{name} needs a value", expression=name)
    param, _, modifier = name.partition(":")
    if modifier and not (param == "agent" and modifier == "identifier"):
        raise UnsupportedSearch(
            f"{name}: the only modifier here is agent:identifier", expression=name
        )
    if param == "date":
        return _date(values)
    if param == "patient":
        return col(AuditRecord.patient_id).in_([patient_id_of(v) or v for v in values])
    if param == "agent":
        return col(AuditRecord.agent).in_([v.rpartition("|")[2] for v in values])
    return col(AuditRecord.target).in_([_unversioned(v) for v in values])


def _date(values: list[str]) -> ColumnElement[bool]:
    return or_(*(_in_range(value) for value in values))


def _in_range(value: str) -> ColumnElement[bool]:
    bounds: DateRange | None = date_range(value)
    if bounds is None or bounds.prefix not in ("eq", "ge", "gt", "le", "lt"):
        raise InvalidRequest(
            "date must be a FHIR date or dateTime, optionally after eq, ge, gt, le or lt",
            expression="date",
        )
    recorded = col(AuditRecord.recorded)
    conditions: dict[str, ColumnElement[bool]] = {
        "eq": (recorded >= bounds.low) & (recorded < bounds.high),
        "ge": recorded >= bounds.low,
        "gt": recorded >= bounds.high,
        "le": recorded < bounds.high,
        "lt": recorded < bounds.low,
    }
    return conditions[bounds.prefix]


def _unversioned(reference: str) -> str:
    """``http://x/fhir/ServiceRequest/1/_history/2`` -> ``ServiceRequest/1``."""
    parts = reference.split("/")
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    return "/".join(parts[-2:])


def run_audit_query(session: Session, query: AuditQuery) -> tuple[list[dict[str, Any]], int]:
    """The page's resources, newest first, and how many match in all."""
    total = session.exec(select(func.count()).select_from(AuditRecord).where(*query.where)).one()
    rows = session.exec(
        select(AuditRecord)
        .where(*query.where)
        .order_by(col(AuditRecord.recorded).desc(), col(AuditRecord.id).desc())
        .offset(query.offset)
        .limit(query.count)
    ).all()
    return [dict(row.content) for row in rows], int(total)


def read_record(session: Session, kind: str, record_id: str) -> dict[str, Any] | None:
    row = session.get(AuditRecord, record_id)
    return dict(row.content) if row is not None and row.kind == kind else None
