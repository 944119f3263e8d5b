"""Charts as inline SVG made on the server: readable at any range, no script, no CDN.

Why SVG from Python: the console's Content-Security-Policy refuses inline scripts and
styles and every page must work offline, so a chart is markup with presentation
attributes (allowed) and classes styled by ``/static/reports.css``.  The SVG scales to
its container (``viewBox``); with many rows the bars thin out and only every n-th label
is written, so a year of days reads like a day of quarter hours.  Every bar and point
has a ``<title>`` (the browser's tooltip) with its exact figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 960.0, 280.0
LEFT, RIGHT, TOP, BOTTOM = 48.0, 48.0, 16.0, 56.0
MAX_LABELS = 14


@dataclass(frozen=True)
class Series:
    """One row per slot: ``bars`` (counts, left axis) and ``line`` (percent 0-100, right axis)."""

    labels: Sequence[str]
    bars: Sequence[float | None]
    line: Sequence[float | None]
    bar_name: str
    line_name: str
    target: float | None = None  # percent: a dashed line
    target_name: str = ""
    marked: Sequence[str] = ()  # per slot: "" or a note (e.g. incident numbers) drawn as a band


def _fmt(value: float | None, suffix: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:.1f}{suffix}" if value != int(value) else f"{int(value)}{suffix}"


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000):
        if value <= step * 4:
            return float(step * 4)
    return value


def levels_chart(series: Series, *, chart_id: str = "chart") -> Markup:
    """Bars (e.g. offered calls) with a line (e.g. service level %) and its target."""
    n = len(series.labels)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{escape(chart_id)}" viewBox="0 0 {WIDTH:g} {HEIGHT:g}" '
        f'role="img" aria-label="{escape(series.bar_name)} / {escape(series.line_name)}" preserveAspectRatio="xMidYMid meet">'
    ]
    if n == 0:
        parts.append(f'<text x="{WIDTH / 2:g}" y="{HEIGHT / 2:g}" text-anchor="middle" class="empty">-</text></svg>')
        return Markup("".join(parts))
    slot = plot_w / n
    top = _nice_max(max((b or 0.0) for b in series.bars))

    def y_bar(value: float) -> float:
        return TOP + plot_h - value / top * plot_h

    def y_pct(value: float) -> float:
        return TOP + plot_h - min(max(value, 0.0), 100.0) / 100.0 * plot_h

    for i, note in enumerate(series.marked):
        if note:
            parts.append(
                f'<rect class="incident" x="{LEFT + i * slot:.2f}" y="{TOP:g}" width="{max(slot, 2.0):.2f}" height="{plot_h:g}" '
                f'data-slot="{i}"><title>{escape(series.labels[i])}: {escape(note)}</title></rect>'
            )
    for k in range(5):  # grid and both axes' ticks
        y = TOP + plot_h * k / 4
        parts.append(f'<line class="grid" x1="{LEFT:g}" x2="{WIDTH - RIGHT:g}" y1="{y:.2f}" y2="{y:.2f}"/>')
        parts.append(f'<text class="tick" x="{LEFT - 6:g}" y="{y + 4:.2f}" text-anchor="end">{_fmt(top * (4 - k) / 4)}</text>')
        parts.append(f'<text class="tick" x="{WIDTH - RIGHT + 6:g}" y="{y + 4:.2f}">{100 * (4 - k) // 4}%</text>')
    gap = min(slot * 0.15, 3.0)
    for i, value in enumerate(series.bars):
        if not value:
            continue
        x, y = LEFT + i * slot + gap / 2, y_bar(value)
        parts.append(
            f'<rect class="bar" x="{x:.2f}" y="{y:.2f}" width="{max(slot - gap, 0.5):.2f}" height="{TOP + plot_h - y:.2f}">'
            f"<title>{escape(series.labels[i])}: {escape(series.bar_name)} {_fmt(value)}</title></rect>"
        )
    if series.target is not None:
        y = y_pct(series.target)
        parts.append(
            f'<line class="target" x1="{LEFT:g}" x2="{WIDTH - RIGHT:g}" y1="{y:.2f}" y2="{y:.2f}" stroke-dasharray="6 4">'
            f"<title>{escape(series.target_name)} {_fmt(series.target, '%')}</title></line>"
        )
    points = [(LEFT + (i + 0.5) * slot, y_pct(v), i, v) for i, v in enumerate(series.line) if v is not None]
    run: list[str] = []
    for index, (x, y, i, _) in enumerate(points):  # a gap (no calls) breaks the line
        if index and points[index - 1][2] != i - 1 and run:
            parts.append(f'<polyline class="line" fill="none" points="{" ".join(run)}"/>')
            run = []
        run.append(f"{x:.2f},{y:.2f}")
    if run:
        parts.append(f'<polyline class="line" fill="none" points="{" ".join(run)}"/>')
    radius = 3.0 if n <= 120 else 1.5
    for x, y, i, v in points:
        parts.append(
            f'<circle class="point" cx="{x:.2f}" cy="{y:.2f}" r="{radius:g}">'
            f"<title>{escape(series.labels[i])}: {escape(series.line_name)} {_fmt(v, '%')}</title></circle>"
        )
    step = max(1, -(-n // MAX_LABELS))
    for i in range(0, n, step):
        x = LEFT + (i + 0.5) * slot
        parts.append(
            f'<text class="label" x="{x:.2f}" y="{TOP + plot_h + 14:g}" text-anchor="end" '
            f'transform="rotate(-35 {x:.2f} {TOP + plot_h + 14:g})">{escape(series.labels[i])}</text>'
        )
    legend_y = HEIGHT - 6
    parts.append(f'<rect class="bar" x="{LEFT:g}" y="{legend_y - 9:g}" width="10" height="10"/>')
    parts.append(f'<text class="legend" x="{LEFT + 14:g}" y="{legend_y:g}">{escape(series.bar_name)}</text>')
    parts.append(f'<circle class="point" cx="{LEFT + 205:g}" cy="{legend_y - 4:g}" r="4"/>')
    parts.append(f'<text class="legend" x="{LEFT + 214:g}" y="{legend_y:g}">{escape(series.line_name)}</text>')
    if series.target is not None:
        parts.append(f'<line class="target" x1="{LEFT + 420:g}" x2="{LEFT + 440:g}" y1="{legend_y - 4:g}" y2="{legend_y - 4:g}" stroke-dasharray="6 4"/>')
        parts.append(f'<text class="legend" x="{LEFT + 446:g}" y="{legend_y:g}">{escape(series.target_name)} {_fmt(series.target, "%")}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


__all__ = ["Series", "levels_chart"]
