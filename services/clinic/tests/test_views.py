"""The clinic's pure view logic: charts and their marks, the journey's lines, queue order."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree as ET

from painflow_clinic.charts import Point, Rule, important_change_line, line_chart
from painflow_clinic.journey import describe, function_chart, mme_chart, nrs_chart, service_of
from painflow_clinic.pages.bookings import constraint_rows
from painflow_clinic.pages.followups import bucket
from painflow_clinic.pages.triage import queue_order
from painflow_clinic.thresholds import from_policies

REPO = Path(__file__).resolve().parents[3]
# the documents the services serve at GET /policies/{name}, read here as files (the clinic
# never imports a service): the charts' lines are the shipped policies' values
SERVICES = REPO / "services"
MEASURES = json.loads(
    (SERVICES / "followup/painflow_followup/policies/outcome-measures-v1.json").read_text()
)
MME = json.loads((SERVICES / "assessment/painflow_assessment/policies/mme-v1.json").read_text())
SHIPPED = from_policies(MEASURES, MME)

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)
SVG = "{http://www.w3.org/2000/svg}"


def test_important_change_takes_whichever_rule_is_reached_first():
    assert important_change_line(7, 2, 30) == 5  # 2 points beats 30% (4.9)
    assert important_change_line(40, 10, 30) == 30  # 10 points beats 30% (28)
    assert important_change_line(3, 2, 30) == 2.1  # 30% beats 2 points (1)


def test_nrs_chart_marks_the_baseline_the_threshold_and_the_improved_point():
    journey = {
        "series": {
            "nrs": [
                {"value": 7, "days_since_injury": 21, "event": "painflow.assessment.completed"},
                {
                    "value": 6,
                    "days_since_injury": 30,
                    "event": "painflow.followup.outcome-recorded",
                },
                {
                    "value": 3,
                    "days_since_injury": 63,
                    "event": "painflow.followup.outcome-recorded",
                },
            ]
        }
    }
    chart = nrs_chart(journey, SHIPPED)
    assert [(r.kind, r.value) for r in chart.rules] == [("baseline", 7), ("threshold", 5)]
    assert [p.marked for p in chart.points] == [False, False, True]
    assert chart.y_max == 10  # the whole NRS scale, whatever the values
    assert [p.day for p in chart.points] == [21, 30, 63]


def test_mme_chart_has_the_50_and_90_lines():
    chart = mme_chart({"series": {"mme": [{"value": 60, "days_since_injury": 3}]}}, SHIPPED)
    assert [(r.value, r.kind) for r in chart.rules] == [(50, "caution"), (90, "limit")]
    assert chart.points[0].marked and chart.y_max >= 90


def test_function_chart_uses_the_services_verdict_and_the_first_score_as_baseline():
    better = {"coding": [{"code": "B"}]}
    observations = [
        {
            "code": {"coding": [{"system": "http://loinc.org", "code": "97909-6"}]},
            "effectiveDateTime": "2026-12-02",
            "valueQuantity": {"value": 40},
        },
        {
            "code": {"coding": [{"system": "http://loinc.org", "code": "97909-6"}]},
            "effectiveDateTime": "2027-06-02",
            "valueQuantity": {"value": 34},
            "interpretation": [better],
        },
    ]
    chart = function_chart(observations, "2026-11-11", SHIPPED)
    assert chart is not None and "ODI" in chart.title
    assert [p.day for p in chart.points] == [21, 203]
    assert [p.marked for p in chart.points] == [False, True]
    assert [(r.kind, r.value) for r in chart.rules] == [("baseline", 40), ("threshold", 30)]
    assert function_chart([], None, SHIPPED) is None


NRS_JOURNEY = {
    "series": {
        "nrs": [
            {"value": 8, "days_since_injury": 21, "event": "painflow.assessment.completed"},
            {"value": 6, "days_since_injury": 63, "event": "painflow.followup.outcome-recorded"},
        ]
    }
}


def test_a_site_s_own_policy_moves_the_lines():
    """A site that asks for 3 points and a 60 MME caution sees them drawn: nothing is a copy."""
    measures = json.loads(json.dumps(MEASURES))
    measures["nrs"]["important_change"] = {"min_points": 3, "min_percent": 50, "combine": "any"}
    mme = {**MME, "thresholds": [{"at": 120}, {"at": 60}]}
    site = from_policies(measures, mme)
    assert [(r.kind, r.value) for r in nrs_chart(NRS_JOURNEY, SHIPPED).rules] == [
        ("baseline", 8),
        ("threshold", 6),  # 2 points (shipped)
    ]
    assert [(r.kind, r.value) for r in nrs_chart(NRS_JOURNEY, site).rules] == [
        ("baseline", 8),
        ("threshold", 5),  # 3 points
    ]
    chart = mme_chart({"series": {"mme": [{"value": 55, "days_since_injury": 3}]}}, site)
    assert [(r.value, r.kind) for r in chart.rules] == [(60, "caution"), (120, "limit")]
    assert not chart.points[0].marked  # 55 is under this site's 60


def test_without_the_policies_the_charts_draw_no_lines_and_say_why():
    unread = from_policies(None, None)
    nrs = nrs_chart(NRS_JOURNEY, unread)
    assert [r.kind for r in nrs.rules] == ["baseline"]
    assert not any(p.marked for p in nrs.points)
    assert any("outcome-measures" in n for n in nrs.notes)
    assert not any("MME" in n for n in nrs.notes)  # each chart names the policy it lacks
    mme = mme_chart({"series": {"mme": [{"value": 95, "days_since_injury": 3}]}}, unread)
    assert mme.rules == () and not mme.points[0].marked
    assert any("mme policy" in n for n in mme.notes)
    assert nrs_chart(NRS_JOURNEY, SHIPPED).notes == ()


def test_a_chart_is_inline_svg_without_script_or_inline_style():
    points = [Point(3, 7, "NRS 7 on day 3"), Point(40, 4, "NRS 4 on day 40", marked=True)]
    rules = [Rule(7, "baseline 7", "baseline"), Rule(5, "change at or below 5", "threshold")]
    svg = ET.fromstring(str(line_chart("Pain", "NRS", points, rules, y_max=10).svg("c1")))
    tags = {node.tag.rsplit("}", 1)[-1] for node in svg.iter()}
    assert not tags & {"script", "style", "a", "foreignObject"}
    assert all("style" not in node.attrib for node in svg.iter())  # the CSP allows none
    assert svg.get("role") == "img" and svg.get("aria-labelledby") == "c1-title c1-desc"
    assert _text(svg, "title", "c1-title") == "Pain by days since the injury"
    assert "baseline 7; change at or below 5" in _text(svg, "desc", "c1-desc")
    legend = [t.text for t in svg.iter(f"{SVG}text") if t.text and not t.text[0].isdigit()]
    assert {"NRS", "clinically important change", "baseline 7"} <= set(legend)


def test_marked_points_are_drawn_larger_and_titled_as_an_important_change():
    chart = line_chart("Pain", "NRS", [Point(1, 2, "p"), Point(9, 1, "q", marked=True)])
    svg = ET.fromstring(str(chart.svg("c2")))
    marked = [g for g in svg.iter(f"{SVG}g") if g.get("class") == "dots point marked"]
    dots = [c for g in marked for c in g.iter(f"{SVG}circle")]
    titles = [t.text for g in marked for t in g.iter(f"{SVG}title")]
    assert len(dots) == 1 and float(dots[0].get("r") or 0) > 4
    assert titles == ["q (clinically important change)"]


def test_a_chart_without_values_says_so():
    svg = ET.fromstring(str(line_chart("t", "u", []).svg("c3")))
    assert "No values yet" in "".join(svg.itertext())
    with_rules = line_chart("t", "u", [], [Rule(5, "r", "limit")])
    assert with_rules.y_max >= 5  # the axes still reach the rule
    assert "No values yet" not in "".join(ET.fromstring(str(with_rules.svg("c4"))).itertext())


def _text(svg: ET.Element, tag: str, element_id: str) -> str:
    return next(n.text or "" for n in svg.iter(f"{SVG}{tag}") if n.get("id") == element_id)


def test_each_step_is_linked_at_the_service_that_made_it():
    assert service_of("painflow.scheduling.appointment-booked") == "scheduling"
    assert service_of("painflow.journey.started") == "referral"
    assert describe("x.y.outcome-recorded", {"nrs": 3, "relief_percent": 70.0}) == (
        "NRS 3; relief % 70"
    )


def test_fast_track_referrals_come_first_then_the_oldest():
    def task(code: str, at: str) -> dict:
        return {"businessStatus": {"coding": [{"code": code}]}, "authoredOn": at}

    tasks = [
        task("waiting", "2026-01-01"),
        task("fast-track", "2026-02-01"),
        task("waiting", "2025-12-01"),
    ]
    ordered = sorted(tasks, key=queue_order)
    assert [t["authoredOn"] for t in ordered] == ["2026-02-01", "2025-12-01", "2026-01-01"]


def test_outcome_tasks_are_due_overdue_or_soon_by_their_window():
    def task(start: timedelta, end: timedelta) -> dict:
        period = {"start": (NOW + start).isoformat(), "end": (NOW + end).isoformat()}
        return {"restriction": {"period": period}}

    assert bucket(task(timedelta(hours=-1), timedelta(hours=3)), NOW) == "today"
    assert bucket(task(timedelta(days=-9), timedelta(days=-1)), NOW) == "overdue"
    assert bucket(task(timedelta(days=3), timedelta(days=5)), NOW) == "soon"
    assert bucket(task(timedelta(days=60), timedelta(days=70)), NOW) is None


def test_booking_constraints_read_as_problems_to_see_before_booking():
    rows = constraint_rows(
        {
            "parameter": [
                {"name": "earliest-start", "valueDateTime": "2026-12-07T23:59:00+00:00"},
                {
                    "name": "hold",
                    "part": [
                        {"name": "medication", "valueCodeableConcept": {"text": "warfarin"}},
                        {"name": "hold-hours", "valueDecimal": 120},
                    ],
                },
            ]
        }
    )
    assert rows["earliest"] == "2026-12-07T23:59:00+00:00"
    assert rows["problems"] == [
        {"kind": "hold", "parts": [("medication", "warfarin"), ("hold-hours", "120")]}
    ]


def test_the_charts_leave_every_import_finder_usable():
    """pygal adds a finder without find_spec; importlib callers (pytest's collection) need it."""
    import sys

    import painflow_clinic.charts  # noqa: F401

    assert all(hasattr(finder, "find_spec") for finder in sys.meta_path)
