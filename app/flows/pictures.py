"""Read models for the pictures on pages: the incident time chart, impact breakdowns, the 72-hour strip.

Each returns plain data (lanes of marks, label/value rows); app.core.svg draws them. Queries are a
handful per page, grouped, never a loop over the data map.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session, select

from app.clock.models import Obligation, ObligationStatus
from app.core.display import format_time
from app.core.svg import Lane, Mark
from app.datamap.models import Controller
from app.incidents.access import visible_incidents_clause
from app.incidents.models import Incident
from app.incidents.service import OPEN_STATUSES
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


def upcoming_deadlines(*, session: Session, now: datetime, viewer, hours: int = 72) -> list[StripRow]:
    """Open incidents the viewer may see with open deadlines before now + hours (overdue included), nearest first."""
    horizon = now + timedelta(hours=hours)
    due = Obligation.due_at
    rows = session.exec(select(Incident, Obligation)
                        .join(Obligation, Obligation.incident_id == Incident.id)
                        .where(Incident.status.in_(OPEN_STATUSES), visible_incidents_clause(viewer),
                               Obligation.status == ObligationStatus.open,
                               Obligation.informational.is_(False), due.is_not(None), due <= horizon)
                        .order_by(due)).all()
    out: dict[int, StripRow] = {}
    for incident, ob in rows:
        row = out.setdefault(incident.id, StripRow(incident, [], 0))
        late = ob.due_at < now
        row.overdue += int(late)
        row.marks.append(Mark(max(ob.due_at, now) if late else ob.due_at, "overdue" if late else "deadline",
                              f"{incident.ref}: {ob.title}" + (" (overdue)" if late else "")))
    return list(out.values())
