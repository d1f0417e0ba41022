"""Reading the few FHIR JSON values the scheduling rules need, and writing instants in a zone.

Pure: plain dicts in, plain values out. Date-only values are read in the site's zone.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

END_OF_DAY = time(23, 59)  # a last dose known by its date only: the safe side of that day


def zone(key: str | ZoneInfo) -> ZoneInfo:
    return key if isinstance(key, ZoneInfo) else ZoneInfo(key)


def codings(concept: Any) -> list[dict[str, Any]]:
    if not isinstance(concept, dict):
        return []
    return [c for c in concept.get("coding") or [] if isinstance(c, dict)]


def concept_words(concept: Any) -> str:
    """The text and coding displays of a CodeableConcept, lower-cased, for keyword matching."""
    if not isinstance(concept, dict):
        return ""
    parts = [concept.get("text")] + [c.get("display") for c in codings(concept)]
    return " ".join(p for p in parts if isinstance(p, str)).lower()


def extension_value(resource: dict[str, Any], url: str, value_key: str) -> Any:
    for extension in resource.get("extension") or []:
        if isinstance(extension, dict) and extension.get("url") == url:
            return extension.get(value_key)
    return None


def concept_code(concept: Any, system: str) -> str | None:
    return next((c.get("code") for c in codings(concept) if c.get("system") == system), None)


def reference(resource: dict[str, Any]) -> str | None:
    """``Type/id`` of a resource that has an id."""
    kind, ident = resource.get("resourceType"), resource.get("id")
    return f"{kind}/{ident}" if isinstance(kind, str) and isinstance(ident, str) else None


def parse_moment(
    value: Any, site_zone: ZoneInfo, *, end_of_period: bool = False
) -> datetime | None:
    """A FHIR date, dateTime or instant as an aware datetime.

    A value with a time keeps its offset (a time without one is read in the site's zone). A
    date-only value is its start in the site's zone or, with ``end_of_period``, 23:59 of its
    last day (a last dose known by date only: the safe side).
    """
    if not isinstance(value, str) or not value:
        return None
    try:
        if "T" in value:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return moment if moment.tzinfo else moment.replace(tzinfo=site_zone)
        day = _partial_date(value, end_of_period)
    except ValueError:
        return None
    return datetime.combine(day, END_OF_DAY if end_of_period else time(0), tzinfo=site_zone)


def _partial_date(value: str, last: bool) -> date:
    parts = [int(p) for p in value.split("-")]
    year, month = parts[0], parts[1] if len(parts) > 1 else (12 if last else 1)
    if len(parts) > 2:
        return date(year, month, parts[2])
    return date(year, month, calendar.monthrange(year, month)[1] if last else 1)


def in_zone(moment: datetime, site_zone: ZoneInfo) -> str:
    """ISO 8601 in the site's zone with its offset, to the second: what people and texts read."""
    return moment.astimezone(site_zone).isoformat(timespec="seconds")


def plain_time(moment: datetime, site_zone: ZoneInfo) -> str:
    """``Friday 6 March 2026 at 08:00`` in the site's zone, for a patient's instructions."""
    local = moment.astimezone(site_zone)
    return f"{local:%A} {local.day} {local:%B %Y} at {local:%H:%M}"
