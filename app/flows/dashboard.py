"""The dashboard's read model: open incidents ordered by their nearest open deadline, one page at a time.

The order comes from walking open obligations through the ix_obligation_open_deadline index, nearest first,
and keeping each incident the first time it appears, so a page costs work in proportion to its
position and size, not to the number of open incidents or obligations.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlmodel import Session, func, select

from app.clock.models import Obligation, ObligationStatus
from app.core.pagination import Page, PageRequest
from app.core.time import UTCDateTime
from app.incidents.access import visible_incidents_clause
from app.incidents.models import Incident
from app.incidents.service import OPEN_STATUSES

PAGE_SIZE = 25
BATCH = 1000  # obligations per keyset step of the walk, after a first step sized to the page
MAX_EXCLUDED = 500  # incidents already placed, skipped in SQL by the next step (bounded: one IN list)
COUNT_BOUND = 1000  # open incidents counted exactly up to here; beyond it the page says "more than"
EARLIEST = datetime(1, 1, 1, tzinfo=timezone.utc)  # before any deadline


@dataclass
class DashboardPage(Page["DashboardRow"]):
    """A page of the dashboard; `exact` is False when `total` stopped at the counting bound."""

    exact: bool = True

    @property
    def has_next(self) -> bool:
        """Whether another page follows."""
        return self.request.offset + len(self.items) < self.total


@dataclass
class DashboardRow:
    """One open incident and its nearest deadline."""

    incident: Incident
    next_due: datetime | None
    next_title: str
    open_obligations: int
    overdue: int


def _deadline():
    # The same expression as the ix_obligation_open_deadline index, so the walk is an ordered index range.
    return func.coalesce(Obligation.due_at, Obligation.internal_target_at)


def _walk(session: Session, viewer, placed: dict, want: int) -> Iterator[tuple]:
    """(deadline, obligation id, incident id, title) of open deadlines of visible open incidents, nearest first."""
    due = _deadline()
    # EXISTS, not a join: checked per obligation read, where a join may first read every open incident.
    shown = (select(Incident.id).where(Incident.id == Obligation.incident_id, Incident.status.in_(OPEN_STATUSES),
                                       visible_incidents_clause(viewer)).exists())
    last = None
    size = min(BATCH, 3 * want + 10)  # a few deadlines per incident, then larger steps if that was not enough
    while True:
        # "> EARLIEST" rather than IS NOT NULL: the index range then starts past the obligations still
        # waiting for their anchor (no deadline yet; SQLite sorts NULLs first), instead of reading them all.
        query = (select(sa.type_coerce(due, UTCDateTime()), Obligation.id, Obligation.incident_id, Obligation.title)
                 .where(Obligation.status == ObligationStatus.open, Obligation.informational.is_(False),
                        due > EARLIEST, shown))
        if last is not None:
            query = query.where(sa.or_(due > last[0], sa.and_(due == last[0], Obligation.id > last[1])))
            if placed:
                # An incident over thousands of customers has thousands of deadlines: skip them in SQL.
                query = query.where(Obligation.incident_id.not_in(list(placed)[:MAX_EXCLUDED]))
        rows = session.execute(query.order_by(due, Obligation.id).limit(size)).all()
        yield from rows
        if len(rows) < size:
            return
        last, size = rows[-1], BATCH


def nearest(*, session: Session, viewer, want: int) -> dict[int, tuple[datetime, str]]:
    """The first `want` visible open incidents with an open deadline, nearest first: id -> (due, title).

    The deadline is due_at, or the internal target where the law sets no number (as on the incident page).
    """
    placed: dict[int, tuple[datetime, str]] = {}
    if want <= 0:
        return placed
    for due, _, incident_id, title in _walk(session, viewer, placed, want):
        if incident_id not in placed:
            placed[incident_id] = (due, title)
            if len(placed) >= want:
                break
    return placed


def _without_deadline(session: Session, viewer, skip: int, take: int) -> list[int]:
    """Open incidents with no open deadline at all, newest first (they follow every incident that has one)."""
    due = _deadline()
    pending = (select(Obligation.id).where(Obligation.incident_id == Incident.id,
                                           Obligation.status == ObligationStatus.open,
                                           Obligation.informational.is_(False), due.is_not(None)).exists())
    return list(session.execute(select(Incident.id).where(Incident.status.in_(OPEN_STATUSES),
                                                          visible_incidents_clause(viewer), ~pending)
                                .order_by(Incident.created_at.desc(), Incident.id.desc())
                                .offset(skip).limit(take)).scalars())


def open_incidents(*, session: Session, now: datetime, viewer, page: PageRequest | None = None) -> DashboardPage:
    """One page of the open incidents the viewer may see, nearest open deadline first (those without one last).

    `total` is exact up to COUNT_BOUND (or the end of this page, if further); past it, `exact` is False.
    """
    page = page or PageRequest(1, PAGE_SIZE)
    # Counted up to a bound: "more than 1,000 open" says enough, and an exact count reads every open incident.
    bound = max(COUNT_BOUND, page.offset + page.per_page) + 1
    total = session.execute(select(func.count()).select_from(
        select(Incident.id).where(Incident.status.in_(OPEN_STATUSES), visible_incidents_clause(viewer))
        .limit(bound).subquery())).scalar_one()
    exact = total < bound
    if total == 0 or page.offset >= total:
        return DashboardPage([], total, page, exact)
    end = min(page.offset + page.per_page, total)
    ranked = nearest(session=session, viewer=viewer, want=end)
    order = list(ranked)[page.offset:end]
    if len(ranked) < end:
        # The walk ran out: the rest of the page holds incidents without a deadline.
        start = max(page.offset, len(ranked))
        order += _without_deadline(session, viewer, start - len(ranked), end - start)
    incidents = {i.id: i for i in session.exec(select(Incident).where(Incident.id.in_(order)))}
    due = _deadline()
    counts = {incident_id: (n, late or 0) for incident_id, n, late in session.execute(
        select(Obligation.incident_id, func.count(), func.sum(sa.case((due < now, 1), else_=0)))
        .where(Obligation.incident_id.in_(order), Obligation.status == ObligationStatus.open,
               Obligation.informational.is_(False)).group_by(Obligation.incident_id))}
    rows = []
    for incident_id in order:
        next_due, title = ranked.get(incident_id, (None, ""))
        n, late = counts.get(incident_id, (0, 0))
        rows.append(DashboardRow(incidents[incident_id], next_due, title, n, late))
    return DashboardPage(rows, total, page, exact)
