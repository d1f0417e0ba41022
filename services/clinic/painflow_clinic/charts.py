"""Line charts over days since the injury, drawn on the server by pygal as inline SVG.

Nothing is loaded at run time and no script runs: pygal always writes a config <script> and an
inline <style> (which the page's Content-Security-Policy would refuse anyway), so an XML filter
takes them out and clinic.css styles the chart by the classes pygal gives it plus the kind of
each series (``kind-measured``, ``kind-marked``, ``kind-baseline``, ...). Readable without
colour: marked points are larger filled dots, reference lines are dashed or dotted, every point
has a <title>, and each chart a table beside it (templates/chart.html).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast
from xml.etree import ElementTree as ET

import pygal
from markupsafe import Markup
from pygal.etree import etree as pygal_etree
from pygal.style import Style

# the filter below edits xml.etree elements; pygal would switch to lxml if it were installed
pygal_etree.to_etree()
# pygal appends an old-style importer (find_module only, for pygal.maps plugins, which the clinic
# does not use) to sys.meta_path; importlib users that call find_spec on every finder (pytest's
# collection among them) then fail with AttributeError. Take it out again.
sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "PluginImportFixer"]

WIDTH, HEIGHT, LEGEND_ROW = 640, 266, 22  # each legend row (below the plot) adds height
FONT = 'system-ui, "DejaVu Sans", sans-serif'
# pygal sizes its margins from these; clinic.css draws the text at the same sizes
STYLE = Style(
    font_family=FONT,
    label_font_size=13,
    major_label_font_size=13,
    legend_font_size=13,
    title_font_size=13,
    no_data_font_size=16,
)
OPTIONS: dict[str, Any] = {
    "js": [],
    "css": [],
    "style": STYLE,
    "title": None,
    "x_title": "days since injury",
    "show_legend": True,
    "legend_at_bottom": True,
    "legend_at_bottom_columns": 1,
    "truncate_legend": -1,
    "show_x_guides": False,
    "max_scale": 10,  # at most about ten ticks an axis: legible at tablet width
    "margin": 8,
    "margin_bottom": 16,  # the legend's last row keeps its descenders
    "spacing": 8,
    "no_data_text": "No values yet",
    "disable_xml_declaration": True,
}
DROPPED = {"script", "style", "desc"}  # pygal's config script, inline CSS and tooltip data


@dataclass(frozen=True)
class Point:
    day: float  # days since the injury
    value: float
    label: str  # what the point is (its <title>)
    marked: bool = False  # a clinically important change (or a value past a limit)
    href: str = ""  # the FHIR resource it comes from


@dataclass(frozen=True)
class Rule:
    """A horizontal reference line (baseline, important-change threshold, MME 50/90)."""

    value: float
    label: str
    kind: str  # baseline | threshold | caution | limit


@dataclass(frozen=True)
class Chart:
    title: str
    unit: str
    points: tuple[Point, ...]
    rules: tuple[Rule, ...]
    y_max: float
    x_max: float
    marked_as: str = "clinically important change"
    notes: tuple[str, ...] = field(default_factory=tuple)

    def svg(self, key: str) -> Markup:
        """The chart as inline SVG whose element ids start with ``key``."""
        return Markup(render_svg(self, key))


def line_chart(
    title: str,
    unit: str,
    points: Sequence[Point],
    rules: Sequence[Rule] = (),
    *,
    y_max: float | None = None,
    marked_as: str = "clinically important change",
    notes: Sequence[str] = (),
) -> Chart:
    """A chart over days since the injury; the y axis reaches the highest point or rule."""
    ordered = tuple(sorted(points, key=lambda p: p.day))
    top = y_max or _nice(max([p.value for p in ordered] + [r.value for r in rules] + [1]) * 1.15)
    last = max([p.day for p in ordered] + [7])
    return Chart(
        title=title,
        unit=unit,
        points=ordered,
        rules=tuple(rules),
        y_max=top,
        x_max=_nice(last * 1.05),
        marked_as=marked_as,
        notes=tuple(notes),
    )


def important_change_line(baseline: float, min_points: float, min_percent: float) -> float:
    """The value at or below which a lower-is-better score has changed importantly from its
    baseline, when either rule suffices (the follow-up policy's ``combine: any``)."""
    return round(max(baseline - min_points, baseline * (1 - min_percent / 100)), 1)


def render_svg(chart: Chart, key: str) -> str:
    series = _series(chart)
    axes: dict[str, Any] = {
        "range": (0, chart.y_max),
        "xrange": (0, chart.x_max),
        "y_title": chart.unit,
    }
    if not series:  # pygal would draw axes from 0 to 1 around its "no data" text
        axes = {"show_x_labels": False, "show_y_labels": False, "x_title": None}
    # values with metadata (a <title> for each point): a list of dicts, as pygal takes them
    plot: pygal.XY[list[dict[str, Any]]] = pygal.XY(
        **{**OPTIONS, **axes},
        width=WIDTH,
        height=HEIGHT + LEGEND_ROW * len(series) if series else HEIGHT // 2,
    )
    for title, values, _kind, options in series:
        plot.add(title, values, **options)
    kinds = [kind for _title, _values, kind, _options in series]
    plot.add_xml_filter(cast(Callable[[Any], Any], _tidy(chart, key, kinds)))
    return plot.render(is_unicode=True)


Series = tuple[str, list[dict[str, Any]], str, dict[str, Any]]


def _series(chart: Chart) -> list[Series]:
    """The values, then the marked ones drawn over them, then each reference line."""
    series: list[Series] = []
    if chart.points:
        line = [_value(p, p.label) for p in chart.points]
        series.append((chart.unit, line, "measured", {"dots_size": 4}))
    marked = [_value(p, f"{p.label} ({chart.marked_as})") for p in chart.points if p.marked]
    if marked:
        series.append((chart.marked_as, marked, "marked", {"dots_size": 7, "stroke": False}))
    for rule in chart.rules:
        ends: list[dict[str, Any]] = [
            {"value": (0, rule.value)},
            {"value": (chart.x_max, rule.value)},
        ]
        series.append((rule.label, ends, rule.kind, {"show_dots": False}))
    return series


def _value(point: Point, title: str) -> dict[str, Any]:
    return {"value": (point.day, point.value), "tooltip": title}


def _tidy(chart: Chart, key: str, kinds: list[str]) -> Callable[[ET.Element], ET.Element]:
    def tidy(svg: ET.Element) -> ET.Element:
        _drop_script_and_style(svg)
        for node in svg.iter():
            _mark_kind(node, kinds)
        _mark_points(svg)
        _label(svg, chart, key)
        return svg

    return tidy


def _drop_script_and_style(svg: ET.Element) -> None:
    for parent in list(svg.iter()):
        for child in list(parent):
            tag = child.tag if isinstance(child.tag, str) else "comment"
            if tag in DROPPED or tag == "comment" or "tooltip-overlay" in child.get("class", ""):
                parent.remove(child)


def _mark_kind(node: ET.Element, kinds: list[str]) -> None:
    """pygal numbers its series (color-N); clinic.css styles them by kind."""
    classes = node.get("class", "").split()
    index = next((int(c[6:]) for c in classes if c.startswith("color-")), None)
    if index is not None and index < len(kinds):
        node.set("class", " ".join([*classes, f"kind-{kinds[index]}"]))
    if node.get("id", "").startswith("activate-serie"):
        del node.attrib["id"]  # the same on every chart of the page


def _mark_points(svg: ET.Element) -> None:
    """Each dot with its <title> is a point; those of the marked series are marked."""
    for series in svg.iter("g"):
        marked = " marked" if "kind-marked" in series.get("class", "").split() else ""
        for dots in series.findall("g[@class='dots']"):
            dots.set("class", f"dots point{marked}")


def _label(svg: ET.Element, chart: Chart, key: str) -> None:
    rules = "".join(f"; {r.label}" for r in chart.rules)
    svg.attrib.update(
        {
            "id": key,
            "class": "pygal-chart chart-svg",
            "role": "img",
            "aria-labelledby": f"{key}-title {key}-desc",
            "data-points": str(len(chart.points)),
        }
    )
    title = next(n for n in svg if n.tag == "title")
    title.set("id", f"{key}-title")
    title.text = f"{chart.title} by days since the injury"
    desc = ET.Element("desc", {"id": f"{key}-desc"})
    desc.text = f"{len(chart.points)} points{rules}. The table below lists every point."
    svg.insert(list(svg).index(title) + 1, desc)


def _nice(value: float) -> float:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000):
        if value <= step * 5:
            return float(-(-value // step) * step)
    return float(value)
