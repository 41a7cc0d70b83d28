"""Server-rendered SVG time charts for pages (bar charts live in app/exports/charts.py, shared with reports).

Pure functions of their data (no database, no request): each returns Markup for an inline
`<svg role="img">` with a `<title>` and `<desc>` for assistive technology and a `<title>` on every
mark, so hovering shows what it is. Colours come from classes styled in app/static/style.css, with
presentation attributes as fallbacks; there are no inline styles or scripts (the CSP forbids both).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from markupsafe import Markup, escape

from app.core.display import format_time

_ids = itertools.count(1)
# (class, fallback fill) per mark kind; the legend lists them in this order.
MARK_STYLES: dict[str, tuple[str, str]] = {
    "event": ("m-event", "#0b4f8a"),
    "deadline": ("m-deadline", "#7d4e00"),
    "overdue": ("m-overdue", "#a40e26"),
    "met": ("m-met", "#116329"),
    "late": ("m-late", "#a40e26"),
    "sent": ("m-sent", "#0b4f8a"),
    "delivered": ("m-delivered", "#116329"),
    "failed": ("m-failed", "#a40e26"),
    "ack": ("m-ack", "#6639ba"),
}
MARK_NAMES = {"event": "event", "deadline": "deadline (open)", "overdue": "deadline missed", "met": "deadline met",
              "late": "met late", "sent": "attempt failed, retrying", "delivered": "delivered",
              "failed": "not delivered", "ack": "receipt confirmed"}
TICK_STEPS = [timedelta(minutes=m) for m in (15, 30)] + [timedelta(hours=h) for h in (1, 2, 3, 6, 12)] + \
    [timedelta(days=d) for d in (1, 2, 7, 14, 30, 91)]


@dataclass
class Mark:
    """One thing at one time on a lane: its kind picks the shape and colour."""

    at: datetime
    kind: str
    label: str


@dataclass
class Lane:
    """One row of a time chart (no links: a role="img" must not hold controls; tables next to it link)."""

    label: str
    marks: list[Mark] = field(default_factory=list)


def _id(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"


def _a(value: object) -> str:
    """Escape for an attribute or text node."""
    return str(escape(str(value)))


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _tick_step(span: timedelta, max_ticks: int) -> timedelta:
    for step in TICK_STEPS:
        if span / step <= max_ticks:
            return step
    return TICK_STEPS[-1]


def _ticks(start: datetime, end: datetime, max_ticks: int) -> list[datetime]:
    step = _tick_step(end - start, max_ticks)
    epoch = datetime(2000, 1, 3, tzinfo=start.tzinfo)  # a Monday: weekly ticks fall on Mondays
    first = epoch + step * -(-(start - epoch) // step)
    out, t = [], first
    while t <= end:
        out.append(t)
        t += step
    return out


def _tick_label(t: datetime, step_days: bool) -> str:
    return f"{t:%d %b}" if step_days else f"{t:%d %b %H:%M}"


def _shape(kind: str, x: float, y: float, r: float = 6) -> str:
    cls, fill = MARK_STYLES.get(kind, MARK_STYLES["event"])
    if kind in ("deadline", "overdue", "met", "late"):
        points = f"{x:.1f},{y - r - 1:.1f} {x + r + 1:.1f},{y:.1f} {x:.1f},{y + r + 1:.1f} {x - r - 1:.1f},{y:.1f}"
        return f'<polygon class="{cls}" fill="{fill}" points="{points}"/>'
    if kind in ("delivered", "sent"):
        return f'<rect class="{cls}" fill="{fill}" x="{x - r:.1f}" y="{y - r:.1f}" width="{2 * r}" height="{2 * r}"/>'
    if kind == "failed":
        return (f'<path class="{cls}" stroke="{fill}" stroke-width="3" fill="none" '
                f'd="M{x - r:.1f} {y - r:.1f}L{x + r:.1f} {y + r:.1f}M{x + r:.1f} {y - r:.1f}L{x - r:.1f} {y + r:.1f}"/>')
    if kind == "ack":
        return (f'<path class="{cls}" stroke="{fill}" stroke-width="3" fill="none" '
                f'd="M{x - r:.1f} {y:.1f}L{x - 1:.1f} {y + r - 1:.1f}L{x + r:.1f} {y - r:.1f}"/>')
    return f'<circle class="{cls}" fill="{fill}" cx="{x:.1f}" cy="{y:.1f}" r="{r - 1}"/>'


def time_chart(*, title: str, description: str, lanes: Sequence[Lane], now: datetime,
               start: datetime | None = None, end: datetime | None = None, width: int = 900,
               label_width: int = 180, lane_height: int = 30, css_class: str = "chart time-chart") -> Markup:
    """Lanes of marks on one UTC time axis, with a 'now' line and a legend of the kinds used."""
    times = [m.at for lane in lanes for m in lane.marks] + [now]
    start = start or min(times)
    end = end or max(times)
    if end <= start:
        end = start + timedelta(hours=1)
    pad = (end - start) * 0.04
    start, end = start - pad, end + pad
    plot_w = width - label_width - 20
    top = 26
    height = top + lane_height * max(len(lanes), 1) + 52
    span = (end - start).total_seconds()

    def x_of(t: datetime) -> float:
        return label_width + plot_w * min(max((t - start).total_seconds() / span, 0.0), 1.0)

    title_id, desc_id = _id("chart-title"), _id("chart-desc")
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="{_a(css_class)}" role="img" '
           f'viewBox="0 0 {width} {height}" aria-labelledby="{title_id} {desc_id}" preserveAspectRatio="xMinYMin meet">',
           f'<title id="{title_id}">{_a(title)}</title><desc id="{desc_id}">{_a(description)}</desc>']
    max_ticks = max(plot_w // 100, 2)
    step = _tick_step(end - start, max_ticks)
    axis_y = top + lane_height * max(len(lanes), 1)
    for t in _ticks(start, end, max_ticks):
        x = x_of(t)
        out.append(f'<line class="grid" stroke="#d0d7de" x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{axis_y}"/>'
                   f'<text class="tick" fill="#57606a" x="{x:.1f}" y="{axis_y + 16}" text-anchor="middle">'
                   f'{_a(_tick_label(t, step >= timedelta(days=1)))}</text>')
    out.append(f'<text class="axis-note" fill="#57606a" x="{width - 20}" y="{axis_y + 38}" text-anchor="end">'
               'Times in UTC</text>')
    for i, lane in enumerate(lanes):
        y = top + lane_height * i + lane_height / 2
        if i % 2 == 0:
            out.append(f'<rect class="lane-bg" fill="#f6f8fa" x="0" y="{top + lane_height * i}" width="{width}" '
                       f'height="{lane_height}"/>')
        out.append(f'<text class="lane-label" fill="#1b1f24" x="6" y="{y + 5:.1f}">{_a(_clip(lane.label, 26))}'
                   f'<title>{_a(lane.label)}</title></text>')
        for mark in sorted(lane.marks, key=lambda m: m.at):
            tip = f"{mark.label} — {format_time(mark.at)} UTC"
            out.append(f'<g class="mark"><title>{_a(tip)}</title>{_shape(mark.kind, x_of(mark.at), y)}</g>')
    if start <= now <= end:
        x = x_of(now)
        out.append(f'<g class="now"><title>now — {_a(format_time(now))} UTC</title>'
                   f'<line stroke="#a40e26" stroke-width="2" stroke-dasharray="4 3" x1="{x:.1f}" y1="{top - 6}" '
                   f'x2="{x:.1f}" y2="{axis_y}"/><text fill="#a40e26" x="{x + 4:.1f}" y="{top - 10}">now</text></g>')
    used = [k for k in MARK_STYLES if any(m.kind == k for lane in lanes for m in lane.marks)]
    lx, ly = label_width, axis_y + 38
    for kind in used:
        name = MARK_NAMES[kind]
        out.append(f'<g class="legend">{_shape(kind, lx + 6, ly - 4, 5)}'
                   f'<text fill="#1b1f24" x="{lx + 16}" y="{ly}">{_a(name)}</text></g>')
        lx += 26 + 7 * len(name)
    out.append("</svg>")
    return Markup("".join(out))

