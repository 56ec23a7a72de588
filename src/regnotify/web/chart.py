"""The History page's chart: attempts per hour over the last day, as stacked bars drawn in SVG."""

from __future__ import annotations

from dataclasses import dataclass

from regnotify.notifications.history import HourOutcomes

WIDTH, HEIGHT = 480, 120
PLOT_TOP, PLOT_BOTTOM = 8, 96  # bars live between these y coordinates; labels below
LABEL_EVERY = 6


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    succeeded_y: float
    succeeded_height: float
    failed_y: float
    failed_height: float
    title: str


@dataclass(frozen=True)
class Label:
    x: float
    text: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    baseline: int
    bars: list[Bar]
    labels: list[Label]
    peak: int
    succeeded: int
    failed: int

    @property
    def description(self) -> str:
        return (
            f"Attempts in the last {len(self.bars)} hours: {self.succeeded} succeeded, {self.failed} failed"
        )


def outcome_chart(hours: list[HourOutcomes]) -> Chart:
    """Geometry for the template: one bar per hour, failures stacked on successes, scaled to the peak."""
    slot = WIDTH / max(1, len(hours))
    peak = max([hour.succeeded + hour.failed for hour in hours] + [1])
    scale = (PLOT_BOTTOM - PLOT_TOP) / peak
    bars, labels = [], []
    for index, hour in enumerate(hours):
        succeeded_height = hour.succeeded * scale
        failed_height = hour.failed * scale
        x = index * slot + 1
        start = hour.start.strftime("%H:00")
        bars.append(
            Bar(
                x=round(x, 1),
                width=round(slot - 2, 1),
                succeeded_y=round(PLOT_BOTTOM - succeeded_height, 1),
                succeeded_height=round(succeeded_height, 1),
                failed_y=round(PLOT_BOTTOM - succeeded_height - failed_height, 1),
                failed_height=round(failed_height, 1),
                title=f"{start} UTC: {hour.succeeded} succeeded, {hour.failed} failed",
            )
        )
        if index % LABEL_EVERY == 0:
            labels.append(Label(round(x, 1), start))
    return Chart(
        WIDTH,
        HEIGHT,
        PLOT_BOTTOM,
        bars,
        labels,
        peak,
        sum(hour.succeeded for hour in hours),
        sum(hour.failed for hour in hours),
    )
