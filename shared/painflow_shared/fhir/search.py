"""FHIR search over the store's index: token, reference, string and date parameters.

Supported: ``name[:modifier]=value[,value]`` (OR within one, AND across); modifiers ``:exact``
(compared case-insensitively: the index is lower-cased), ``:contains`` and ``:missing`` on
strings, ``:not`` and ``:missing`` on tokens, ``:missing`` and a type (``subject:Patient=1``)
on references, ``:missing`` on dates; date prefixes eq/ne/gt/lt/ge/le/sa/eb with partial
precision; ``_count``, ``_offset`` (paging links), ``_sort=[-]_lastUpdated``, ``_include``,
``_summary``, ``_elements``, ``_total``, ``_pretty`` and ``_format`` (JSON only).

Anything else is refused with a 400 unless ``Prefer: handling=lenient``; the query string is
read, with its limits, in ``search_query`` (each limit a 400 beyond):

- one search value: at most 512 characters (``MAX_VALUE_LENGTH``, the index column's width);
- values OR-ed in one parameter: at most 100 (``MAX_OR_VALUES``);
- criteria per search: at most 20 (``MAX_CRITERIA``); parameters in all: at most 50;
- ``_offset``: at most 10,000 (``MAX_OFFSET``); ``_count`` above 200 is served as 200.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, and_, func, not_, or_
from sqlmodel import Session, col, select

from painflow_shared.fhir.search_params import DateRange, SearchParamRegistry
from painflow_shared.fhir.search_query import (
    MAX_COUNT,
    MAX_OFFSET,
    Criterion,
    Include,
    SearchQuery,
    parse_query,
)
from painflow_shared.fhir.store import SearchIndexEntry, StoredResource

__all__ = [
    "MAX_COUNT",
    "Include",
    "SearchPage",
    "SearchQuery",
    "find_resources",
    "page_links",
    "parse_query",
    "run_search",
]


@dataclass(frozen=True)
class SearchPage:
    resources: list[dict[str, Any]]
    total: int
    query: SearchQuery


def run_search(
    session: Session, registry: SearchParamRegistry, resource_type: str, query: SearchQuery
) -> SearchPage:
    where = _where(resource_type, query)
    total = session.exec(select(func.count()).select_from(StoredResource).where(*where)).one()
    if query.summary == "count":
        return SearchPage([], int(total), query)
    return SearchPage(_page(session, where, query), int(total), query)


def _where(resource_type: str, query: SearchQuery) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [
        col(StoredResource.resource_type) == resource_type,
        col(StoredResource.deleted).is_(False),
    ]
    return where + [_criterion(resource_type, criterion) for criterion in query.criteria]


def _page(
    session: Session, where: list[ColumnElement[bool]], query: SearchQuery
) -> list[dict[str, Any]]:
    order = col(StoredResource.last_updated)
    rows = session.exec(
        select(StoredResource)
        .where(*where)
        .order_by(order.desc() if query.newest_first else order.asc(), col(StoredResource.id))
        .offset(query.offset)
        .limit(query.count)
    ).all()
    return [dict(row.content) for row in rows]


def _criterion(resource_type: str, criterion: Criterion) -> ColumnElement[bool]:
    param = criterion.param
    indexed = select(SearchIndexEntry.resource_id).where(
        SearchIndexEntry.resource_type == resource_type,
        SearchIndexEntry.param == param.name,
    )
    if criterion.modifier == "missing":
        has_value = col(StoredResource.id).in_(indexed)
        return not_(has_value) if criterion.values == ("true",) else has_value
    if criterion.dates:
        alternatives = [_date_match(bounds) for bounds in criterion.dates]
    else:
        alternatives = [_match(criterion, value) for value in criterion.values]
    matching = col(StoredResource.id).in_(indexed.where(or_(*alternatives)))
    return not_(matching) if criterion.modifier == "not" else matching


def _match(criterion: Criterion, value: str) -> ColumnElement[bool]:
    param, modifier = criterion.param, criterion.modifier
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
        target = modifier or param.target  # a type modifier (subject:Patient) names the type
        if target:  # relative (Patient/1) or absolute (https://ehr/fhir/Patient/1)
            return or_(
                value_col == f"{target}/{value}",
                value_col.like(f"%/{target}/{_escape(value)}", escape="\\"),
            )
        return value_col.like(f"%/{_escape(value)}", escape="\\")
    text = value.lower()
    if modifier == "exact":
        return value_col == text
    pattern = f"%{_escape(text)}%" if modifier == "contains" else f"{_escape(text)}%"
    return value_col.like(pattern, escape="\\")


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _date_match(bounds: DateRange) -> ColumnElement[bool]:
    moment, low, high = col(SearchIndexEntry.date_value), bounds.low, bounds.high
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
    return ranges[bounds.prefix]


def page_links(base: str, resource_type: str, page: SearchPage) -> list[dict[str, str]]:
    """self / next / previous links that keep the honoured criteria and move _offset.

    Paging stops at ``MAX_OFFSET``: past it, a narrower search is the way on."""
    query = page.query
    kept = [(k, v) for k, v in query.kept if k != "_offset"]

    def url(offset: int) -> str:
        return f"{base}/{resource_type}?{urlencode([*kept, ('_offset', str(offset))])}"

    links = [{"relation": "self", "url": url(query.offset)}]
    following = query.offset + query.count
    if query.count and following < page.total and following <= MAX_OFFSET:
        links.append({"relation": "next", "url": url(following)})
    if query.offset > 0:
        links.append({"relation": "previous", "url": url(max(query.offset - query.count, 0))})
    return links


def find_resources(
    session: Session,
    registry: SearchParamRegistry,
    resource_type: str,
    params: list[tuple[str, str]],
) -> list[dict[str, Any]]:
    """Every match of a search (up to MAX_COUNT), for code that needs resources, not a Bundle:
    one query (no total is counted)."""
    query = parse_query(registry, resource_type, [*params, ("_count", str(MAX_COUNT))])
    return _page(session, _where(resource_type, query), query)
