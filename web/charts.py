"""Server-rendered SVG charts: no JavaScript, no chart library, readable by screen readers.

Each chart is an ``<svg role="img">`` with a ``<title>`` and a ``<desc>`` giving the
totals, and the page shows the same numbers as a table next to it (the fallback for
anyone who cannot see the bars). Colours come from classes in ``static/outbox.css``:
the CSP forbids inline style attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from markupsafe import Markup, escape

WIDTH = 720
HEIGHT = 220
LEFT = 40  # room for the y-axis labels
BOTTOM = 24  # room for the date labels
TOP = 10


@dataclass(frozen=True)
class Series:
    """One stacked layer: ``key`` names its CSS class (``bar-<key>``)."""

    key: str
    label: str
    values: tuple[int, ...]


def _nice_max(value: int) -> int:
    """A round axis maximum at or above ``value`` (1, 2, 5 x 10^n)."""
    if value <= 0:
        return 1
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def stacked_bars(
    title: str, days: list[date], series: list[Series], chart_id: str, today: date | None = None
) -> Markup:
    """A stacked bar chart, one bar per day, as inline SVG markup; ``today`` gets a marker
    line so past and planned days read apart."""
    totals = [sum(s.values[i] for s in series) for i in range(len(days))]
    top = _nice_max(max(totals, default=0))
    plot_w = WIDTH - LEFT - 4
    plot_h = HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(days), 1)
    bar_w = max(slot * 0.7, 1)
    desc = "; ".join(f"{s.label}: {sum(s.values)}" for s in series)
    if days:
        desc = f"{days[0]:%Y-%m-%d} to {days[-1]:%Y-%m-%d}. Totals: {desc}."
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" preserveAspectRatio="xMidYMid meet">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
    ]
    for tick in (0, top // 2, top):
        y = TOP + plot_h - plot_h * tick / top
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - 4}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{tick}</text>'
        )
    anchor = days.index(today) if today in days else 0
    for i, day in enumerate(days):
        x = LEFT + i * slot + (slot - bar_w) / 2
        if day == today:
            parts.append(
                f'<line class="today" x1="{x + bar_w / 2:.1f}" x2="{x + bar_w / 2:.1f}" '
                f'y1="{TOP}" y2="{TOP + plot_h}"><title>today</title></line>'
            )
        base = TOP + plot_h
        for s in series:
            value = s.values[i]
            if not value:
                continue
            h = plot_h * value / top
            base -= h
            parts.append(
                f'<rect class="bar-{s.key}" x="{x:.1f}" y="{base:.1f}" width="{bar_w:.1f}" '
                f'height="{h:.1f}"><title>{day:%Y-%m-%d}: {value} {escape(s.label.lower())}'
                f"</title></rect>"
            )
        # Date labels every 5 days counted from today (or from the first day), so today's
        # label never collides with a neighbour's.
        if (i - anchor) % 5 == 0 or (today is None and i == len(days) - 1):
            parts.append(
                f'<text class="axis" x="{x + bar_w / 2:.1f}" y="{HEIGHT - 6}" '
                f'text-anchor="middle">{day:%m-%d}</text>'
            )
    parts.append("</svg>")
    # Every text part is escaped above; ids, keys and numbers come from our own code.
    return Markup("".join(parts))  # nosec B704
