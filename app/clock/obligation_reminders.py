"""The reminder rows of open obligations: their schedule from the regime's plan, re-planned or cancelled."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from app.clock.deadlines import ReminderPlan, reminder_times
from app.clock.models import Obligation, ObligationStatus, Reminder, ReminderKind
from app.clock.settings import ClockSettings


def _plan_of(settings: ClockSettings, ob: Obligation) -> ReminderPlan:
    regime = settings.regimes.get(ob.regime_id)
    try:
        return regime.stage(ob.stage_id).reminders if regime else ReminderPlan()
    except KeyError:
        return ReminderPlan()


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:g} h"


def reminder_schedule(ob: Obligation, plan: ReminderPlan, window_anchor: datetime | None,
                      now: datetime) -> list[tuple[ReminderKind, str, datetime]]:
    """(kind, label, due) of the reminders an open obligation should have, from its plan."""
    legal = ob.due_at is not None
    end = ob.due_at if legal else ob.internal_target_at
    start = window_anchor if legal else ob.anchor_at
    if end is None or start is None:
        return []
    start = min(start, end)
    window = (end - start).total_seconds()
    items = []
    for at in reminder_times(start, end, plan):
        if at < end:
            share = math.floor((at - start).total_seconds() / window * 100 + 0.5)
            items.append((ReminderKind.progress, f"{share}% of the window used", at))
        elif at == end:
            items.append((ReminderKind.due, "due now" if legal else "internal target reached", at))
        else:
            items.append((ReminderKind.overdue, f"{_hours(at - end)} overdue" if legal
                          else f"{_hours(at - end)} past the internal target", at))
    if plan.overdue_hours:
        first = end + timedelta(hours=min(plan.overdue_hours))
        items.append((ReminderKind.escalation, f"{_hours(first - end)} overdue — escalate" if legal
                      else f"{_hours(first - end)} past the internal target — escalate", first))
    # A progress reminder already overtaken by a later one that is also past says nothing new:
    # created late (or re-timed), the obligation gets the latest news once, not a burst of stale ones.
    latest_past = max((at for _, _, at in items if at <= now), default=None)
    return [(k, label, at) for k, label, at in items
            if not (k is ReminderKind.progress and at <= now and latest_past is not None and at < latest_past)]


def _unfired():
    # Not "fired_at IS NULL": that matches nearly every reminder, and SQLite (without statistics) then walks
    # the whole tick index (fired_at, due_at) instead of looking up the obligations' own reminders.
    return sa.func.coalesce(Reminder.fired_at, sa.null()).is_(None)


def cancel_pending_reminders(session: Session, ids: list[int]) -> None:
    """Cancel the unfired reminders of these obligations."""
    for start in range(0, len(ids), 500):
        session.exec(sa.update(Reminder).where(Reminder.obligation_id.in_(ids[start:start + 500]),
                                               _unfired()).values(cancelled=True)
                     .execution_options(synchronize_session=False))


def replan_reminders(session: Session, entries: list[tuple[Obligation, datetime | None]], settings: ClockSettings,
                     now: datetime) -> None:
    """Replace the unfired reminders of these obligations by a fresh plan."""
    if not entries:
        return
    ids = [ob.id for ob, _ in entries]
    fired: set[tuple] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        # A claimed row is being sent right now: cancel it rather than pull it from under the sender.
        session.exec(sa.update(Reminder).where(Reminder.obligation_id.in_(chunk), _unfired(),
                                               Reminder.claimed_at.is_not(None)).values(cancelled=True)
                     .execution_options(synchronize_session=False))
        session.exec(sa.delete(Reminder).where(Reminder.obligation_id.in_(chunk), _unfired(),
                                               Reminder.claimed_at.is_(None))
                     .execution_options(synchronize_session=False))
        fired |= set(session.exec(select(Reminder.obligation_id, Reminder.kind, Reminder.label, Reminder.due_at)
                                  .where(Reminder.obligation_id.in_(chunk), Reminder.fired_at.is_not(None))))
    rows = []
    for ob, window_anchor in entries:
        if ob.status != ObligationStatus.open:
            continue
        for kind, label, at in reminder_schedule(ob, _plan_of(settings, ob), window_anchor, now):
            if (ob.id, str(kind), label, at) not in fired:  # never fire the same reminder twice
                rows.append({"obligation_id": ob.id, "kind": str(kind), "label": label, "due_at": at,
                             "claimed_at": None, "claimed_by": "", "fired_at": None, "cancelled": False,
                             "result": ""})
    # Core executemany: four or five reminders per obligation, thousands of obligations per declaration.
    for start in range(0, len(rows), 5000):
        session.execute(sa.insert(Reminder.__table__), rows[start:start + 5000])

