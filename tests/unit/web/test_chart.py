"""The History chart's geometry: bars scaled to the busiest hour, failures stacked on successes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from regnotify.notifications.history import HourOutcomes
from regnotify.web.chart import PLOT_BOTTOM, PLOT_TOP, outcome_chart

START = datetime(2026, 11, 28, 0, tzinfo=UTC)


def test_bars_scale_to_the_peak_and_stack() -> None:
    hours = [HourOutcomes(START + timedelta(hours=i), 0, 0) for i in range(24)]
    hours[3] = HourOutcomes(hours[3].start, 3, 1)
    hours[23] = HourOutcomes(hours[23].start, 0, 2)
    chart = outcome_chart(hours)
    assert (chart.peak, chart.succeeded, chart.failed) == (4, 3, 3)
    busiest = chart.bars[3]
    assert busiest.failed_y == PLOT_TOP  # the peak fills the plot
    assert busiest.succeeded_y + busiest.succeeded_height == PLOT_BOTTOM
    assert busiest.failed_y + busiest.failed_height == busiest.succeeded_y
    assert chart.bars[0].succeeded_height == chart.bars[0].failed_height == 0
    assert chart.bars[23].title == "23:00 UTC: 0 succeeded, 2 failed"
    assert [label.text for label in chart.labels] == ["00:00", "06:00", "12:00", "18:00"]
    assert "3 succeeded, 3 failed" in chart.description


def test_an_empty_day_draws_no_bars() -> None:
    chart = outcome_chart([HourOutcomes(START + timedelta(hours=i), 0, 0) for i in range(24)])
    assert chart.peak == 1 and all(bar.succeeded_height == bar.failed_height == 0 for bar in chart.bars)
