"""FHIR dates and instants: one way to read a partial date, one way to write an instant.

Pure (datetime only), so domain code may use it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

_PARTIAL_PADDING = {4: "-01-01", 7: "-01"}  # a year or a month means its first day
# how far ahead of ours a sender's clock may run: a time later than now plus this is in the
# future (an outcome not yet collected, a procedure not yet performed)
CLOCK_SKEW = timedelta(minutes=5)


def utcnow() -> datetime:
    return datetime.now(UTC)


def fhir_instant(moment: datetime | None = None) -> str:
    """An aware datetime (default: now) as a FHIR instant in UTC, with a ``Z``."""
    return (moment or utcnow()).astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_fhir_date(value: Any) -> datetime | None:
    """The start of a FHIR date, dateTime or instant, in the offset it was written in.

    A value without an offset (a plain date) is taken as UTC; anything unreadable is None.
    """
    if not isinstance(value, str) or not value:
        return None
    text = value.replace("Z", "+00:00") + _PARTIAL_PADDING.get(len(value), "")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
