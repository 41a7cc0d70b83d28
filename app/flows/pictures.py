"""Read models for the pictures on pages: the incident time chart, impact breakdowns, the 72-hour strip.

Each returns plain data (lanes of marks, label/value rows); app.core.svg draws them. Queries are a
handful per page, grouped, never a loop over the data map.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, func, select

from app.clock.models import Obligation, ObligationStatus
from app.core.display import format_time
from app.core.time import UTCDateTime
from app.core.svg import Lane, Mark
from app.datamap.models import Controller
from app.flows.dashboard import nearest as nearest_incidents
from app.incidents.models import Incident
from app.notifications.models import Acknowledgement, DeliveryAttempt, Notification
from app.timeline.models import TimelineEvent

MAX_CUSTOMER_LANES = 20
# Event kinds drawn on the incident lane; notification chatter goes on the customers' own lanes.
SKIP_EVENT_PREFIXES = ("notification.", "obligation.", "reminder.", "webhook.")
RECIPIENT_LANES = {"controller": "Deadlines: customers", "supervisory_authority": "Deadlines: authority",
                   "data_subjects": "Deadlines: data subjects"}


@dataclass
class IncidentChart:
    """Lanes for the incident time chart, and how many customer lanes were left out."""

    lanes: list[Lane] = field(default_factory=list)
    customers_total: int = 0
    customers_shown: int = 0

    @property
    def customers_hidden(self) -> int:
        """Customers with notifications that have no lane of their own."""
        return self.customers_total - self.customers_shown


def _deadline_mark(ob: Obligation, now: datetime) -> Mark | None:
    """The deadline at its due time (or internal target), coloured by how it stands; deliveries show when it was met."""
    due = ob.due_at or ob.internal_target_at
    if due is None or ob.status == ObligationStatus.not_required:
        return None
    what = f"{ob.title}{'' if ob.due_at else ' (internal target)'}"
    met_at = f" {format_time(ob.met_at)} UTC" if ob.met_at else ""
    if ob.status == ObligationStatus.late or (ob.status == ObligationStatus.met and (ob.late_by_seconds or 0) > 0):
        return Mark(due, "late", f"{what}: due; met late{met_at}")
    if ob.status == ObligationStatus.met:
        return Mark(due, "met", f"{what}: due; met{met_at}")
    return Mark(due, "overdue" if due < now else "deadline", f"{what}: due")


def incident_chart(*, session: Session, incident: Incident, now: datetime,
                   max_customers: int = MAX_CUSTOMER_LANES) -> IncidentChart:
    """Events, deadlines by recipient, and per customer its deadline, deliveries and acknowledgement."""
    chart = IncidentChart()
    events = session.exec(select(TimelineEvent.occurred_at, TimelineEvent.kind, TimelineEvent.summary)
                          .where(TimelineEvent.incident_id == incident.id).order_by(TimelineEvent.seq)).all()
    marks = [Mark(at, "event", summary[:140]) for at, kind, summary in events
             if not kind.startswith(SKIP_EVENT_PREFIXES)]
    for name, label in (("detected_at", "Detected"), ("aware_at", "Aware"), ("contained_at", "Contained")):
        if getattr(incident, name):
            marks.append(Mark(getattr(incident, name), "event", label))
    chart.lanes.append(Lane("Incident", marks))

    obligations = list(session.exec(select(Obligation).where(Obligation.incident_id == incident.id,
                                                             Obligation.informational.is_(False))))
    by_kind: dict[str, list[Mark]] = defaultdict(list)
    by_customer: dict[int, list[Mark]] = defaultdict(list)
    for ob in obligations:
        mark = _deadline_mark(ob, now)
        if mark is None:
            continue
        by_kind[RECIPIENT_LANES.get(ob.recipient_kind, f"Deadlines: {ob.recipient_kind.replace('_', ' ')}")].append(mark)
        if ob.controller_id:
            by_customer[ob.controller_id].append(mark)
    for label in [*RECIPIENT_LANES.values(), *sorted(set(by_kind) - set(RECIPIENT_LANES.values()))]:
        if by_kind.get(label):
            chart.lanes.append(Lane(label, by_kind[label]))

    notices = session.exec(select(Notification.id, Notification.controller_id, Notification.uid)
                           .where(Notification.incident_id == incident.id,
                                  Notification.controller_id.is_not(None))).all()
    if not notices:
        return chart
    customer_of = {nid: cid for nid, cid, _ in notices}
    sends: dict[int, list[Mark]] = defaultdict(list)
    for nid, at, ok, channel, outcome in session.exec(
            select(DeliveryAttempt.notification_id, DeliveryAttempt.attempted_at, DeliveryAttempt.ok,
                   DeliveryAttempt.channel, DeliveryAttempt.outcome)
            .join(Notification, Notification.id == DeliveryAttempt.notification_id)
            .where(Notification.incident_id == incident.id)):
        kind = "delivered" if ok else ("failed" if outcome == "failed" else "sent")
        verb = {"delivered": "delivered", "failed": "not delivered", "sent": "attempt failed, will retry"}[kind]
        sends[customer_of.get(nid, 0)].append(Mark(at, kind, f"{channel}: {verb}"))
    for nid, at, who in session.exec(
            select(Acknowledgement.notification_id, Acknowledgement.acknowledged_at, Acknowledgement.contact_name)
            .join(Notification, Notification.id == Acknowledgement.notification_id)
            .where(Notification.incident_id == incident.id)):
        sends[customer_of.get(nid, 0)].append(Mark(at, "ack", "receipt confirmed" + (f" by {who}" if who else "")))
    customer_ids = sorted({cid for _, cid, _ in notices if cid})
    chart.customers_total = len(customer_ids)
    # Customers needing attention first: a failure, then no acknowledgement yet, then the rest by name.
    names: dict[int, str] = {}
    for start in range(0, len(customer_ids), 900):  # bound the IN list (SQLite's variable limit)
        chunk = customer_ids[start:start + 900]
        names.update(session.exec(select(Controller.id, Controller.name).where(Controller.id.in_(chunk))).all())

    def rank(cid: int):
        kinds = {m.kind for m in sends.get(cid, [])}
        return ("failed" not in kinds, "ack" in kinds, names.get(cid, str(cid)))

    shown = sorted(customer_ids, key=rank)[:max_customers]
    chart.customers_shown = len(shown)
    for cid in shown:
        chart.lanes.append(Lane(names.get(cid, f"customer {cid}"), by_customer.get(cid, []) + sends.get(cid, [])))
    return chart


def breakdown(totals: dict, key: str) -> list[tuple[str, int]]:
    """(label, controllers) rows of an impact snapshot's `by_data_category` or `by_jurisdiction` table."""
    return [(label, int(slot.get("controllers", 0))) for label, slot in (totals.get(key) or {}).items()]


@dataclass
class StripRow:
    """One open incident's deadlines in the strip's window."""

    incident: Incident
    marks: list[Mark]
    overdue: int
    due: int = 0  # open deadlines in the window; marks holds at most MARKS_PER_LANE of them


STRIP_LANES = 12
MARKS_PER_LANE = 40  # an incident over thousands of customers has thousands of deadlines in one window


def upcoming_deadlines(*, session: Session, now: datetime, viewer, hours: int = 72,
                       nearest: dict[int, tuple[datetime, str]] | None = None,
                       incidents: dict[int, Incident] | None = None) -> list[StripRow]:
    """The open incidents due soonest (up to STRIP_LANES) with their open deadlines before now + hours.

    `nearest` is the dashboard's order (incident id -> nearest deadline) when the caller has it;
    `incidents` the incident rows it already loaded. Both are looked up otherwise. The work grows
    with the lanes drawn, not with the number of open incidents.
    """
    horizon = now + timedelta(hours=hours)
    if nearest is None:
        nearest = nearest_incidents(session=session, viewer=viewer, want=STRIP_LANES)
    ids = [i for i, (due, _) in list(nearest.items())[:STRIP_LANES] if due <= horizon]
    if not ids:
        return []
    due = Obligation.due_at
    window = (Obligation.incident_id.in_(ids), Obligation.status == ObligationStatus.open,
              Obligation.informational.is_(False), due.is_not(None), due <= horizon)
    lane = dict(partition_by=Obligation.incident_id)
    ranked = (select(Obligation.incident_id, due, Obligation.title,
                     func.row_number().over(order_by=(due, Obligation.id), **lane).label("n"),
                     func.count().over(**lane).label("due"),
                     func.sum(sa.case((due < now, 1), else_=0)).over(**lane).label("overdue"))
              .where(*window).subquery())
    shown = session.execute(select(ranked.c.incident_id, sa.type_coerce(ranked.c.due_at, UTCDateTime()),
                                   ranked.c.title, ranked.c.due, ranked.c.overdue)
                            .where(ranked.c.n <= MARKS_PER_LANE).order_by(ranked.c.due_at, ranked.c.incident_id)).all()
    incidents = dict(incidents or {})
    missing = [i for i in ids if i not in incidents]
    if missing:
        incidents.update((i.id, i) for i in session.exec(select(Incident).where(Incident.id.in_(missing))))
    out = {i: StripRow(incidents[i], [], 0) for i in ids}
    for incident_id, at, title, n, overdue in shown:
        row = out[incident_id]
        row.due, row.overdue = n, overdue or 0
        late = at < now
        row.marks.append(Mark(max(at, now) if late else at, "overdue" if late else "deadline",
                              f"{row.incident.ref}: {title}" + (" (overdue)" if late else "")))
    return [row for row in out.values() if row.marks]
