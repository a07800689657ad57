"""Charts drawn on the server as inline SVG: the geometry, computed from the numbers.

No chart library and nothing fetched from a CDN; a template draws the shapes from these values
and shows the same numbers in a table beside the chart. What is counted, and where each bar
links to, is the calling view's.
"""

from __future__ import annotations

from dataclasses import dataclass

BAR_ROW = 26
BAR_LABEL = 190  # px for the labels on the left
BAR_SPACE = 240  # px for the longest bar
BAR_WIDTH = BAR_LABEL + BAR_SPACE + 70  # room for the value after the bar


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str  # the value as shown
    url: str | None
    y: int = 0
    width: float = 0

    @property
    def text_y(self) -> int:
        return self.y + BAR_ROW // 2 + 5

    @property
    def text_x(self) -> float:
        return BAR_LABEL + self.width + 6


@dataclass(frozen=True)
class BarChart:
    id: str
    title: str
    value_heading: str
    bars: list[Bar]
    # False: the numbers are in a table nearby already (the towns' table), not repeated.
    table: bool = True
    label_x: int = BAR_LABEL - 8
    bar_x: int = BAR_LABEL
    width: int = BAR_WIDTH
    bar_height: int = BAR_ROW - 6

    @property
    def height(self) -> int:
        return len(self.bars) * BAR_ROW + 4


def bar_chart(
    chart_id: str, title: str, heading: str, bars: list[Bar], *, table: bool = True
) -> BarChart:
    """Horizontal bars, one a row, the longest `BAR_SPACE` wide and the others to scale."""
    top = max((bar.value for bar in bars), default=0) or 1
    placed = [
        Bar(
            bar.label,
            bar.value,
            bar.text,
            bar.url,
            y=2 + i * BAR_ROW,
            width=round(BAR_SPACE * bar.value / top, 1),
        )
        for i, bar in enumerate(bars)
    ]
    return BarChart(chart_id, title, heading, placed, table)


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 4, 5 × 10ⁿ at or above value: round grid lines."""
    magnitude = 1
    while True:
        for factor in (1, 2, 4, 5, 10):  # 4: divisible into four grid steps
            if factor * magnitude >= value:
                return factor * magnitude
        magnitude *= 10
