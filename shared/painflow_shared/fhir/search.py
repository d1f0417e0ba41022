"""FHIR search over the store's index: token, reference, string and date parameters.

Supported: ``name[:modifier]=value[,value]`` (OR within one, AND across), date prefixes
eq/ne/gt/lt/ge/le/sa/eb with partial precision, ``_count``, ``_offset`` (paging links),
``_sort=[-]_lastUpdated``, ``_total``. Unknown parameters are refused with a 400.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, and_, func, or_
from sqlmodel import Session, col, select

from painflow_shared.fhir.errors import InvalidRequest
from painflow_shared.fhir.search_params import SearchParam, SearchParamRegistry, parse_date_value
from painflow_shared.fhir.store import SearchIndexEntry, StoredResource

RESULT_PARAMS = {"_count", "_offset", "_sort", "_total", "_include", "_format", "_summary"}
DEFAULT_COUNT, MAX_COUNT = 20, 200


@dataclass(frozen=True)
class SearchQuery:
    criteria: list[tuple[str, str | None, str]]  # (param, modifier, value)
    count: int
    offset: int
    newest_first: bool
    includes: list[str]


@dataclass(frozen=True)
class SearchPage:
    resources: list[dict[str, Any]]
    total: int
    query: SearchQuery


def parse_query(
    registry: SearchParamRegistry, resource_type: str, params: list[tuple[str, str]]
) -> SearchQuery:
    known = registry.params_for(resource_type)
    criteria: list[tuple[str, str | None, str]] = []
    count, offset, newest_first, includes = DEFAULT_COUNT, 0, True, []
    for raw_name, value in params:
        name, _, modifier = raw_name.partition(":")
        if name == "_count":
            count = min(_non_negative(raw_name, value), MAX_COUNT)
        elif name == "_offset":
            offset = _non_negative(raw_name, value)
        elif name == "_sort":
            newest_first = _sort_order(value)
        elif name == "_include":
            includes.append(value)
        elif name in RESULT_PARAMS:
            continue
        elif name not in known:
            raise InvalidRequest(
                f"{resource_type} has no search parameter '{name}'; supported: "
                f"{', '.join(sorted(known))}",
                expression=raw_name,
            )
        else:
            criteria.append((name, modifier or None, value))
    return SearchQuery(criteria, count, offset, newest_first, includes)


def _non_negative(name: str, value: str) -> int:
    if not value.isdigit():
        raise InvalidRequest(f"{name} must be a whole number", expression=name)
    return int(value)


def _sort_order(value: str) -> bool:
    if value not in {"_lastUpdated", "-_lastUpdated"}:
        raise InvalidRequest(
            "only _sort=_lastUpdated or -_lastUpdated is supported", expression="_sort"
        )
    return value.startswith("-")


def run_search(
    session: Session, registry: SearchParamRegistry, resource_type: str, query: SearchQuery
) -> SearchPage:
    known = registry.params_for(resource_type)
    where: list[ColumnElement[bool]] = [
        col(StoredResource.resource_type) == resource_type,
        col(StoredResource.deleted).is_(False),
    ]
    for name, modifier, value in query.criteria:
        where.append(_criterion(resource_type, known[name], modifier, value))
    total = session.exec(select(func.count()).select_from(StoredResource).where(*where)).one()
    order = col(StoredResource.last_updated)
    rows = session.exec(
        select(StoredResource)
        .where(*where)
        .order_by(order.desc() if query.newest_first else order.asc(), col(StoredResource.id))
        .offset(query.offset)
        .limit(query.count)
    ).all()
    return SearchPage([dict(row.content) for row in rows], int(total), query)


def _criterion(
    resource_type: str, param: SearchParam, modifier: str | None, value: str
) -> ColumnElement[bool]:
    alternatives = [_match(param, modifier, part) for part in value.split(",") if part != ""]
    if not alternatives:
        raise InvalidRequest(f"search parameter '{param.name}' has no value", expression=param.name)
    matching = select(SearchIndexEntry.resource_id).where(
        SearchIndexEntry.resource_type == resource_type,
        SearchIndexEntry.param == param.name,
        or_(*alternatives),
    )
    return col(StoredResource.id).in_(matching)


def _match(param: SearchParam, modifier: str | None, value: str) -> ColumnElement[bool]:
    value_col, system_col = col(SearchIndexEntry.value), col(SearchIndexEntry.system)
    if param.type == "token":
        if "|" not in value:
            return value_col == value
        system, code = value.split("|", 1)
        if not code:
            return system_col == system
        return and_(
            value_col == code, system_col.is_(None) if system == "" else system_col == system
        )
    if param.type == "reference":
        if "/" in value:
            return value_col == value
        target = param.target or ""
        return or_(value_col == f"{target}/{value}", value_col.like(f"%/{value}"))
    if param.type == "string":
        text = value.lower()
        return (
            value_col == text
            if modifier == "exact"
            else value_col.like(f"{_escape(text)}%", escape="\\")
        )
    return _date_match(param, value)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb")


def _date_match(param: SearchParam, value: str) -> ColumnElement[bool]:
    prefix, text = (value[:2], value[2:]) if value[:2] in _PREFIXES else ("eq", value)
    low = parse_date_value(text)
    if low is None:
        raise InvalidRequest(
            f"'{value[:40]}' is not a FHIR date for {param.name}", expression=param.name
        )
    high = _upper_bound(low, text)
    moment = col(SearchIndexEntry.date_value)
    ranges = {
        "eq": and_(moment >= low, moment < high),
        "ne": or_(moment < low, moment >= high),
        "gt": moment >= high,
        "sa": moment >= high,
        "lt": moment < low,
        "eb": moment < low,
        "ge": moment >= low,
        "le": moment < high,
    }
    return ranges[prefix]


def _upper_bound(low: datetime, text: str) -> datetime:
    """The end of the period a partial date names: a year, a month, a day or a second."""
    if len(text) == 4:
        return low.replace(year=low.year + 1)
    if len(text) == 7:
        return low.replace(year=low.year + low.month // 12, month=low.month % 12 + 1)
    if len(text) == 10:
        return low + timedelta(days=1)
    return low + timedelta(seconds=1)


def page_links(
    base: str, resource_type: str, params: list[tuple[str, str]], page: SearchPage
) -> list[dict[str, str]]:
    """self / next / previous links that keep the criteria and move _offset."""
    kept = [(k, v) for k, v in params if k != "_offset"]

    def url(offset: int) -> str:
        return f"{base}/{resource_type}?{urlencode([*kept, ('_offset', str(offset))])}"

    query = page.query
    links = [{"relation": "self", "url": url(query.offset)}]
    if query.offset + query.count < page.total:
        links.append({"relation": "next", "url": url(query.offset + query.count)})
    if query.offset > 0:
        links.append({"relation": "previous", "url": url(max(query.offset - query.count, 0))})
    return links


def find_resources(
    session: Session,
    registry: SearchParamRegistry,
    resource_type: str,
    params: list[tuple[str, str]],
) -> list[dict[str, Any]]:
    """Every match of a search (up to MAX_COUNT), for code that needs resources, not a Bundle."""
    query = parse_query(registry, resource_type, [*params, ("_count", str(MAX_COUNT))])
    return run_search(session, registry, resource_type, query).resources
