"""Issue 8: a tick records its whole batch at once; its statements do not grow with the reminders or incidents."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

from sqlmodel import select

from app.clock.models import ReminderKind
from app.scheduler import run_tick
from app.timeline.models import TimelineEvent
from app.timeline.service import verify_incident

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_tick import add_incident, add_obligation, add_reminder, events  # noqa: E402
from tests_support import counting  # noqa: E402


def _world(session, now, incidents: int, per_incident: int, first: int) -> list[int]:
    ids = []
    for n in range(first, first + incidents):
        incident = add_incident(session, now, n)
        ids.append(incident.id)
        obligation = add_obligation(session, incident, now)
        for k in range(per_incident):
            kind = ReminderKind.escalation if k == 0 else ReminderKind.progress
            add_reminder(session, obligation, now - timedelta(minutes=k + 1), label=f"r{k}", kind=kind)
        # Pending, not due: the tick must not touch them.
        add_reminder(session, obligation, now + timedelta(hours=1), label="later")
    session.commit()
    return ids


def _statements(app, now, worker: str) -> tuple[int, object]:
    engine = app.extensions["breachline.engine"]
    with counting(engine) as seen:
        report = run_tick(app, now=now, worker=worker)
    return len(seen), report


def test_a_batch_is_recorded_in_one_transaction_with_intact_chains(app, session, now):
    small_ids = _world(session, now, incidents=1, per_incident=2, first=1)
    small_count, small = _statements(app, now, "w1")
    large_ids = _world(session, now, incidents=6, per_incident=5, first=2)
    large_count, large = _statements(app, now, "w2")

    assert (small.claimed, small.fired) == (2, 2) and (large.claimed, large.fired) == (30, 30)
    assert large_count == small_count, f"statements grew with the batch: {small_count} -> {large_count}"
    fired = events(session, "reminder.fired")
    assert len(fired) == 32
    escalated = session.exec(select(TimelineEvent).where(TimelineEvent.kind == "obligation.escalated")).all()
    assert len(escalated) == 7  # one escalation reminder per obligation
    for incident_id in small_ids + large_ids:
        assert verify_incident(session=session, incident_id=incident_id).ok
    assert run_tick(app, now=now, worker="w3").claimed == 0  # nothing fires twice
