"""``$generate-slots``: free Slots of a Schedule from a weekly template in the site's zone.

Each day's hours are wall-clock times in the site's zone, so a clinic that opens at 08:00 opens
at 08:00 on both sides of a daylight-saving change; within a day slots step in absolute minutes.
Every instant written carries its offset.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from painflow_scheduling.domain.fhir_values import zone
from painflow_shared.fhir.errors import BusinessRuleViolation, InvalidRequest, Issue
from painflow_shared.fhir.references import reference_string

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # FHIR days-of-week codes
MAX_DAYS = 366
MAX_SLOTS = 5000


@dataclass(frozen=True)
class WeeklyTemplate:
    days: frozenset[str]  # "mon" .. "sun"
    start: time  # opening, wall-clock in the site's zone
    end: time
    slot_minutes: int
    first_day: date
    last_day: date  # inclusive
    site_zone: str = "UTC"


def template_issues(template: WeeklyTemplate) -> list[Issue]:
    """What is wrong with a template, as issues naming the $generate-slots parameter."""
    checks = [
        (bool(template.days) and template.days <= set(DAYS), "day", "day: one or more of mon..sun"),
        (template.start < template.end, "end-time", "end-time must be after start-time"),
        (template.slot_minutes > 0, "slot-minutes", "slot-minutes must be positive"),
        (template.first_day <= template.last_day, "to", "to must not be before from"),
        (
            (template.last_day - template.first_day).days < MAX_DAYS,
            "to",
            f"from..to may span at most {MAX_DAYS} days",
        ),
        (_known_zone(template.site_zone), "site-zone", "the site's zone is not a zoneinfo key"),
    ]
    return [
        Issue(text, "business-rule", "error", (f"Parameters.parameter.where(name='{name}')",))
        for ok, name, text in checks
        if not ok
    ]


def _known_zone(key: str) -> bool:
    try:
        zone(key)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def slot_times(template: WeeklyTemplate) -> Iterator[tuple[datetime, datetime]]:
    """(start, end) of every whole slot the template opens, in date order."""
    tz = zone(template.site_zone)
    step = timedelta(minutes=template.slot_minutes)
    day = template.first_day
    while day <= template.last_day:
        if DAYS[day.weekday()] in template.days:
            yield from _day_slots(day, template, tz, step)
        day += timedelta(days=1)


def _day_slots(
    day: date, template: WeeklyTemplate, tz: ZoneInfo, step: timedelta
) -> Iterator[tuple[datetime, datetime]]:
    opens = datetime.combine(day, template.start, tzinfo=tz).astimezone(UTC)
    closes = datetime.combine(day, template.end, tzinfo=tz).astimezone(UTC)
    start = opens
    while start + step <= closes:
        yield start.astimezone(tz), (start + step).astimezone(tz)
        start += step


def generate_slots(template: WeeklyTemplate, schedule: dict[str, Any]) -> list[dict[str, Any]]:
    """Free Slot resources (no id) for the Schedule, carrying its serviceType (the modality)."""
    issues = template_issues(template)
    if issues:
        raise BusinessRuleViolation(issues[0].diagnostics, issues=issues)
    times = []
    for pair in slot_times(template):
        times.append(pair)
        if len(times) > MAX_SLOTS:
            raise BusinessRuleViolation(
                f"the template opens more than {MAX_SLOTS} slots: generate a shorter range",
                expression="Parameters.parameter.where(name='to')",
            )
    return [_slot(schedule, start, end) for start, end in times]


def _slot(schedule: dict[str, Any], start: datetime, end: datetime) -> dict[str, Any]:
    slot: dict[str, Any] = {
        "resourceType": "Slot",
        "schedule": {"reference": reference_string("Schedule", schedule["id"])},
        "status": "free",
        "start": start.isoformat(timespec="seconds"),
        "end": end.isoformat(timespec="seconds"),
    }
    if schedule.get("serviceType"):
        slot["serviceType"] = schedule["serviceType"]
    return slot


def weekly_template_from_parameters(params: dict[str, Any], site_zone: str) -> WeeklyTemplate:
    """Reads the ``$generate-slots`` Parameters: ``day`` (valueCode, repeating), ``start-time``
    and ``end-time`` (valueTime), ``slot-minutes`` (valuePositiveInt or valueInteger), ``from``
    and ``to`` (valueDate, inclusive)."""
    values: dict[str, list[Any]] = {}
    for p in params.get("parameter") or []:
        value = next((v for k, v in p.items() if k.startswith("value")), None)
        values.setdefault(p.get("name"), []).append(value)
    try:
        return WeeklyTemplate(
            days=frozenset(str(d).lower() for d in values.get("day", [])),
            start=time.fromisoformat(values["start-time"][0]),
            end=time.fromisoformat(values["end-time"][0]),
            slot_minutes=int(values["slot-minutes"][0]),
            first_day=date.fromisoformat(values["from"][0]),
            last_day=date.fromisoformat(values["to"][0]),
            site_zone=site_zone,
        )
    except (KeyError, IndexError, TypeError, ValueError) as error:
        raise InvalidRequest(
            "$generate-slots needs day, start-time, end-time, slot-minutes, from and to",
            expression="Parameters.parameter",
        ) from error
