"""The policy files load into frozen data that names its guideline and version."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from painflow_scheduling.domain.holds import compute_holds
from painflow_scheduling.domain.policy import Action, HoldTables, Interval, RangeEnd
from painflow_scheduling.policies import (
    POLICY_DIR,
    load_hold_table,
    load_scheduling_policies,
    parse_interval,
)
from painflow_shared.codes import BleedingRisk

from .conftest import BOOKING_TIME, statement


def test_the_default_table_is_asra_2018_and_its_own_fallback(asra):
    assert asra.holds.selected.table == "asra-2018" and asra.holds.selected.version == "1.0.0"
    assert asra.holds.fallback is asra.holds.selected


def test_asipp_2024_falls_back_to_asra_2018(asipp):
    assert asipp.holds.selected.table == "asipp-2024"
    assert asipp.holds.fallback.table == "asra-2018"
    assert "Pain Physician" in asipp.holds.selected.source


def test_an_unknown_table_is_refused():
    with pytest.raises(ValueError, match="unknown hold table"):
        load_scheduling_policies("chest-2022")  # type: ignore[arg-type]


def test_policies_are_frozen(asra):
    with pytest.raises(dataclasses.FrozenInstanceError):
        asra.holds.selected.version = "2"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "interval", "longer", "shorter"),
    [
        ("6 d", Interval(6, 6, "d"), 144, 144),
        ("7-10 d", Interval(7, 10, "d"), 240, 168),
        ("12-24 h", Interval(12, 24, "h"), 24, 12),
    ],
)
def test_intervals_keep_both_ends_of_a_range(text, interval, longer, shorter):
    parsed = parse_interval(text)
    assert parsed == interval
    assert parsed.hours(RangeEnd.LONGER) == longer and parsed.hours(RangeEnd.SHORTER) == shorter


def test_a_malformed_interval_is_refused():
    with pytest.raises(ValueError, match="interval"):
        parse_interval("a week")


def test_every_policy_file_says_what_is_uncertain_and_names_its_sources():
    for path in POLICY_DIR.glob("*.json"):
        data = json.loads(path.read_text())
        assert data["version"] and data["sources"] and data["uncertain"], path.name


def test_a_site_may_choose_the_shorter_end(tmp_path: Path):
    data = json.loads((POLICY_DIR / "holds-asra-2018-v1.json").read_text())
    data["range_end"] = "shorter"
    (tmp_path / "holds.json").write_text(json.dumps(data))
    table = load_hold_table(tmp_path / "holds.json")
    prasugrel = statement("613391")  # 7-10 days
    (hold,) = compute_holds(
        BleedingRisk.HIGH, [prasugrel], tables=HoldTables(table, table), booking_time=BOOKING_TIME
    )
    assert (hold.action, hold.hold_hours) == (Action.HOLD, 168)


def test_a_hold_entry_without_its_interval_is_refused(tmp_path: Path):
    data = json.loads((POLICY_DIR / "holds-asra-2018-v1.json").read_text())
    del data["drugs"][0]["variants"][0]["categories"]["high"]["hold"]
    (tmp_path / "holds.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="interval"):
        load_hold_table(tmp_path / "holds.json")
