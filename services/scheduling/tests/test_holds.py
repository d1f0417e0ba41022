"""Antithrombotic holds: every drug of each table at each risk, and the counting convention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from painflow_scheduling.domain.holds import (
    HoldFlag,
    blocking_holds,
    booking_check,
    compute_holds,
    earliest_safe_start,
)
from painflow_scheduling.domain.medications import recent_egfr
from painflow_scheduling.domain.policy import Action
from painflow_scheduling.domain.refusals import RefusalKind, Rule
from painflow_shared.codes import BleedingRisk

from .conftest import BOOKING_TIME, ICD10, statement

HIGH, INT, LOW = BleedingRisk.HIGH, BleedingRisk.INTERMEDIATE, BleedingRisk.LOW
H, S, C = Action.HOLD, Action.SHARED_ASSESSMENT, Action.CONTINUE
LAST = "2026-03-01T08:00:00Z"
LAST_AT = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
CHICAGO = ZoneInfo("America/Chicago")

PRIMARY = {"reason": [{"text": "primary prevention"}]}
SECONDARY = {"reason": [{"coding": [{"system": ICD10, "code": "Z95.5"}]}]}
IV, SC = {"route": "47625008"}, {"route": "34206005"}
THERAPEUTIC, PROPHYLACTIC = {"dose_mg": 40, "per_day": 2}, {"dose_mg": 40, "per_day": 1}


def row(high: tuple[Any, ...], intermediate: tuple[Any, ...], low: tuple[Any, ...]):
    return {HIGH: high, INT: intermediate, LOW: low}


# (drug row, RxNorm, statement facts, eGFR, variant, {risk: (action, hold h, restart h)})
ASRA_CASES = [
    (
        "aspirin",
        "1191",
        PRIMARY,
        None,
        "primary",
        row((H, 144, 24), (S, None, 24), (C, None, None)),
    ),
    (
        "aspirin",
        "1191",
        SECONDARY,
        None,
        "secondary",
        row((S, None, 24), (S, None, 24), (C, None, None)),
    ),
    ("ibuprofen", "5640", {}, None, "standard", row((H, 24, 24), (C, None, None), (C, None, None))),
    ("naproxen", "7258", {}, None, "standard", row((H, 96, 24), (C, None, None), (C, None, None))),
    (
        "meloxicam",
        "41493",
        {},
        None,
        "standard",
        row((H, 96, 24), (C, None, None), (C, None, None)),
    ),
    (
        "diclofenac",
        "3355",
        {},
        None,
        "standard",
        row((H, 24, 24), (C, None, None), (C, None, None)),
    ),
    (
        "ketorolac",
        "35827",
        {},
        None,
        "standard",
        row((H, 24, 24), (C, None, None), (C, None, None)),
    ),
    (
        "cilostazol",
        "21107",
        {},
        None,
        "standard",
        row((H, 48, 24), (C, None, None), (C, None, None)),
    ),
    ("warfarin", "11289", {}, None, "standard", row((H, 120, 6), (H, 120, 6), (S, None, 6))),
    (
        "unfractionated-heparin",
        "5224",
        SC,
        None,
        "subcutaneous",
        row((H, 24, 6), (H, 6, 2), (H, 6, 2)),
    ),
    (
        "unfractionated-heparin",
        "5224",
        IV,
        None,
        "intravenous",
        row((H, 6, 2), (H, 6, 2), (H, 6, 2)),
    ),
    (
        "enoxaparin",
        "67108",
        THERAPEUTIC,
        None,
        "therapeutic",
        row((H, 24, 24), (H, 24, 24), (H, 24, 4)),
    ),
    (
        "enoxaparin",
        "67108",
        PROPHYLACTIC,
        None,
        "prophylactic",
        row((H, 12, 24), (H, 12, 24), (H, 12, 4)),
    ),
    ("clopidogrel", "32968", {}, None, "standard", row((H, 168, 24), (H, 168, 24), (S, None, 24))),
    ("prasugrel", "613391", {}, None, "standard", row((H, 240, 24), (H, 240, 24), (S, None, 24))),
    ("ticagrelor", "1116632", {}, None, "standard", row((H, 120, 24), (H, 120, 24), (S, None, 24))),
    (
        "dabigatran",
        "1037042",
        {},
        70,
        "egfr-50-or-more",
        row((H, 120, 24), (H, 120, 24), (S, None, 24)),
    ),
    (
        "dabigatran",
        "1037042",
        {},
        30,
        "egfr-below-50",
        row((H, 144, 24), (H, 144, 24), (S, None, 24)),
    ),
    ("rivaroxaban", "1114195", {}, None, "standard", row((H, 72, 24), (H, 72, 24), (S, None, 24))),
    ("apixaban", "1364430", {}, None, "standard", row((H, 120, 24), (H, 120, 24), (S, None, 24))),
    ("edoxaban", "1599538", {}, None, "standard", row((H, 72, 24), (H, 72, 24), (S, None, 24))),
    ("fondaparinux", "321208", {}, None, "standard", row((H, 96, 24), (H, 96, 24), (S, None, 24))),
]
ASIPP_CASES = [
    ("aspirin", "1191", PRIMARY, None, "primary", row((H, 144, 24), (S, None, 24), (S, None, 24))),
    (
        "aspirin",
        "1191",
        SECONDARY,
        None,
        "secondary",
        row((H, 144, 24), (S, None, 24), (S, None, 24)),
    ),
    ("clopidogrel", "32968", {}, None, "standard", row((H, 144, 24), (H, 144, 24), (S, None, 24))),
    ("prasugrel", "613391", {}, None, "standard", row((H, 144, 24), (H, 144, 24), (S, None, 24))),
    (
        "dabigatran",
        "1037042",
        {},
        70,
        "egfr-50-or-more",
        row((H, 48, 24), (H, 24, 24), (S, None, 24)),
    ),
    (
        "dabigatran",
        "1037042",
        {},
        30,
        "egfr-below-50",
        row((H, 96, 24), (H, 48, 24), (S, None, 24)),
    ),
    ("rivaroxaban", "1114195", {}, None, "standard", row((H, 48, 24), (H, 24, 24), (S, None, 24))),
    ("apixaban", "1364430", {}, None, "standard", row((H, 48, 24), (H, 24, 24), (S, None, 24))),
    ("edoxaban", "1599538", {}, None, "standard", row((H, 48, 24), (H, 24, 24), (S, None, 24))),
]


def _one(policies, risk, med, egfr=None, zone="UTC", booking=BOOKING_TIME):
    holds = compute_holds(
        risk, [med], tables=policies.holds, booking_time=booking, egfr=egfr, site_zone=zone
    )
    assert len(holds) == 1
    return holds[0]


def _check_row(policies, drug, code, facts, egfr, variant, expected):
    for risk, (action, hold_h, restart_h) in expected.items():
        med = statement(code, status="stopped", taken=LAST, **facts)
        hold = _one(policies, risk, med, egfr)
        assert (hold.drug, hold.variant, hold.action) == (drug, variant, action), risk
        assert (hold.hold_hours, hold.restart_hours) == (hold_h, restart_h), risk
        assert hold.last_dose == LAST_AT
        assert hold.safe_from == (LAST_AT + timedelta(hours=hold_h) if hold_h else None)
        assert hold.blocking is (action is H)


@pytest.mark.parametrize("case", ASRA_CASES, ids=lambda c: f"{c[0]}-{c[4]}")
def test_every_asra_2018_row_at_every_risk(asra, case):
    _check_row(asra, *case)
    assert "Narouze" in _one(asra, HIGH, statement(case[1], **case[2]), case[3]).source


@pytest.mark.parametrize("case", ASIPP_CASES, ids=lambda c: f"{c[0]}-{c[4]}")
def test_every_asipp_2024_row_at_every_risk(asipp, case):
    _check_row(asipp, *case)
    hold = _one(asipp, HIGH, statement(case[1], **case[2]), case[3])
    assert "ASIPP" in hold.source and HoldFlag.FALLBACK_TO_ASRA not in hold.flags


@pytest.mark.parametrize(("fixture", "cases"), [("asra", ASRA_CASES), ("asipp", ASIPP_CASES)])
def test_the_cases_cover_every_drug_and_variant_of_each_table(request, fixture, cases):
    table = request.getfixturevalue(fixture).holds.selected
    listed = {(d.drug, v.variant) for d in table.drugs for v in d.variants}
    assert {(c[0], c[4]) for c in cases} == listed


def test_the_boundary_minute_before_safe_from_is_refused_and_at_it_allowed(asra):
    hold = _one(asra, INT, statement("11289", status="stopped", taken=LAST))
    safe_from = datetime(2026, 3, 6, 8, 0, tzinfo=UTC)
    assert hold.safe_from == safe_from
    refused = booking_check([hold], safe_from - timedelta(minutes=1))
    assert len(refused) == 1 and refused[0].rule is Rule.HOLD
    assert refused[0].kind is RefusalKind.BUSINESS_RULE
    assert refused[0].expression == "Appointment.start"
    assert refused[0].safe_from == safe_from
    assert "safe from 2026-03-06T08:00:00+00:00" in refused[0].reason
    assert "MedicationStatement/ms-1" in refused[0].reason and "120 h" in refused[0].reason
    assert booking_check([hold], safe_from) == ()


def test_a_date_only_last_dose_is_2359_that_day_in_the_site_zone(asra):
    med = statement("11289", status="stopped", taken="2026-03-01")
    hold = _one(asra, INT, med, zone="America/Chicago")
    assert hold.last_dose == datetime(2026, 3, 1, 23, 59, tzinfo=CHICAGO)
    assert hold.safe_from == datetime(2026, 3, 7, 5, 59, tzinfo=UTC)  # 6 March 23:59 CST
    refused = booking_check([hold], datetime(2026, 3, 7, 5, 0, tzinfo=UTC), site_zone=CHICAGO)
    assert "safe from 2026-03-06T23:59:00-06:00" in refused[0].reason


def test_n_days_are_n_times_24_hours_across_a_daylight_saving_change(asra):
    med = statement("11289", status="stopped", taken="2026-03-06")  # DST starts 8 March
    hold = _one(asra, INT, med, zone="America/Chicago")
    assert hold.safe_from is not None
    assert hold.safe_from - hold.last_dose == timedelta(hours=120)
    assert hold.safe_from.astimezone(CHICAGO).isoformat() == "2026-03-12T00:59:00-05:00"


def test_an_active_drug_is_taken_until_the_booking_time(asra):
    hold = _one(asra, INT, statement("11289", taken="2025-06-01"))
    assert (hold.last_dose, hold.last_dose_basis) == (BOOKING_TIME, "booking-time")
    assert hold.still_taken and hold.safe_from == BOOKING_TIME + timedelta(days=5)


def test_effective_period_end_is_the_last_dose_even_while_active(asra):
    hold = _one(asra, INT, statement("11289", period_end="2026-03-04T20:00:00Z"))
    assert hold.last_dose_basis == "effectivePeriod.end"
    assert hold.safe_from == datetime(2026, 3, 9, 20, 0, tzinfo=UTC)
    assert hold.still_taken  # it stops after the booking: the patient must still be told


def test_a_stopped_statement_without_a_date_is_still_counted_from_the_booking_time(asra):
    hold = _one(asra, INT, statement("11289", status="stopped"))
    assert hold.last_dose == BOOKING_TIME


def test_with_two_drugs_the_latest_safe_from_wins(asra):
    meds = [
        statement("11289", ident="warfarin", status="stopped", taken="2026-03-01"),
        statement("32968", ident="clopidogrel"),  # active: 7 days from the booking
    ]
    holds = compute_holds(INT, meds, tables=asra.holds, booking_time=BOOKING_TIME)
    start = earliest_safe_start(holds, booking_time=BOOKING_TIME)
    assert start == BOOKING_TIME + timedelta(days=7)
    between = datetime(2026, 3, 8, 0, 0, tzinfo=UTC)  # after warfarin's, before clopidogrel's
    assert [h.drug for h in blocking_holds(holds, between)] == ["clopidogrel"]
    assert booking_check(holds, start) == ()


def test_earliest_safe_start_is_never_before_the_booking_time(asra):
    hold = _one(asra, INT, statement("11289", status="stopped", taken="2025-01-01"))
    assert earliest_safe_start([hold], booking_time=BOOKING_TIME) == BOOKING_TIME


def test_shared_assessment_and_continue_are_shown_never_blocking(asra):
    shared = _one(asra, LOW, statement("11289"))
    kept = _one(asra, LOW, statement("1191", **PRIMARY))
    assert HoldFlag.SHARED_ASSESSMENT in shared.flags and HoldFlag.CONTINUE in kept.flags
    assert booking_check([shared, kept], BOOKING_TIME) == ()
    assert earliest_safe_start([shared, kept], booking_time=BOOKING_TIME) == BOOKING_TIME


def test_warfarin_needs_a_normal_inr_which_does_not_block_by_itself(asra):
    hold = _one(asra, HIGH, statement("11289", status="stopped", taken="2026-01-01"))
    assert HoldFlag.NEEDS_INR in hold.flags
    assert [c.lab["code"] for c in hold.conditions] == ["6301-6"]
    assert booking_check([hold], BOOKING_TIME) == ()


def test_asipp_uses_its_shorter_doac_hold(asra, asipp):
    apixaban = statement("1364430")
    assert _one(asra, INT, apixaban).hold_hours == 120
    assert _one(asipp, INT, apixaban).hold_hours == 24


def test_a_drug_asipp_does_not_list_falls_back_to_the_asra_row_and_says_so(asipp):
    hold = _one(asipp, INT, statement("11289"))
    assert HoldFlag.FALLBACK_TO_ASRA in hold.flags
    assert (hold.hold_hours, hold.table) == (120, "asra-2018 v1.0.0")
    assert "Narouze" in hold.source


def test_dabigatran_without_an_egfr_takes_the_longer_hold(asra, asipp):
    dabigatran = statement("1037042")
    for policies, hours in ((asra, 144), (asipp, 48)):
        hold = _one(policies, INT, dabigatran, egfr=None)
        assert (hold.variant, hold.hold_hours) == ("egfr-below-50", hours)
        assert HoldFlag.RENAL_FUNCTION_UNKNOWN in hold.flags
    assert HoldFlag.RENAL_FUNCTION_UNKNOWN not in _one(asra, INT, dabigatran, egfr=50).flags
    assert _one(asra, INT, dabigatran, egfr=50).hold_hours == 120  # 50 is not impaired


@pytest.mark.parametrize(
    ("facts", "variant", "hours"),
    [
        ({"dose_mg": 40, "per_day": 1}, "prophylactic", 12),
        ({"dose_mg": 60, "per_day": 1}, "prophylactic", 12),
        ({"dose_mg": 80, "per_day": 1}, "therapeutic", 24),
        ({"dose_mg": 40, "per_day": 2}, "therapeutic", 24),
    ],
)
def test_enoxaparin_is_therapeutic_above_60_mg_a_day(asra, facts, variant, hours):
    hold = _one(asra, INT, statement("67108", **facts))
    assert (hold.variant, hold.hold_hours) == (variant, hours)
    assert HoldFlag.DOSE_UNKNOWN not in hold.flags


def test_enoxaparin_without_a_dose_takes_the_therapeutic_hold(asra):
    hold = _one(asra, INT, statement("67108"))
    assert (hold.variant, hold.hold_hours) == ("therapeutic", 24)
    assert HoldFlag.DOSE_UNKNOWN in hold.flags


def test_aspirin_primary_secondary_and_unknown(asra):
    primary = _one(asra, HIGH, statement("1191", **PRIMARY))
    secondary = _one(asra, HIGH, statement("1191", **SECONDARY))
    unknown = _one(asra, HIGH, statement("1191"))
    assert (primary.variant, primary.blocking, primary.hold_hours) == ("primary", True, 144)
    assert (secondary.variant, secondary.blocking) == ("secondary", False)
    assert (unknown.variant, unknown.blocking, unknown.hold_hours) == ("primary", True, 144)
    assert HoldFlag.ASPIRIN_INDICATION_UNKNOWN in unknown.flags
    assert HoldFlag.ASPIRIN_INDICATION_UNKNOWN not in primary.flags | secondary.flags


def test_a_secondary_prevention_reason_given_as_text_counts(asra):
    med = statement("1191", reason=[{"text": "Coronary stent 2023"}])
    assert _one(asra, HIGH, med).variant == "secondary"


def test_heparin_without_a_route_takes_the_longer_subcutaneous_hold(asra):
    hold = _one(asra, HIGH, statement("5224"))
    assert (hold.variant, hold.hold_hours) == ("subcutaneous", 24)
    assert HoldFlag.ROUTE_UNKNOWN in hold.flags


def test_a_clinical_drug_code_is_matched_by_its_name(asra):
    naproxen = statement("849574", display="Naproxen sodium 220 MG Oral Tablet")
    assert _one(asra, HIGH, naproxen).drug == "naproxen"


def test_other_drugs_and_statements_in_error_give_no_hold(asra):
    meds = [
        statement("1049221", display="Acetaminophen 325 MG / Oxycodone Hydrochloride 5 MG"),
        statement("11289", status="entered-in-error"),
        {"resourceType": "MedicationStatement", "id": "x", "status": "active"},
    ]
    assert compute_holds(HIGH, meds, tables=asra.holds, booking_time=BOOKING_TIME) == ()


def test_uncertain_table_entries_are_flagged(asra):
    assert HoldFlag.UNCERTAIN in _one(asra, INT, statement("1364430")).flags
    assert HoldFlag.UNCERTAIN not in _one(asra, INT, statement("11289")).flags


def test_a_booking_time_without_a_zone_is_a_programming_error(asra):
    with pytest.raises(ValueError, match="zone"):
        compute_holds(HIGH, [], tables=asra.holds, booking_time=datetime(2026, 3, 1))


def test_the_recent_egfr_is_the_latest_final_one_within_90_days(asra):
    def egfr(value, when, status="final", code="62238-1"):
        return {
            "resourceType": "Observation",
            "status": status,
            "effectiveDateTime": when,
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "valueQuantity": {"value": value, "unit": "mL/min/{1.73_m2}"},
        }

    table, utc = asra.holds.selected, ZoneInfo("UTC")
    observations = [
        egfr(40, "2026-02-01"),
        egfr(70, "2026-01-01"),
        egfr(20, "2026-02-20", "preliminary"),
        egfr(10, "2026-02-25", code="2160-0"),
    ]
    assert recent_egfr(observations, table, BOOKING_TIME, utc) == 40
    assert recent_egfr([egfr(70, "2025-10-01")], table, BOOKING_TIME, utc) is None
