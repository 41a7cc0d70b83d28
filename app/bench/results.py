"""The bench's items, their goals, one result per item, and the printed table."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

GOALS = {"a": 1.5, "b": 1.2, "c": 2.0, "d": 1.5, "e": 2.0, "f": 5.0, "g": 2.0, "h": 2.0}
TITLES = {
    "a": "impact analysis, 50 systems vs bare SQL aggregate",
    "b": "impact analysis, full map vs 1/10 of it (same scope)",
    "c": "drafting notifications vs bare Jinja2 + bulk insert",
    "d": "email delivery vs bare smtplib loop (one connection)",
    "e": "webhook delivery vs bare requests.Session loop",
    "f": "dashboard p50 vs one-indexed-query route",
    "g": "CSV timeline export vs sqlite3 -csv / COPY",
    "h": "scheduler tick (100 due) vs the indexed due query",
}
ITEMS = tuple(GOALS)


@dataclass
class Result:
    """One line of the table and of the JSON file."""

    id: str
    title: str
    value: float | None
    baseline: float | None
    ratio: float | None
    goal: float
    met: bool
    unit: str
    peak_rss_mb: float | None = None
    note: str = ""
    extra: dict = field(default_factory=dict)

    def public(self) -> dict:
        """The JSON form the issue specifies."""
        data = asdict(self)
        data.pop("note")
        data.pop("extra")
        return data


def table(results: list[Result]) -> str:
    """The printed table."""
    lines = [f"{'':2} {'item':55} {'value':>10} {'baseline':>10} {'ratio':>7} {'goal':>6} {'met':>4} {'peak MB':>8}"]
    for r in results:
        lines.append(f"{r.id:2} {r.title[:55]:55} {_fmt(r.value):>10} {_fmt(r.baseline):>10} "
                     f"{_fmt(r.ratio, 2):>7} {'<=' + str(r.goal):>6} {'yes' if r.met else 'NO':>4} "
                     f"{_fmt(r.peak_rss_mb, 1):>8}")
    for r in results:
        if r.note:
            lines.append(f"  {r.id}: {r.note}")
    return "\n".join(lines)


def _fmt(value, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"
