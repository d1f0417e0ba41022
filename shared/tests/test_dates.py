"""Partial FHIR dates read as the start of their period; instants written in UTC with a Z."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from painflow_shared.fhir.dates import fhir_instant, parse_fhir_date
from painflow_shared.fhir.search_params import parse_date_value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026", datetime(2026, 1, 1, tzinfo=UTC)),
        ("2026-03", datetime(2026, 3, 1, tzinfo=UTC)),
        ("2026-03-05", datetime(2026, 3, 5, tzinfo=UTC)),
        ("2026-03-05T10:00:00Z", datetime(2026, 3, 5, 10, tzinfo=UTC)),
    ],
)
def test_partial_dates_mean_the_start_of_their_period(text, expected):
    assert parse_fhir_date(text) == expected


def test_a_datetime_keeps_the_date_it_was_written_on():
    evening = parse_fhir_date("2026-03-05T23:00:00-05:00")
    assert evening is not None and evening.date().isoformat() == "2026-03-05"
    assert parse_date_value("2026-03-05T23:00:00-05:00") == datetime(2026, 3, 6, 4, tzinfo=UTC)


@pytest.mark.parametrize("text", [None, "", "12", "2026-13", "yesterday"])
def test_unreadable_dates_are_none(text):
    assert parse_fhir_date(text) is None


def test_instants_are_utc_with_a_z():
    moment = datetime(2026, 3, 5, 10, tzinfo=timezone(timedelta(hours=2)))
    assert fhir_instant(moment) == "2026-03-05T08:00:00Z"
