"""Charts as inline SVG, drawn on the server: no script, no third-party request.

Each chart has a ``<title>`` and ``<desc>`` (named by ``aria-labelledby``), a title on
every bar for pointer users, and the page shows the same numbers in a table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from html import escape

from markupsafe import Markup

WIDTH = 720
HEIGHT = 240
LEFT = 52
RIGHT = 12
TOP = 12
BOTTOM = 32
BAR_COLOUR = "#0b5394"
AXIS_COLOUR = "#6b7280"
GRID_COLOUR = "#e5e7eb"
TEXT_COLOUR = "#1b1b1b"
TICKS = 4


def nice_step(peak: int, ticks: int = TICKS) -> int:
    """A round whole step so that ``ticks`` steps reach at least ``peak``."""
    raw = max(peak, 1) / ticks
    magnitude = 10 ** max(0, math.floor(math.log10(raw))) if raw >= 1 else 1
    for factor in (1, 2, 2.5, 5, 10):
        step = factor * magnitude
        if step >= raw and step == int(step):
            return int(step)
    return int(10 * magnitude)  # pragma: no cover - the loop always returns


def _short(day: date) -> str:
    return f"{day:%b} {day.day}"


def _text(x: float, y: float, label: str, anchor: str = "middle") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="12" '
        f'fill="{TEXT_COLOUR}">{escape(label)}</text>'
    )


def daily_bars(
    points: Sequence[tuple[date, int]], *, chart_id: str, title: str, unit: str = "views"
) -> Markup:
    """A bar chart of one value per day, with a y axis and the first, middle and last day."""
    peak = max((value for _, value in points), default=0)
    step = nice_step(peak)
    top_value = step * TICKS
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    total = sum(value for _, value in points)
    first = _short(points[0][0]) if points else ""
    last = _short(points[-1][0]) if points else ""
    summary = (
        f"{total} {unit} in total from {first} to {last}; the busiest day had {peak}."
        if points
        else "No days in this period."
    )
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(summary)}</desc>',
    ]
    for tick in range(TICKS + 1):
        y = TOP + plot_h - plot_h * tick / TICKS
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{AXIS_COLOUR if tick == 0 else GRID_COLOUR}" stroke-width="1"/>'
        )
        parts.append(_text(LEFT - 6, y + 4, f"{step * tick:,}", "end"))
    slot = plot_w / max(len(points), 1)
    gap = min(2.0, slot * 0.2)
    for n, (day, value) in enumerate(points):
        height = plot_h * value / top_value
        x = LEFT + n * slot + gap / 2
        y = TOP + plot_h - height
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(slot - gap, 0.5):.1f}" '
            f'height="{height:.1f}" fill="{BAR_COLOUR}">'
            f"<title>{escape(f'{day.isoformat()}: {value} {unit}')}</title></rect>"
        )
    if points:
        label_y = HEIGHT - BOTTOM + 18
        indexes = sorted({0, len(points) // 2, len(points) - 1})
        anchors = {0: "start", len(points) - 1: "end"}
        for n in indexes:
            x = (
                LEFT + n * slot + slot / 2
                if n not in anchors
                else (LEFT if n == 0 else WIDTH - RIGHT)
            )
            parts.append(_text(x, label_y, _short(points[n][0]), anchors.get(n, "middle")))
    parts.append("</svg>")
    return Markup("".join(parts))
