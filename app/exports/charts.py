"""Horizontal bar charts as inline SVG, drawn on the server: no JavaScript, no CDN, the same in HTML and PDF."""

from __future__ import annotations

from markupsafe import Markup, escape

BAR_HEIGHT, GAP, LABEL_WIDTH, VALUE_WIDTH, WIDTH = 18, 6, 230, 70, 640
MAX_BARS = 20  # the rest are summed into "other"


def bar_chart(items: list[tuple[str, int]], *, title: str, unit: str = "") -> Markup:
    """An accessible SVG bar chart of (label, value), largest first; labels are escaped."""
    items = sorted(((str(label), int(value)) for label, value in items), key=lambda kv: (-kv[1], kv[0]))
    if len(items) > MAX_BARS:
        rest = sum(v for _, v in items[MAX_BARS - 1:])
        items = items[:MAX_BARS - 1] + [(f"other ({len(items) - MAX_BARS + 1})", rest)]
    if not items:
        return Markup('<p class="muted">Nothing to chart.</p>')
    top = max(v for _, v in items) or 1
    span = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    height = len(items) * (BAR_HEIGHT + GAP) + GAP
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{WIDTH}" height="{height}" '
             f'viewBox="0 0 {WIDTH} {height}" aria-label="{escape(title)}"><title>{escape(title)}</title>']
    for index, (label, value) in enumerate(items):
        y = GAP + index * (BAR_HEIGHT + GAP)
        width = max(1, round(span * value / top)) if value else 0
        shown = label if len(label) <= 34 else label[:33] + "…"
        parts.append(
            f'<text x="{LABEL_WIDTH - 6}" y="{y + BAR_HEIGHT - 5}" text-anchor="end" font-size="11" '
            f'font-family="DejaVu Sans, sans-serif" fill="#222">{escape(shown)}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{width}" height="{BAR_HEIGHT}" fill="#3b6ea8">'
            f'<title>{escape(label)}: {value:,}{escape(unit)}</title></rect>'
            f'<text x="{LABEL_WIDTH + width + 4}" y="{y + BAR_HEIGHT - 5}" font-size="11" '
            f'font-family="DejaVu Sans, sans-serif" fill="#222">{value:,}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
