"""The deadlines calendar: open obligations as an iCalendar feed (RFC 5545) with alarms at the reminder times.

One VEVENT per open obligation that has a deadline (or, without one, an internal target), starting
at that moment in UTC. Its UID is stable (the obligation's id), so a re-timed deadline moves the
existing calendar entry instead of adding one. Alarms sit at the obligation's pending reminder
times (so the calendar rings when Breachline's own reminders fire), an hour before, and at the
deadline. Drills say so in the summary.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from icalendar import Alarm, Calendar, Event
from sqlmodel import Session, select

from app.clock.models import Obligation, ObligationStatus, Reminder, ReminderKind
from app.incidents.access import visible_incidents_clause
from app.incidents.models import Incident, IncidentStatus

PRODID = "-//Breachline//Deadlines calendar//EN"
CLOSED = (IncidentStatus.closed, IncidentStatus.not_a_breach)
BEFORE_DUE = (ReminderKind.progress, ReminderKind.due)  # overdue reminders come after the entry: no alarm
DEFAULT_ALARM = timedelta(hours=-1)


def open_deadlines(*, session: Session, incidents: Iterable[Incident]) -> list[tuple[Incident, Obligation]]:
    """Open obligations of ours (not the customers' own clocks) with a due time or internal target, soonest first."""
    by_id = {i.id: i for i in incidents}
    if not by_id:
        return []
    rows = session.exec(select(Obligation).where(
        Obligation.incident_id.in_(list(by_id)), Obligation.status == ObligationStatus.open,
        Obligation.informational.is_(False),
        Obligation.due_at.is_not(None) | Obligation.internal_target_at.is_not(None))).all()
    found = [(by_id[o.incident_id], o) for o in rows]
    return sorted(found, key=lambda pair: (pair[1].due_at or pair[1].internal_target_at, pair[1].id))


def feed_incidents(*, session: Session, viewer) -> list[Incident]:
    """Every open incident the viewer may see (need-to-know applies to calendars too)."""
    query = select(Incident).where(Incident.status.not_in([str(s) for s in CLOSED]), visible_incidents_clause(viewer))
    return list(session.exec(query.order_by(Incident.id)))


def _pending_reminders(session: Session, ids: list[int]) -> dict[int, list[datetime]]:
    found: dict[int, list[datetime]] = {}
    for start in range(0, len(ids), 500):
        for obligation_id, due_at in session.exec(
                select(Reminder.obligation_id, Reminder.due_at).where(
                    Reminder.obligation_id.in_(ids[start:start + 500]), Reminder.fired_at.is_(None),
                    Reminder.cancelled.is_(False), Reminder.kind.in_([str(k) for k in BEFORE_DUE]))):
            found.setdefault(obligation_id, []).append(due_at)
    return found


def calendar_feed(*, session: Session, incidents: list[Incident], now: datetime, base_url: str,
                  uid_domain: str = "breachline", name: str = "Breachline deadlines") -> bytes:
    """The iCalendar text of the open deadlines of these incidents."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", "UTC")
    # Subscribed calendars poll; deadlines move, so ask for a short interval.
    cal.add("refresh-interval", timedelta(minutes=15), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "PT15M")
    pairs = open_deadlines(session=session, incidents=incidents)
    reminders = _pending_reminders(session, [o.id for _, o in pairs])
    for incident, ob in pairs:
        start = ob.due_at or ob.internal_target_at
        target = ob.due_at is None
        event = Event()
        event.add("uid", f"obligation-{ob.id}@{uid_domain}")
        event.add("dtstamp", now)
        event.add("dtstart", start)
        # DUE is a VTODO property; VEVENT consumers read DTSTART, the rest read the description.
        label = "internal target" if target else "deadline"
        event.add("summary", f"{'[DRILL] ' if incident.drill else ''}{incident.ref}: {ob.title} — {label}")
        url = f"{base_url.rstrip('/')}/incidents/{incident.ref}"
        lines = [f"{incident.ref} · {incident.title}", f"Obligation: {ob.title}",
                 f"Recipient: {ob.recipient_kind.replace('_', ' ')}" + (f" ({ob.recipient_key})" if ob.recipient_key else ""),
                 f"Deadline rule: {ob.deadline_rule}", f"Anchor: {ob.anchor_name}"
                 + (f" at {ob.anchor_at:%Y-%m-%d %H:%M} UTC" if ob.anchor_at else ""),
                 f"Source: {ob.source}", url]
        if target:
            lines.insert(3, "No fixed legal deadline: this is Breachline's internal target.")
        if incident.drill:
            lines.insert(0, "DRILL — an exercise, not a real breach.")
        event.add("description", "\n".join(lines))
        event.add("url", url)
        event.add("categories", ["Breachline", ob.regime_id] + (["DRILL"] if incident.drill else []))
        event.add("status", "CONFIRMED")
        event.add("transp", "TRANSPARENT")
        # The reminder plan's times, plus always an hour before and at the deadline itself.
        offsets = sorted({at - start for at in reminders.get(ob.id, []) if at <= start} | {DEFAULT_ALARM, timedelta(0)})
        for offset in offsets:
            alarm = Alarm()
            alarm.add("action", "DISPLAY")
            alarm.add("description", f"{incident.ref}: {ob.title} — "
                      + ("due now" if offset == timedelta(0) else f"{label} in {_hours(-offset)}"))
            alarm.add("trigger", offset)
            event.add_component(alarm)
        cal.add_component(event)
    return cal.to_ical()


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:g} h" if hours < 48 else f"{hours / 24:.1f} d"
