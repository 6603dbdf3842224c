"""Server-drawn charts: the geometry core/charts.py computes for the templates."""

from __future__ import annotations

from core.charts import Column, Series, bar_list, column_chart, nice_step


def test_gridline_steps_are_round_numbers() -> None:
    assert [nice_step(n) for n in (0, 3, 7, 10, 23, 180, 999)] == [1, 1, 2, 5, 10, 50, 500]


def test_columns_stack_their_series_bottom_up_in_proportion() -> None:
    due, held = Series("due", "Due"), Series("held", "Held")
    chart = column_chart(
        title="t", description="d", series=(due, held),
        columns=[Column("a", {"due": 2, "held": 2}), Column("b", {"due": 4}), Column("c", {})],
    )  # fmt: skip
    assert len(chart.rects) == 3  # empty values draw nothing
    a_due, a_held = chart.rects[0], chart.rects[1]
    assert a_held.css == "chart-held" and a_held.y + a_held.height == a_due.y  # held sits on due
    b_due = chart.rects[2]
    assert abs(b_due.height - (a_due.height + a_held.height)) < 1e-6  # 4 is as tall as 2 + 2
    assert b_due.title == "b \u00b7 Due: 4"


def test_bar_list_keeps_small_counts_visible_and_writes_every_count() -> None:
    big, small, none = (
        Series("locked", "Locked"),
        Series("purged", "Purged"),
        Series("receiving", "Receiving"),
    )
    chart = bar_list(title="t", description="d", bars=[(big, 10_000), (small, 1), (none, 0)])
    widths = [rect.width for rect in chart.rects]
    assert len(widths) == 2 and widths[1] >= 2.0
    assert {"10,000", "1", "0"} <= {label.text for label in chart.labels}
