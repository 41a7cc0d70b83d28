"""Reminders: atomic claiming of due rows, marking them fired or released, and the PSIRT message text."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from app.clock.models import Obligation, ObligationStatus, Reminder, ReminderKind
from app.core.claims import claim_rows
from app.core.time import iso, require_aware
from app.incidents.models import Incident
from app.timeline.service import NewEvent, append, append_batch

ACTOR = "scheduler"
RESULT_MAX = 2000  # Reminder.result column width
RESTRICTED_TITLE = "(restricted incident: open Breachline to see it)"


def _claimable(now: datetime, expiry: datetime):
    """Due, unfired, uncancelled, and either unclaimed or claimed by a worker whose lease ran out."""
    return sa.and_(Reminder.due_at <= now, Reminder.fired_at.is_(None), Reminder.cancelled.is_(False),
                   sa.or_(Reminder.claimed_at.is_(None), Reminder.claimed_at < expiry))


def claim_due(*, session: Session, now: datetime, worker: str, limit: int = 100,
              lease_seconds: int = 300) -> list[Reminder]:
    """Atomically claim up to `limit` due reminders for `worker`; the caller commits at once."""
    now = require_aware(now, "now")
    if not worker:
        raise ValueError("worker must name the claiming process")
    expiry = now - timedelta(seconds=lease_seconds)
    # Shared with the notification outbox (issue 4): FOR UPDATE SKIP LOCKED on PostgreSQL, a single
    # conditional UPDATE ... RETURNING on SQLite (first statement of a BEGIN IMMEDIATE transaction).
    ids = claim_rows(session=session, model=Reminder, claimable=_claimable(now, expiry),
                     order_by=(Reminder.due_at, Reminder.id), values={"claimed_by": worker, "claimed_at": now},
                     limit=limit)
    if not ids:
        return []
    rows = session.exec(select(Reminder).where(Reminder.id.in_(ids))
                        .order_by(Reminder.due_at, Reminder.id)
                        .execution_options(populate_existing=True))
    return list(rows)


def _owned(reminder_id: int, worker: str):
    # Cancelled meanwhile does not matter here: if we sent it, the firing is still recorded.
    return sa.and_(Reminder.id == reminder_id, Reminder.claimed_by == worker, Reminder.fired_at.is_(None))


def mark_fired(*, session: Session, reminder_id: int, worker: str, now: datetime, result: str) -> bool:
    """Mark a claimed reminder fired and record it on the timeline; False if the claim was lost."""
    now = require_aware(now, "now")
    done = session.execute(sa.update(Reminder).where(_owned(reminder_id, worker))
                           .values(fired_at=now, result=result[:RESULT_MAX])
                           .execution_options(synchronize_session=False)).rowcount
    if done != 1:
        # Our lease ran out and another worker took the row over: it will record the firing.
        return False
    reminder = session.exec(select(Reminder).where(Reminder.id == reminder_id)
                            .execution_options(populate_existing=True)).one()
    obligation = session.get(Obligation, reminder.obligation_id)
    details = {"reminder_id": reminder.id, "reminder_kind": str(reminder.kind), "label": reminder.label,
               "reminder_due_at": reminder.due_at, "obligation_id": obligation.id,
               "obligation": obligation.title, "obligation_due_at": obligation.due_at,
               "regime_id": obligation.regime_id, "stage_id": obligation.stage_id,
               "worker": worker, "result": reminder.result}
    append(session=session, incident_id=obligation.incident_id, kind="reminder.fired", actor=ACTOR,
           recorded_at=now, occurred_at=now, details=details, controller_id=obligation.controller_id,
           summary=f"Reminder ({reminder.label}) sent to the PSIRT: {obligation.title}"[:RESULT_MAX])
    if reminder.kind == ReminderKind.escalation:
        append(session=session, incident_id=obligation.incident_id, kind="obligation.escalated", actor=ACTOR,
               recorded_at=now, occurred_at=now, details=details, controller_id=obligation.controller_id,
               summary=f"Overdue obligation escalated ({reminder.label}): {obligation.title}"[:RESULT_MAX])
    return True


def mark_fired_many(*, session: Session, fired: Sequence[tuple[int, str]], worker: str, now: datetime) -> set[int]:
    """Mark claimed reminders fired, each with its result, and record them on the timeline; returns the ids marked.

    One UPDATE (claims lost to another worker are simply not returned), one read of the reminders
    and their obligations, one batched timeline append: a tick's cost grows with what it fires.
    """
    now = require_aware(now, "now")
    if not fired:
        return set()
    results = {reminder_id: result[:RESULT_MAX] for reminder_id, result in fired}
    done = set(session.execute(sa.update(Reminder).where(_owned_many(list(results), worker))
                               .values(fired_at=now, result=_per_id(results))
                               .returning(Reminder.id).execution_options(synchronize_session=False)).scalars())
    if not done:
        return done
    events = []
    for reminder, obligation in session.exec(
            select(Reminder, Obligation).join(Obligation, Obligation.id == Reminder.obligation_id)
            .where(Reminder.id.in_(sorted(done))).order_by(Reminder.due_at, Reminder.id)
            .execution_options(populate_existing=True)):
        details = {"reminder_id": reminder.id, "reminder_kind": str(reminder.kind), "label": reminder.label,
                   "reminder_due_at": reminder.due_at, "obligation_id": obligation.id,
                   "obligation": obligation.title, "obligation_due_at": obligation.due_at,
                   "regime_id": obligation.regime_id, "stage_id": obligation.stage_id,
                   "worker": worker, "result": reminder.result}
        events.append((obligation.incident_id, NewEvent(
            "reminder.fired", f"Reminder ({reminder.label}) sent to the PSIRT: {obligation.title}"[:RESULT_MAX], ACTOR,
            occurred_at=now, details=details, controller_id=obligation.controller_id)))
        if reminder.kind == ReminderKind.escalation:
            summary = f"Overdue obligation escalated ({reminder.label}): {obligation.title}"
            events.append((obligation.incident_id, NewEvent(
                "obligation.escalated", summary[:RESULT_MAX], ACTOR, occurred_at=now, details=details,
                controller_id=obligation.controller_id)))
    append_batch(session=session, events=events, recorded_at=now)
    return done


def release_many(*, session: Session, errors: Sequence[tuple[int, str]], worker: str, now: datetime) -> set[int]:
    """Give claimed reminders back after failed sends, each with its error; returns the ids released."""
    now = require_aware(now, "now")
    if not errors:
        return set()
    notes = {reminder_id: f"{iso(now)} not sent, will retry: {error}"[:RESULT_MAX] for reminder_id, error in errors}
    return set(session.execute(sa.update(Reminder).where(_owned_many(list(notes), worker))
                               .values(claimed_at=None, claimed_by="", result=_per_id(notes))
                               .returning(Reminder.id).execution_options(synchronize_session=False)).scalars())


def _owned_many(reminder_ids: list[int], worker: str):
    return sa.and_(Reminder.id.in_(reminder_ids), Reminder.claimed_by == worker, Reminder.fired_at.is_(None))


def _per_id(texts: dict[int, str]):
    """One text per reminder id in a single UPDATE: a CASE when they differ, the text itself when they agree."""
    distinct = set(texts.values())
    if len(distinct) == 1:
        return distinct.pop()
    return sa.case(texts, value=Reminder.id)


def release(*, session: Session, reminder_id: int, worker: str, now: datetime, error: str) -> bool:
    """Give a claimed reminder back after a failed send so the next tick retries it; records the error."""
    now = require_aware(now, "now")
    note = f"{iso(now)} not sent, will retry: {error}"[:RESULT_MAX]
    return session.execute(sa.update(Reminder).where(_owned(reminder_id, worker))
                           .values(claimed_at=None, claimed_by="", result=note)
                           .execution_options(synchronize_session=False)).rowcount == 1


def cancel_claimed(*, session: Session, reminder_id: int, worker: str, now: datetime, reason: str) -> bool:
    """Cancel a claimed reminder that no longer needs sending (its obligation was settled meanwhile)."""
    now = require_aware(now, "now")
    return session.execute(sa.update(Reminder).where(_owned(reminder_id, worker))
                           .values(cancelled=True, result=f"{iso(now)} not sent: {reason}"[:RESULT_MAX])
                           .execution_options(synchronize_session=False)).rowcount == 1


def still_needed(obligation: Obligation) -> bool:
    """Whether a reminder about this obligation is still worth sending."""
    return obligation.status == ObligationStatus.open


def _span(seconds: float) -> str:
    """A human duration: '3 d 4 h', '2 h 5 min', '12 min'."""
    minutes = int(abs(seconds) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min"


def describe(reminder: Reminder, obligation: Obligation, incident: Incident, *,
             now: datetime) -> tuple[str, str, dict]:
    """The PSIRT message for a reminder: (subject, plain text, JSON payload)."""
    now = require_aware(now, "now")
    deadline = obligation.due_at or obligation.internal_target_at
    what = "due" if obligation.due_at else "internal target"
    if deadline is None:
        when, left = "no deadline yet (anchor event not recorded)", None
    else:
        left = (deadline - now).total_seconds()
        when = (f"{what} {deadline:%Y-%m-%d %H:%M} UTC, "
                + (f"{_span(left)} left" if left >= 0 else f"overdue by {_span(left)}"))
    drill = "[DRILL] " if incident.drill else ""
    # The PSIRT mailbox is wider than a need-to-know incident's members: name it, never describe it.
    title = RESTRICTED_TITLE if incident.restricted else incident.title
    subject = f"{drill}{incident.ref}: {obligation.title} — {reminder.label}"
    link = f"/incidents/{incident.ref}"
    lines = [
        *(["DRILL — this is an exercise, not a real incident.", ""] if incident.drill else []),
        f"Incident:   {incident.ref} {title}",
        f"Obligation: {obligation.title}",
        f"Recipient:  {obligation.recipient_kind}" + (f" ({obligation.recipient_key})"
                                                      if obligation.recipient_key else ""),
        f"Deadline:   {when}",
        *([f"Rule:       {obligation.deadline_rule}"] if obligation.deadline_rule else []),
        *([f"Source:     {obligation.source}"] if obligation.source else []),
        *(["            (the law sets no fixed number; this is our internal target)"]
          if obligation.no_fixed_deadline else []),
        f"Reminder:   {reminder.label} ({reminder.kind})",
        "",
        f"Open: {link}",
    ]
    payload = {
        "type": "breachline.reminder",
        "id": f"reminder-{reminder.id}",
        "reminder": {"id": reminder.id, "kind": str(reminder.kind), "label": reminder.label,
                     "due_at": iso(reminder.due_at)},
        "incident": {"ref": incident.ref, "title": title, "restricted": incident.restricted, "drill": incident.drill, "link": link},
        "obligation": {"id": obligation.id, "title": obligation.title, "regime_id": obligation.regime_id,
                       "stage_id": obligation.stage_id, "recipient_kind": obligation.recipient_kind,
                       "recipient_key": obligation.recipient_key, "due_at": iso(obligation.due_at),
                       "internal_target_at": iso(obligation.internal_target_at),
                       "no_fixed_deadline": obligation.no_fixed_deadline,
                       "deadline_rule": obligation.deadline_rule, "source": obligation.source},
        "seconds_left": None if left is None else int(left),  # negative: overdue
        "sent_at": iso(now),
    }
    return subject, "\n".join(lines) + "\n", payload
