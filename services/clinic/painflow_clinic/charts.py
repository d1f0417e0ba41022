"""Line charts as server-side SVG: no JavaScript, nothing loaded at run time, readable without
colour (every point has a shape, a value label and a <title>, and each chart a table beside it).

Pure: ``line_chart`` takes points and reference lines and returns the SVG's drawing
instructions; the template (templates/chart.html) writes them out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 16, 40


@dataclass(frozen=True)
class Point:
    day: float  # days since the injury
    value: float
    label: str  # what the point is (its <title>)
    marked: bool = False  # a clinically important change
    href: str = ""  # the FHIR resource it comes from


@dataclass(frozen=True)
class Rule:
    """A horizontal reference line (baseline, important-change threshold, MME 50/90)."""

    value: float
    label: str
    kind: str  # baseline | threshold | limit


@dataclass(frozen=True)
class Chart:
    title: str
    unit: str
    points: tuple[Point, ...]
    rules: tuple[Rule, ...]
    y_max: float
    x_max: float
    x_ticks: tuple[float, ...] = ()
    y_ticks: tuple[float, ...] = ()
    width: int = WIDTH
    height: int = HEIGHT
    notes: tuple[str, ...] = field(default_factory=tuple)

    def x(self, day: float) -> float:
        return round(LEFT + (self.width - LEFT - RIGHT) * day / self.x_max, 1)

    def y(self, value: float) -> float:
        return round(self.height - BOTTOM - (self.height - TOP - BOTTOM) * value / self.y_max, 1)

    @property
    def path(self) -> str:
        return " ".join(
            f"{'M' if i == 0 else 'L'}{self.x(p.day)},{self.y(p.value)}"
            for i, p in enumerate(self.points)
        )


def line_chart(
    title: str,
    unit: str,
    points: Sequence[Point],
    rules: Sequence[Rule] = (),
    *,
    y_max: float | None = None,
    notes: Sequence[str] = (),
) -> Chart:
    """A chart over days since the injury; the y axis reaches the highest point or rule."""
    ordered = tuple(sorted(points, key=lambda p: p.day))
    top = y_max or _nice(max([p.value for p in ordered] + [r.value for r in rules] + [1]) * 1.15)
    last = max([p.day for p in ordered] + [7])
    x_max = _nice(last * 1.05)
    return Chart(
        title=title,
        unit=unit,
        points=ordered,
        rules=tuple(rules),
        y_max=top,
        x_max=x_max,
        x_ticks=_ticks(x_max),
        y_ticks=_ticks(top),
        notes=tuple(notes),
    )


def important_change_line(baseline: float, min_points: float, min_percent: float) -> float:
    """The value at or below which a lower-is-better score has changed importantly from its
    baseline, when either rule suffices (the follow-up policy's ``combine: any``)."""
    return round(max(baseline - min_points, baseline * (1 - min_percent / 100)), 1)


def _nice(value: float) -> float:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000):
        if value <= step * 5:
            return float(-(-value // step) * step)
    return float(value)


def _ticks(top: float) -> tuple[float, ...]:
    step = _nice(top / 5) if top > 5 else 1.0
    count = int(top // step)
    return tuple(step * i for i in range(count + 1))
