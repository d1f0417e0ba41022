"""The journey page's view: the follow-up service's timeline (``GET /journeys/{id}``) with each
step's resources linked at the service that made them, and the charts: NRS and ODI/NDI with
the baseline and the clinically important change, MME with the policy's lines (50 and 90 as
shipped); the lines come from the services' policies (thresholds.py).

Pure: the page reads the data (pages/patients.py) and hands it here.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from painflow_clinic.charts import Chart, Point, Rule, important_change_line, line_chart
from painflow_clinic.thresholds import ImportantChange, Thresholds

Resource = dict[str, Any]
ODI_LOINC, NDI_LOINC = "97909-6", "82237-9"
STEP_TEXT = {
    "injury": "Injury",
    "referral": "Referral received",
    "triage": "Triage",
    "intake": "Intake questionnaires sent",
    "decision": "Pathway decision",
    "order": "Procedure ordered",
    "booking": "Procedure booked",
    "procedure": "Procedure performed",
    "follow-up": "Follow-up planned",
    "outcome": "Outcome recorded",
    "next-step": "Next step proposed",
}


def service_of(event_type: str) -> str:
    """painflow.<service>.<what> names the service holding the event's resources."""
    parts = event_type.split(".")
    return parts[1] if len(parts) > 2 and parts[1] != "journey" else "referral"


def timeline(journey: Resource) -> list[Resource]:
    return [_row(event) for event in journey.get("events") or []]


def _row(event: Resource) -> Resource:
    service = service_of(str(event.get("event", "")))
    summary = event.get("summary") or {}
    return {
        "day": event.get("days_since_injury"),
        "at": event.get("at"),
        "step": STEP_TEXT.get(str(event.get("step")), str(event.get("step", "")).title()),
        "text": describe(str(event.get("event", "")), summary),
        "resources": [(r, service) for r in event.get("resources") or []],
        "trace_id": event.get("trace_id"),
    }


def describe(event_type: str, summary: Resource) -> str:
    """One line for people, from the summary's codes and numbers."""
    parts = []
    if summary.get("decision"):
        parts.append(f"decision: {str(summary['decision']).replace('-', ' ')}")
    if summary.get("procedure"):
        parts.append(str(summary["procedure"]))
    if summary.get("appointment_start"):
        parts.append(f"on {str(summary['appointment_start'])[:16].replace('T', ' ')}")
    if summary.get("time_point"):
        parts.append(f"time point {summary['time_point']}")
    for key, label in (("nrs", "NRS"), ("relief_percent", "relief %"), ("mme", "MME")):
        if isinstance(summary.get(key), int | float):
            parts.append(f"{label} {summary[key]:g}")
    if summary.get("next_step_display"):
        parts.append(str(summary["next_step_display"]))
    if summary.get("time_points"):
        labels = ", ".join(str(t.get("label")) for t in summary["time_points"])
        parts.append(f"time points: {labels}")
    return "; ".join(parts) or event_type.rsplit(".", 1)[-1].replace("-", " ")


def nrs_chart(journey: Resource, thresholds: Thresholds) -> Chart:
    series = (journey.get("series") or {}).get("nrs") or []
    rule = thresholds.change.get("nrs")
    baseline = next(
        (p["value"] for p in series if str(p.get("event", "")).startswith("painflow.assessment")),
        series[0]["value"] if series else None,
    )
    line = (
        important_change_line(baseline, rule.min_points, rule.min_percent)
        if baseline is not None and rule is not None
        else None
    )
    points = [
        Point(
            day=p.get("days_since_injury") or 0,
            value=p["value"],
            label=f"NRS {p['value']:g} on day {p.get('days_since_injury')} "
            f"({str(p.get('event', '')).rsplit('.', 1)[-1].replace('-', ' ')})",
            marked=line is not None and p["value"] <= line,
        )
        for p in series
    ]
    rules = _rules(baseline, line, rule)
    notes = thresholds.note("nrs")
    return line_chart("Pain (NRS 0-10)", "NRS", points, rules, y_max=10, notes=notes)


def function_chart(
    observations: list[Resource], onset: str | None, thresholds: Thresholds
) -> Chart | None:
    """ODI (low back) or NDI (neck), intake and follow-up scores, oldest first."""
    scores = sorted(
        (o for o in observations if _loinc(o) in (ODI_LOINC, NDI_LOINC) and _value(o) is not None),
        key=lambda o: str(o.get("effectiveDateTime") or ""),
    )
    if not scores:
        return None
    name = "ndi" if _loinc(scores[0]) == NDI_LOINC else "odi"
    rule = thresholds.change.get(name)
    baseline = float(_value(scores[0]) or 0)
    line = important_change_line(baseline, rule.min_points, rule.min_percent) if rule else None
    points = [
        Point(
            day=_days(o, onset),
            value=float(_value(o) or 0),
            label=f"{name.upper()} {_value(o):g}% on day {_days(o, onset):g}",
            marked=_better(o)
            or (line is not None and float(_value(o) or 0) <= line and o is not scores[0]),
            href=str(o.get("_href", "")),
        )
        for o in scores
    ]
    title = f"Function ({name.upper()} %, lower is better)"
    rules = _rules(baseline, line, rule)
    notes = thresholds.note(name)
    return line_chart(title, f"{name.upper()} %", points, rules, y_max=100, notes=notes)


def mme_chart(journey: Resource, thresholds: Thresholds) -> Chart:
    series = (journey.get("series") or {}).get("mme") or []
    lines = thresholds.mme_lines
    points = [
        Point(
            day=p.get("days_since_injury") or 0,
            value=p["value"],
            label=f"MME {p['value']:g}/day on day {p.get('days_since_injury')}",
            marked=bool(lines) and p["value"] >= lines[0],
        )
        for p in series
    ]
    # the lowest line is the first caution, the highest the limit (50 and 90 as shipped)
    rules = [
        Rule(at, f"{at:g} MME/day", "limit" if i == len(lines) - 1 else "caution")
        for i, at in enumerate(lines)
    ]
    marked_as = f"at or above {lines[0]:g} MME/day" if lines else "no MME line: policy unread"
    return line_chart(
        "Opioid load (MME per day)",
        "MME/day",
        points,
        rules,
        marked_as=marked_as,
        notes=thresholds.note("mme"),
    )


def _rules(baseline: float | None, line: float | None, rule: ImportantChange | None) -> list[Rule]:
    if baseline is None:
        return []
    rules = [Rule(baseline, f"baseline {baseline:g}", "baseline")]
    if line is not None and rule is not None:
        label = f"important change at or below {line:g} ({rule.cite})"
        rules.append(Rule(line, label, "threshold"))
    return rules


def _loinc(observation: Resource) -> str | None:
    codings = (observation.get("code") or {}).get("coding") or []
    return next((c.get("code") for c in codings if c.get("system") == "http://loinc.org"), None)


def _value(observation: Resource) -> float | None:
    value = (observation.get("valueQuantity") or {}).get("value")
    if value is None:
        value = observation.get("valueInteger")
    return float(value) if isinstance(value, int | float) else None


def _better(observation: Resource) -> bool:
    return any(
        c.get("code") == "B"
        for i in observation.get("interpretation") or []
        for c in i.get("coding") or []
    )


def _days(observation: Resource, onset: str | None) -> float:
    when = str(observation.get("effectiveDateTime") or "")[:10]
    if not onset or not when:
        return 0.0
    return float((date.fromisoformat(when) - date.fromisoformat(onset)).days)
