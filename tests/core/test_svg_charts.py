"""The server-rendered time chart: accessible, escaped, no inline styles or scripts, marks where they belong."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone

from app.core.svg import Lane, Mark, time_chart

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)
NS = {"s": "http://www.w3.org/2000/svg"}


def chart(**kwargs) -> str:
    lanes = [Lane("Incident", [Mark(NOW - timedelta(hours=5), "event", "Declared <b>now</b>")]),
             Lane("Acme & Co", [Mark(NOW + timedelta(hours=19), "deadline", "Contract 24 h: due"),
                                Mark(NOW - timedelta(hours=1), "delivered", "email: delivered"),
                                Mark(NOW - timedelta(minutes=20), "ack", "receipt confirmed")])]
    return str(time_chart(title="Timeline of INC-1", description="two rows", lanes=lanes, now=NOW, **kwargs))


def test_time_chart_is_well_formed_accessible_and_escaped():
    svg = chart()
    root = ET.fromstring(svg)  # well-formed XML: user text is escaped
    assert root.get("role") == "img"
    title_id, desc_id = root.get("aria-labelledby").split()
    assert root.find("s:title", NS).get("id") == title_id and root.find("s:title", NS).text == "Timeline of INC-1"
    assert root.find("s:desc", NS).get("id") == desc_id
    assert "Declared &lt;b&gt;now&lt;/b&gt;" in svg and "Acme &amp; Co" in svg
    assert not re.search(r"\sstyle=|<script|\son[a-z]+=|<a\s", svg), "CSP: no inline style, script, handler; no links"
    tips = [t.text for t in root.iter("{http://www.w3.org/2000/svg}title")]
    assert any(t.startswith("receipt confirmed — 2026-03-02 09:10") for t in tips), tips
    assert any(t.startswith("now — 2026-03-02 09:30") for t in tips)
    legend = "".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    assert "deadline (open)" in legend and "receipt confirmed" in legend and "Times in UTC" in legend


def test_marks_are_placed_in_time_order_on_the_axis():
    svg = chart(start=NOW - timedelta(hours=6), end=NOW + timedelta(hours=20))
    root = ET.fromstring(svg)
    xs = {}
    for group in root.iter("{http://www.w3.org/2000/svg}g"):
        title = group.find("s:title", NS)
        shape = next((c for c in group if not c.tag.endswith("title")), None)
        if title is None or shape is None or group.get("class") != "mark":
            continue
        x = shape.get("cx") or shape.get("x") or re.search(r"[\d.]+", shape.get("points") or shape.get("d")).group(0)
        xs[title.text.split(" — ")[0]] = float(x)
    assert xs["Declared <b>now</b>"] < xs["email: delivered"] < xs["receipt confirmed"] < xs["Contract 24 h: due"]


def test_empty_chart_still_renders():
    root = ET.fromstring(str(time_chart(title="Nothing", description="no rows", lanes=[], now=NOW)))
    assert root.find("s:title", NS).text == "Nothing"
