"""A FHIR search's query string, read strictly and within documented limits.

Strict, as HAPI FHIR's JPA server is: an unknown parameter, an unknown or unsupported modifier,
an ``_include`` this type cannot follow, ``_revinclude`` and unknown ``_`` parameters are each a
400 (``UnsupportedSearch``). With ``Prefer: handling=lenient`` those are ignored instead, each
leaving a warning for the searchset's OperationOutcome entry and kept out of the self link.
Malformed values (a date that is not a date, ``_count=²``) are a 400 either way.

Limits, each a 400 beyond (``SearchTooCostly``): one value at most ``MAX_VALUE_LENGTH``
characters (the index column's width), at most ``MAX_OR_VALUES`` comma-separated values per
parameter, ``MAX_CRITERIA`` criteria and ``MAX_PARAMETERS`` parameters per query, ``_offset``
at most ``MAX_OFFSET``. ``_count`` above ``MAX_COUNT`` is served as ``MAX_COUNT``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from painflow_shared.fhir.errors import InvalidRequest, Issue, SearchTooCostly, UnsupportedSearch
from painflow_shared.fhir.numbers import MAX_INT32, parse_bounded_int
from painflow_shared.fhir.parse import resource_class
from painflow_shared.fhir.search_params import (
    DateRange,
    SearchParam,
    SearchParamRegistry,
    date_range,
)

MAX_VALUE_LENGTH = 512
MAX_OR_VALUES = 100
MAX_CRITERIA = 20
MAX_PARAMETERS = 50
MAX_OFFSET = 10_000
DEFAULT_COUNT, MAX_COUNT = 20, 200

RESULT_PARAMS = frozenset(
    {"_count", "_offset", "_sort", "_total", "_include", "_revinclude"}
    | {"_format", "_summary", "_elements", "_pretty"}
)
SUMMARY_VALUES = frozenset({"true", "text", "data", "count", "false"})
TOTAL_VALUES = frozenset({"none", "estimate", "accurate"})
# every modifier FHIR R4 defines per parameter type, and the ones this server honours
FHIR_MODIFIERS = {
    "string": frozenset({"exact", "contains", "missing"}),
    "token": frozenset({"text", "not", "above", "below", "in", "not-in", "of-type", "missing"}),
    "reference": frozenset({"identifier", "above", "below", "missing"}),
    "date": frozenset({"missing"}),
}
HONOURED_MODIFIERS = {
    "string": frozenset({"exact", "contains", "missing"}),
    "token": frozenset({"not", "missing"}),
    "reference": frozenset({"missing"}),  # and a resource type: subject:Patient=123
    "date": frozenset({"missing"}),
}
_SAFE_PARAM = re.compile(r"[A-Za-z_][A-Za-z0-9_\-.]{0,63}", re.ASCII)
_ELEMENT = re.compile(r"[A-Za-z][A-Za-z0-9]{0,63}", re.ASCII)


@dataclass(frozen=True)
class Criterion:
    param: SearchParam
    modifier: str | None
    values: tuple[str, ...]  # OR-ed; dates already checked
    dates: tuple[DateRange, ...] = ()


@dataclass(frozen=True)
class Include:
    param: SearchParam
    target: str | None  # _include=Type:param:Target keeps only that type


@dataclass
class SearchQuery:
    criteria: list[Criterion] = field(default_factory=list)
    count: int = DEFAULT_COUNT
    offset: int = 0
    newest_first: bool = True
    includes: list[Include] = field(default_factory=list)
    summary: str | None = None
    elements: tuple[str, ...] = ()
    kept: list[tuple[str, str]] = field(default_factory=list)  # honoured, for the links
    warnings: list[Issue] = field(default_factory=list)  # what lenient handling ignored


def parse_query(
    registry: SearchParamRegistry,
    resource_type: str,
    params: list[tuple[str, str]],
    *,
    lenient: bool = False,
) -> SearchQuery:
    if len(params) > MAX_PARAMETERS:
        raise SearchTooCostly(f"a search takes at most {MAX_PARAMETERS} parameters")
    known = registry.params_for(resource_type)
    query = SearchQuery()
    for raw_name, value in params:
        try:
            _read_param(query, known, resource_type, raw_name, value)
        except UnsupportedSearch as exc:
            if not lenient:
                raise
            query.warnings += [_warning(issue) for issue in exc.issues]
            continue
        query.kept.append((raw_name, value))
    if len(query.criteria) > MAX_CRITERIA:
        raise SearchTooCostly(f"a search takes at most {MAX_CRITERIA} criteria")
    return query


def _read_param(
    query: SearchQuery,
    known: dict[str, SearchParam],
    resource_type: str,
    raw_name: str,
    value: str,
) -> None:
    name, colon, modifier = raw_name.partition(":")
    if name in RESULT_PARAMS:
        if colon:
            raise UnsupportedSearch(f"{name} takes no modifier here", expression=name)
        _read_result_param(query, known, resource_type, name, value)
    elif name in known:
        query.criteria.append(_criterion(known[name], modifier if colon else None, value))
    else:
        raise UnsupportedSearch(
            f"{resource_type} has no search parameter {_shown(name)}; supported: "
            f"{', '.join(sorted(known))}",
            expression=name if _SAFE_PARAM.fullmatch(name) else None,
        )


def _read_result_param(
    query: SearchQuery, known: dict[str, SearchParam], resource_type: str, name: str, value: str
) -> None:
    if name == "_count":
        query.count = min(parse_bounded_int(value, name=name, maximum=MAX_INT32), MAX_COUNT)
    elif name == "_offset":
        query.offset = parse_bounded_int(value, name=name, maximum=MAX_OFFSET)
    elif name == "_sort":
        query.newest_first = _sort_order(value)
    elif name == "_include":
        query.includes.append(_include(known, resource_type, value))
    elif name == "_summary":
        query.summary = _one_of(name, value, SUMMARY_VALUES)
    elif name == "_elements":
        query.elements = _elements(value)
    elif name == "_total":
        _one_of(name, value, TOTAL_VALUES)  # the total is always counted exactly
    elif name == "_revinclude":
        raise UnsupportedSearch("_revinclude is not supported here", expression=name)
    # _format is checked by content negotiation and _pretty by the route, before any work


def read_shaping(params: list[tuple[str, str]]) -> tuple[str | None, tuple[str, ...]]:
    """``_summary`` and ``_elements`` of a read (other parameters of a read are ignored)."""
    summary: str | None = None
    elements: tuple[str, ...] = ()
    for name, value in params:
        if name == "_summary":
            summary = _one_of(name, value, SUMMARY_VALUES)
        elif name == "_elements":
            elements = _elements(value)
    if summary == "count":
        raise InvalidRequest("_summary=count applies to searches", expression="_summary")
    return summary, elements


def _criterion(param: SearchParam, modifier: str | None, value: str) -> Criterion:
    _check_modifier(param, modifier)
    parts = value.split(",")
    if len(parts) > MAX_OR_VALUES:
        raise SearchTooCostly(
            f"{param.name} takes at most {MAX_OR_VALUES} comma-separated values",
            expression=param.name,
        )
    values = tuple(part for part in parts if part != "")
    if not values:
        raise InvalidRequest(f"search parameter {param.name} has no value", expression=param.name)
    if any(len(part) > MAX_VALUE_LENGTH for part in values):
        raise SearchTooCostly(
            f"a value of {param.name} is longer than {MAX_VALUE_LENGTH} characters",
            expression=param.name,
        )
    if modifier == "missing":
        if values not in {("true",), ("false",)}:
            raise InvalidRequest(f"{param.name}:missing takes true or false", expression=param.name)
        return Criterion(param, modifier, values)
    dates = tuple(_date(param, part) for part in values) if param.type == "date" else ()
    return Criterion(param, modifier, values, dates)


def _check_modifier(param: SearchParam, modifier: str | None) -> None:
    if modifier is None or modifier in HONOURED_MODIFIERS[param.type]:
        return
    if param.type == "reference" and resource_class(modifier) is not None:
        if param.target and modifier != param.target:
            raise UnsupportedSearch(
                f"{param.name} refers only to {param.target}", expression=param.name
            )
        return
    if modifier in FHIR_MODIFIERS[param.type]:
        raise UnsupportedSearch(
            f"the :{modifier} modifier of {param.type} parameters is not supported here",
            expression=param.name,
        )
    honoured = ", ".join(f":{m}" for m in sorted(HONOURED_MODIFIERS[param.type]))
    raise UnsupportedSearch(
        f"{param.name} is a {param.type} parameter; its modifiers here are {honoured}",
        expression=param.name,
    )


def _date(param: SearchParam, value: str) -> DateRange:
    bounds = date_range(value, param.zone)
    if bounds is None:
        raise InvalidRequest(
            f"{param.name} must be a FHIR date (YYYY, YYYY-MM, YYYY-MM-DD or a dateTime), "
            "optionally after a prefix eq, ne, gt, lt, ge, le, sa or eb",
            expression=param.name,
        )
    return bounds


def _include(known: dict[str, SearchParam], resource_type: str, value: str) -> Include:
    source, _, rest = value.partition(":")
    name, _, target = rest.partition(":")
    references = sorted(p.name for p in known.values() if p.type == "reference")
    param = known.get(name)
    if source != resource_type or param is None or param.type != "reference":
        raise UnsupportedSearch(
            f"_include here takes {resource_type}:<parameter> with one of: "
            f"{', '.join(references) or 'none'}",
            expression="_include",
        )
    if target and (resource_class(target) is None or param.target not in (None, target)):
        raise UnsupportedSearch(
            f"_include={resource_type}:{name} cannot include that resource type",
            expression="_include",
        )
    return Include(param, target or None)


def _sort_order(value: str) -> bool:
    if value not in {"_lastUpdated", "-_lastUpdated"}:
        raise UnsupportedSearch(
            "only _sort=_lastUpdated or -_lastUpdated is supported", expression="_sort"
        )
    return value.startswith("-")


def _one_of(name: str, value: str, allowed: frozenset[str]) -> str:
    if value not in allowed:
        rule = f"{name} must be one of: {', '.join(sorted(allowed))}"
        raise InvalidRequest(rule, expression=name)
    return value


def _elements(value: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in value.split(",") if part.strip())
    if not names or not all(_ELEMENT.fullmatch(n) for n in names) or len(names) > MAX_OR_VALUES:
        raise UnsupportedSearch(
            "_elements takes a comma-separated list of top-level element names",
            expression="_elements",
        )
    return names


def _warning(issue: Issue) -> Issue:
    return Issue(
        issue.diagnostics + " (ignored: handling=lenient)", issue.code, "warning", issue.expression
    )


def _shown(name: str) -> str:
    return f"'{name}'" if _SAFE_PARAM.fullmatch(name) else "of that name"
