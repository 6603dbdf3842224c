"""Charts drawn on the server as inline SVG: this module computes the geometry, a template draws it.

No chart library and no JavaScript: the pages must work in a locked-down browser, and a chart
is a handful of rectangles. Every chart comes with a text equivalent on its page (a table or a
list) for screen readers; the SVG carries a title and a description as well.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from django.utils.formats import number_format


def _count(value: int) -> str:
    """A count as the reader writes it, thousands grouped: 12,345 in English, 12.345 in German."""
    return number_format(value, force_grouping=True)


@dataclass(frozen=True)
class Series:
    """One kind of bar or band: `key` becomes the CSS class `chart-<key>` that colours it."""

    key: str
    label: str

    @property
    def css(self) -> str:
        return f"chart-{self.key}"


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str  # shown as the browser's tooltip (<title>)


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    css: str = "chart-grid"


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    anchor: str = "middle"  # SVG text-anchor
    css: str = ""


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    title: str
    description: str
    rects: list[Rect] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    legend: Sequence[Series] = ()

    @property
    def view_box(self) -> str:
        return f"0 0 {self.width} {self.height}"


@dataclass(frozen=True)
class Column:
    """One column of a column chart: its axis label and a value per series key."""

    label: str
    values: Mapping[str, int]
    title: str = ""  # what the column stands for, for tooltips ("week of 30 Nov")


def nice_step(largest: int, *, ticks: int = 4) -> int:
    """A round gridline step (1, 2 or 5 times a power of ten) giving about `ticks` lines."""
    if largest <= ticks:
        return 1
    raw = largest / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 5, 10):
        if raw <= multiple * magnitude:
            return int(multiple * magnitude)
    return int(10 * magnitude)  # pragma: no cover - the loop always returns


def column_chart(
    *,
    title: str,
    description: str,
    columns: Sequence[Column],
    series: Sequence[Series],
    width: int = 720,
    height: int = 240,
    label_width: int = 64,
) -> Chart:
    """Stacked columns, one per entry of `columns`, the series stacked bottom-up in their order.

    `width` should be about the width the chart is shown at: it is never drawn wider (its text
    would grow), only narrower. Axis labels are thinned out to one per `label_width` units.
    """
    left, right, top, bottom = 44, 8, 12, 40
    plot_width, plot_height = width - left - right, height - top - bottom
    largest = max((sum(c.values.get(s.key, 0) for s in series) for c in columns), default=0)
    step = nice_step(largest)
    scale_top = max(step, math.ceil(largest / step) * step)
    chart = Chart(width=width, height=height, title=title, description=description, legend=series)
    for value in range(0, scale_top + 1, step):
        y = top + plot_height - plot_height * value / scale_top
        chart.lines.append(Line(left, y, width - right, y, "chart-grid" if value else "chart-axis"))
        chart.labels.append(Label(left - 6, y + 4, _count(value), anchor="end"))
    slot = plot_width / max(len(columns), 1)
    bar_width = min(48.0, slot * 0.7)
    # With many columns, label every n-th so the labels do not run into each other.
    label_every = max(1, math.ceil(len(columns) / max(1, plot_width // label_width)))
    for index, column in enumerate(columns):
        x = left + slot * index + (slot - bar_width) / 2
        base = float(top + plot_height)
        for one in series:
            value = column.values.get(one.key, 0)
            if value <= 0:
                continue
            bar_height = plot_height * value / scale_top
            base -= bar_height
            name = column.title or column.label
            # The series' label as written (no lower-casing: German capitalises its nouns).
            title = f"{name} \u00b7 {one.label}: {_count(value)}"
            chart.rects.append(Rect(x, base, bar_width, bar_height, one.css, title))
        if index % label_every == 0:
            chart.labels.append(Label(x + bar_width / 2, top + plot_height + 18, column.label))
    return chart


def bar_list(
    *,
    title: str,
    description: str,
    bars: Sequence[tuple[Series, int]],
    width: int = 520,
    row_height: int = 30,
) -> Chart:
    """Horizontal bars, one row per series with its count written beside the bar."""
    left, right, top = 120, 64, 6
    height = top * 2 + row_height * len(bars)
    plot_width = width - left - right
    largest = max((value for _, value in bars), default=0)
    chart = Chart(width=width, height=height, title=title, description=description)
    chart.lines.append(Line(left, top, left, height - top, "chart-axis"))
    for index, (one, value) in enumerate(bars):
        y = top + row_height * index
        bar_width = plot_width * value / largest if largest else 0.0
        if value:
            bar_width = max(bar_width, 2.0)  # a non-zero count stays visible however small
            chart.rects.append(
                Rect(left, y + 5, bar_width, row_height - 10, one.css, f"{one.label}: {_count(value)}")
            )
        chart.labels.append(Label(left - 8, y + row_height / 2 + 4, one.label, anchor="end"))
        chart.labels.append(
            Label(
                left + bar_width + 6, y + row_height / 2 + 4, _count(value), anchor="start", css="chart-value"
            )
        )
    return chart
