"""Calendar offsets and follow-up windows: months, days and hours after a procedure.

Pure (datetime only). A month is a calendar month (31 January + 1 month = 28/29 February), as
a clinic counts "the 3-month visit"; python-dateutil's relativedelta does the same, but the
workspace does not ship it and this is all we need of it.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum

_LAST_SECOND = time(23, 59, 59)


class Align(StrEnum):
    """How a window's edges are drawn."""

    DAY = "day"  # whole days: 00:00:00 of the first day to 23:59:59 of the last
    INSTANT = "instant"  # the exact computed moments (hours after a block)


@dataclass(frozen=True)
class Offset:
    """A calendar offset: months first, then days and hours (either may be negative)."""

    months: int = 0
    days: int = 0
    hours: int = 0


@dataclass(frozen=True)
class Window:
    """When an outcome is due: from ``start`` to ``end``, both inclusive."""

    start: datetime
    end: datetime

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment <= self.end


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` moved by calendar months, the day clamped to the target month's length."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def shift(moment: datetime, offset: Offset) -> datetime:
    """``moment`` + ``offset``: calendar months first, then days and hours."""
    return add_months(moment, offset.months) + timedelta(days=offset.days, hours=offset.hours)


def window_after(anchor: datetime, start: Offset, end: Offset, align: Align) -> Window:
    """The window ``[anchor + start, anchor + end]``, widened to whole days when asked.

    Days are drawn in the offset ``anchor`` was written in (a clinic's local day when the
    procedure time carries the clinic's offset, UTC for ``Z``).
    """
    first, last = shift(anchor, start), shift(anchor, end)
    if align is Align.DAY:
        first = datetime.combine(first.date(), time.min, tzinfo=anchor.tzinfo)
        last = datetime.combine(last.date(), _LAST_SECOND, tzinfo=anchor.tzinfo)
    return Window(first, last)
