"""$generate-slots from a weekly template in the site's zone, across a daylight-saving change."""

from __future__ import annotations

from datetime import date, time

import pytest
from fhir.resources.R4B.slot import Slot

from painflow_scheduling.domain.slots import (
    WeeklyTemplate,
    generate_slots,
    template_issues,
    weekly_template_from_parameters,
)
from painflow_shared.fhir.errors import BusinessRuleViolation, InvalidRequest

SCHEDULE = {
    "resourceType": "Schedule",
    "id": "room-2",
    "serviceType": [
        {"coding": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "RF"}]}
    ],
}


def template(**changes):
    values = {
        "days": frozenset({"fri", "mon"}),
        "start": time(8, 0),
        "end": time(9, 0),
        "slot_minutes": 30,
        "first_day": date(2026, 3, 6),  # Friday before US daylight saving starts (8 March)
        "last_day": date(2026, 3, 9),  # Monday after
        "site_zone": "America/Chicago",
    }
    return WeeklyTemplate(**{**values, **changes})


def test_slots_keep_their_wall_clock_hours_across_a_dst_change():
    slots = generate_slots(template(), SCHEDULE)
    assert [(s["start"], s["end"]) for s in slots] == [
        ("2026-03-06T08:00:00-06:00", "2026-03-06T08:30:00-06:00"),
        ("2026-03-06T08:30:00-06:00", "2026-03-06T09:00:00-06:00"),
        ("2026-03-09T08:00:00-05:00", "2026-03-09T08:30:00-05:00"),
        ("2026-03-09T08:30:00-05:00", "2026-03-09T09:00:00-05:00"),
    ]
    for slot in slots:
        Slot.model_validate(slot)
        assert slot["status"] == "free" and slot["schedule"] == {"reference": "Schedule/room-2"}
        assert slot["serviceType"] == SCHEDULE["serviceType"]


def test_a_day_that_loses_an_hour_gives_only_the_hours_that_exist():
    night = template(
        days=frozenset({"sun"}),
        start=time(1, 0),
        end=time(4, 0),
        slot_minutes=60,
        first_day=date(2026, 3, 8),
        last_day=date(2026, 3, 8),
    )
    starts = [s["start"] for s in generate_slots(night, SCHEDULE)]
    assert starts == ["2026-03-08T01:00:00-06:00", "2026-03-08T03:00:00-05:00"]


def test_only_whole_slots_fit_before_closing():
    slots = generate_slots(template(days=frozenset({"fri"}), slot_minutes=40), SCHEDULE)
    assert [s["start"] for s in slots] == ["2026-03-06T08:00:00-06:00"]


@pytest.mark.parametrize(
    ("changes", "parameter"),
    [
        ({"days": frozenset({"funday"})}, "day"),
        ({"end": time(7, 0)}, "end-time"),
        ({"slot_minutes": 0}, "slot-minutes"),
        ({"last_day": date(2026, 3, 1)}, "to"),
        ({"last_day": date(2027, 6, 1)}, "to"),
        ({"site_zone": "Mars/Olympus"}, "site-zone"),
    ],
)
def test_a_bad_template_is_refused_naming_its_parameter(changes, parameter):
    issues = template_issues(template(**changes))
    assert [i.expression for i in issues] == [(f"Parameters.parameter.where(name='{parameter}')",)]
    with pytest.raises(BusinessRuleViolation):
        generate_slots(template(**changes), SCHEDULE)


def test_too_many_slots_are_refused():
    every_minute = template(
        days=frozenset({"mon", "tue", "wed", "thu", "fri"}),
        start=time(0, 0),
        end=time(23, 0),
        slot_minutes=1,
        last_day=date(2026, 3, 20),
    )
    with pytest.raises(BusinessRuleViolation, match="more than 5000 slots"):
        generate_slots(every_minute, SCHEDULE)


def test_the_template_is_read_from_parameters():
    params = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "day", "valueCode": "mon"},
            {"name": "day", "valueCode": "fri"},
            {"name": "start-time", "valueTime": "08:00:00"},
            {"name": "end-time", "valueTime": "09:00:00"},
            {"name": "slot-minutes", "valuePositiveInt": 30},
            {"name": "from", "valueDate": "2026-03-06"},
            {"name": "to", "valueDate": "2026-03-09"},
        ],
    }
    assert weekly_template_from_parameters(params, "America/Chicago") == template()
    del params["parameter"][2]
    with pytest.raises(InvalidRequest):
        weekly_template_from_parameters(params, "America/Chicago")
