"""The dashboard's read model: open incidents ordered by their nearest open deadline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, func, select

from app.clock.models import Obligation, ObligationStatus
from app.core.time import UTCDateTime
from app.incidents.access import visible_incidents_clause
from app.incidents.models import Incident
from app.incidents.service import OPEN_STATUSES


@dataclass
class DashboardRow:
    """One open incident and its nearest deadline."""

    incident: Incident
    next_due: datetime | None
    next_title: str
    open_obligations: int
    overdue: int


def open_incidents(*, session: Session, now: datetime, viewer) -> list[DashboardRow]:
    """Open incidents the viewer may see, nearest open deadline first (those without one last), in one query."""
    due = func.coalesce(Obligation.due_at, Obligation.internal_target_at, type_=UTCDateTime())
    ranked = (select(Obligation.incident_id, Obligation.title, due.label("due"),
                     func.row_number().over(partition_by=Obligation.incident_id, order_by=due).label("rank"),
                     func.count().over(partition_by=Obligation.incident_id).label("open"),
                     func.sum(sa.case((due < now, 1), else_=0)).over(partition_by=Obligation.incident_id)
                     .label("overdue"))
              .where(Obligation.status == ObligationStatus.open, Obligation.informational.is_(False))
              .subquery())
    nearest = select(ranked).where(ranked.c.rank == 1).subquery()
    next_due = sa.type_coerce(nearest.c.due, UTCDateTime())
    rows = session.exec(select(Incident, next_due, nearest.c.title, nearest.c.open, nearest.c.overdue)
                        .outerjoin(nearest, nearest.c.incident_id == Incident.id)
                        .where(Incident.status.in_(OPEN_STATUSES), visible_incidents_clause(viewer))
                        .order_by(nearest.c.due.is_(None), nearest.c.due, Incident.created_at.desc())).all()
    return [DashboardRow(i, d, t or "", o or 0, v or 0) for i, d, t, o, v in rows]
