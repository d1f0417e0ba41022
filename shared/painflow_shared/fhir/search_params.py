"""Search parameters as data: what each service indexes, and how values are pulled from JSON."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from painflow_shared.fhir.dates import parse_fhir_date

ParamType = Literal["token", "reference", "string", "date"]


@dataclass(frozen=True)
class SearchParam:
    name: str
    type: ParamType
    path: str  # dotted element path, e.g. "name.family", "subject", "authoredOn"
    target: str | None = None  # for references: the type a bare id means
    # for dates: the zone (a zoneinfo key) a value without a time is read in; None = UTC
    zone: str | None = None


@dataclass(frozen=True)
class IndexValue:
    param: str
    value: str
    system: str | None = None
    date_value: datetime | None = None


COMMON_PARAMS = (
    SearchParam("_id", "token", "id"),
    SearchParam("_lastUpdated", "date", "meta.lastUpdated"),
)


class SearchParamRegistry:
    def __init__(self, params: dict[str, list[SearchParam]]) -> None:
        self._params = {
            rtype: {p.name: p for p in (*COMMON_PARAMS, *plist)} for rtype, plist in params.items()
        }

    def params_for(self, resource_type: str) -> dict[str, SearchParam]:
        return self._params.get(resource_type, {p.name: p for p in COMMON_PARAMS})

    def resource_types(self) -> list[str]:
        return sorted(self._params)

    def index_values(self, resource: dict[str, Any]) -> Iterator[IndexValue]:
        for param in self.params_for(resource["resourceType"]).values():
            for leaf in _leaves(resource, param.path.split(".")):
                yield from _index(param, leaf)


def values_at(resource: dict[str, Any], path: str) -> Iterator[Any]:
    """The values at a dotted element path (``name.family``), arrays flattened."""
    return _leaves(resource, path.split("."))


def _leaves(node: Any, path: list[str]) -> Iterator[Any]:
    if isinstance(node, list):
        for item in node:
            yield from _leaves(item, path)
        return
    if not path:
        if node is not None:
            yield node
        return
    if isinstance(node, dict):
        yield from _leaves(node.get(path[0]), path[1:])


def _index(param: SearchParam, leaf: Any) -> Iterator[IndexValue]:
    if param.type == "token":
        yield from _tokens(param.name, leaf)
    elif param.type == "reference" and isinstance(leaf, dict) and leaf.get("reference"):
        yield IndexValue(param.name, str(leaf["reference"]))
    elif param.type == "string":
        for text in _strings(leaf):
            yield IndexValue(param.name, text.lower())
    elif param.type == "date":
        value = leaf.get("start") if isinstance(leaf, dict) else leaf
        moment = parse_date_value(value, param.zone)
        if moment is not None:
            yield IndexValue(param.name, moment.isoformat(), date_value=moment)


def _tokens(name: str, leaf: Any) -> Iterator[IndexValue]:
    if isinstance(leaf, str | bool):
        yield IndexValue(name, str(leaf).lower() if isinstance(leaf, bool) else leaf)
    elif isinstance(leaf, dict) and "coding" in leaf:
        for coding in leaf.get("coding") or []:
            yield from _tokens(name, coding)
    elif isinstance(leaf, dict) and ("code" in leaf or "value" in leaf):
        value = leaf.get("code", leaf.get("value"))
        if value is not None:
            yield IndexValue(name, str(value), system=leaf.get("system"))


def _strings(leaf: Any) -> Iterator[str]:
    if isinstance(leaf, str):
        yield leaf
    elif isinstance(leaf, dict):  # HumanName or Address: every text part counts
        for key in ("text", "family", "given", "line", "city", "postalCode"):
            value = leaf.get(key)
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, str):
                    yield item


def parse_date_value(value: Any, zone: str | None = None) -> datetime | None:
    """The start of a FHIR date/dateTime/instant, as an aware UTC datetime (None if none).

    A value without a time (a date, a month, a year) starts at midnight in ``zone`` (a zoneinfo
    key; None = UTC). Year 1 with a positive offset has no UTC equivalent: it is unreadable."""
    moment = parse_fhir_date(value)
    if moment is not None and zone is not None and "T" not in value:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    try:
        return moment.astimezone(UTC) if moment else None
    except OverflowError:
        return None


DATE_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb")
_SEARCH_DATE = re.compile(
    r"[0-9]{4}(-[0-9]{2}(-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})?)?)?)?",
    re.ASCII,
)


@dataclass(frozen=True)
class DateRange:
    """A date search value: its prefix and the period it names, ``[low, high)``."""

    prefix: str
    low: datetime
    high: datetime


def date_range(value: str, zone: str | None = None) -> DateRange | None:
    """``ge2020-01`` -> ``DateRange("ge", 2020-01-01, 2020-02-01)``; None when not a date.

    A value without a time names its period in ``zone`` (a zoneinfo key; None = UTC), so a
    day is that zone's calendar day (23 or 25 hours across a daylight-saving change)."""
    prefix, text = (value[:2], value[2:]) if value[:2] in DATE_PREFIXES else ("eq", value)
    low = parse_date_value(text) if _SEARCH_DATE.fullmatch(text) else None
    if low is None:
        return None
    if zone is not None and "T" not in text:
        low = low.replace(tzinfo=ZoneInfo(zone))  # the same wall-clock start, in the zone
    try:
        high = _upper_bound(low, text).astimezone(UTC)
    except (OverflowError, ValueError):  # the period ends after 9999-12-31
        high = datetime.max.replace(tzinfo=UTC)
    try:
        low = low.astimezone(UTC)
    except OverflowError:
        return None
    return DateRange(prefix, low, high)


def _upper_bound(low: datetime, text: str) -> datetime:
    """The end of the period a partial date names: a year, a month, a day or a second."""
    if len(text) == 4:
        return low.replace(year=low.year + 1)
    if len(text) == 7:
        return low.replace(year=low.year + low.month // 12, month=low.month % 12 + 1)
    if len(text) == 10:
        return low + timedelta(days=1)
    if len(text) == 16:
        return low + timedelta(minutes=1)
    return low + timedelta(seconds=1)


def token(identifier: dict[str, Any]) -> str:
    """An Identifier or Coding as a search token, ``system|value`` (``system|code``)."""
    return f"{identifier['system']}|{identifier.get('value', identifier.get('code'))}"


def identifier_query(identifiers: list[dict[str, Any]]) -> str | None:
    """``identifier=s1|v1,s2|v2``: any of them matches (search OR), or None when there is none."""
    tokens = [token(i) for i in identifiers]
    return f"identifier={','.join(tokens)}" if tokens else None
