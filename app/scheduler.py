"""The scheduler process: one APScheduler interval job ("tick") that fires due reminders and runs tick hooks."""

from __future__ import annotations

import logging
import os
import platform
import signal
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

import sqlalchemy as sa
from flask import Flask
from sqlmodel import select

from app.clock.models import Obligation, Reminder
from app.clock.reminders import cancel_claimed, claim_due, describe, mark_fired_many, release_many, still_needed
from app.core import time
from app.core.time import iso
from app.db import engine, immediate_session
from app.incidents.models import Incident
from app.notifications.channels import DeliveryResult
from app.notifications.channels.psirt import PsirtMessage, send_many_to_psirt

log = logging.getLogger(__name__)

# Session-level PostgreSQL advisory lock held by the leading scheduler process ("BRL" + 1).
LEADER_LOCK_KEY = 0x42524C01

TickHook = Callable[[Flask, datetime, str], dict]
# Later work (e.g. the notification outbox dispatcher) appends here; each hook gets its own
# transactions and reports a small dict that ends up in the TickReport.
TICK_HOOKS: list[TickHook] = []

from app.flows.dispatch import dispatch_outbox  # noqa: E402  issue 4: the notification outbox dispatcher
TICK_HOOKS.append(dispatch_outbox)  # issue 4
from app.flows.subjects import retention_tick  # noqa: E402  issue 10: retention, at most once a day
TICK_HOOKS.append(retention_tick)  # issue 10


@dataclass
class TickReport:
    """What one tick did."""

    now: datetime
    worker: str
    claimed: int = 0
    fired: int = 0  # marked fired, delivered or not
    undelivered: int = 0  # fired, but no channel delivered it (permanent failure or none configured)
    failed: int = 0  # send failed transiently: released for the next tick
    cancelled: int = 0  # obligation settled between scheduling and firing
    lost: int = 0  # our claim was taken over (lease expired) before we could mark it
    errors: int = 0  # sent but the database refused the record twice; resent after the lease
    hooks: dict[str, dict] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for logs and `breachline scheduler --once`."""
        extra = "".join(f", {name} {n}" for name, n in (("undelivered", self.undelivered),
                                                         ("cancelled", self.cancelled), ("lost", self.lost),
                                                         ("errors", self.errors)) if n)
        hooks = "".join(f"; {name}: {result}" for name, result in self.hooks.items())
        return (f"tick {iso(self.now)} {self.worker}: claimed {self.claimed}, fired {self.fired}, "
                f"failed {self.failed}{extra}{hooks}")


@dataclass
class _Message:
    reminder_id: int
    subject: str
    text: str
    payload: dict
    drill: bool


def job_session(app: Flask):
    """One job step's transaction, committed on success; on SQLite it opens with BEGIN IMMEDIATE."""
    return immediate_session(engine(app))


def run_tick(app: Flask, *, now: datetime, worker: str) -> TickReport:
    """Claim due reminders (one transaction), send them, record the outcomes (one transaction), run hooks."""
    report = TickReport(now=now, worker=worker)
    with app.app_context():
        messages = _claim(app, now=now, worker=worker, report=report)
        if messages:
            _record_retrying(app, messages, _send(app, messages, now=now), now=now, worker=worker, report=report)
        for hook in TICK_HOOKS:
            name = getattr(hook, "__name__", repr(hook))
            try:
                report.hooks[name] = hook(app, now, worker)
            except Exception as exc:  # one broken hook must not stop reminders or the other hooks
                log.exception("tick hook %s failed", name)
                report.hooks[name] = {"error": f"{type(exc).__name__}: {exc}"}
    if report.claimed or report.hooks:
        log.info(report.summary())
    return report


def _claim(app: Flask, *, now: datetime, worker: str, report: TickReport) -> list[_Message]:
    cfg = app.config
    messages = []
    with job_session(app) as session:
        claimed = claim_due(session=session, now=now, worker=worker, limit=int(cfg["SCHEDULER_BATCH_SIZE"]),
                            lease_seconds=int(cfg["SCHEDULER_LEASE_SECONDS"]))
        report.claimed = len(claimed)
        if not claimed:
            return []
        rows = session.exec(select(Reminder, Obligation, Incident)
                            .join(Obligation, Obligation.id == Reminder.obligation_id)
                            .join(Incident, Incident.id == Obligation.incident_id)
                            .where(Reminder.id.in_([r.id for r in claimed]))
                            .order_by(Reminder.due_at, Reminder.id)).all()
        for reminder, obligation, incident in rows:
            if not still_needed(obligation):
                cancel_claimed(session=session, reminder_id=reminder.id, worker=worker, now=now,
                               reason=f"obligation already {obligation.status}")
                report.cancelled += 1
                continue
            subject, text, payload = describe(reminder, obligation, incident, now=now)
            messages.append(_Message(reminder.id, subject, text, payload, incident.drill))
    return messages


def _send(app: Flask, messages: list[_Message], *, now: datetime) -> list[list[DeliveryResult] | str]:
    """Per message, the channels' results; or the crash text when sending blew up (then all are retried)."""
    try:
        return send_many_to_psirt(app.config, [PsirtMessage(m.subject, m.text, m.payload, m.drill) for m in messages],
                                  now=now)
    except Exception as exc:  # a channel bug must not lose reminders: release them and retry
        log.exception("sending %d reminder(s) failed", len(messages))
        return [f"{type(exc).__name__}: {exc}"] * len(messages)


def _record_retrying(app: Flask, messages: list[_Message], answers: list[list[DeliveryResult] | str], *,
                     now: datetime, worker: str, report: TickReport) -> None:
    """Record the batch's outcomes; one retry for a passing conflict (deadlock, serialisation, a racing insert)."""
    outcomes = [_outcome(message, answer) for message, answer in zip(messages, answers)]
    for attempt in (1, 2):
        try:
            return _record(app, outcomes, now=now, worker=worker, report=report)
        except sa.exc.DBAPIError:
            if attempt == 2:
                # The messages went out but are not recorded: the claims expire after the lease and the
                # reminders are sent again (same Message-ID / webhook-id).
                log.exception("%d reminder(s) sent but not recorded", len(outcomes))
                report.errors += len(outcomes)
                return
            log.warning("recording %d reminder(s) failed, retrying once", len(outcomes), exc_info=True)


@dataclass
class _Outcome:
    reminder_id: int
    text: str
    delivered: bool
    retry: bool


def _outcome(message: _Message, answer: list[DeliveryResult] | str) -> _Outcome:
    crashed = isinstance(answer, str)
    results = [] if crashed else answer
    text = answer if crashed else "; ".join(_describe_result(r) for r in results)
    delivered = any(r.ok for r in results)
    # Retry while some channel may still succeed; a permanent failure (or no channel at all) is
    # recorded as fired so the dashboard shows it instead of retrying forever.
    retry = crashed or (not delivered and any(not r.permanent for r in results))
    return _Outcome(message.reminder_id, text, delivered, retry)


def _record(app: Flask, outcomes: list[_Outcome], *, now: datetime, worker: str, report: TickReport) -> None:
    """Mark the batch fired or released for a retry, in one transaction."""
    with job_session(app) as session:
        released = release_many(session=session, errors=[(o.reminder_id, o.text) for o in outcomes if o.retry],
                                worker=worker, now=now)
        fired = mark_fired_many(session=session, fired=[(o.reminder_id, o.text) for o in outcomes if not o.retry],
                                worker=worker, now=now)
    # Counted only after the commit, so a retried attempt is not counted twice.
    for o in outcomes:
        if o.reminder_id not in (released if o.retry else fired):
            report.lost += 1
            log.warning("reminder %s: claim taken over by another worker before it was recorded", o.reminder_id)
        elif o.retry:
            report.failed += 1
            log.warning("reminder %s not sent, will retry: %s", o.reminder_id, o.text)
        else:
            report.fired += 1
            if not o.delivered:
                report.undelivered += 1
                log.error("reminder %s fired but not delivered: %s", o.reminder_id, o.text)


def _describe_result(result: DeliveryResult) -> str:
    """The sender's answer in one phrase: 'psirt@example.org: ok 250 accepted'."""
    status = "ok" if result.ok else ("failed permanently" if result.permanent else "failed")
    return f"{result.target}: {status} {result.detail}".strip()


class LeaderLock:
    """Leadership among scheduler processes via a PostgreSQL session advisory lock (always leader on SQLite)."""

    def __init__(self, app: Flask, key: int = LEADER_LOCK_KEY) -> None:
        self.engine = engine(app)
        self.key = key
        self.conn: sa.Connection | None = None
        self.leader = False
        self._said_standby = False

    def acquire(self) -> bool:
        """Return whether this process leads, taking the lock if it is free; call once per tick."""
        if self.engine.dialect.name != "postgresql":
            return True  # one SQLite file, usually one process; claims are atomic either way
        try:
            if self.conn is None:
                # Its own connection, outside any transaction: the lock lives as long as the session.
                self.conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            if self.leader:
                self.conn.exec_driver_sql("SELECT 1")  # a dropped connection means the lock is gone
                return True
            self.leader = bool(self.conn.execute(sa.text("SELECT pg_try_advisory_lock(:key)"),
                                                 {"key": self.key}).scalar())
        except sa.exc.DBAPIError:
            log.exception("scheduler leader lock: database connection failed; will retry")
            self._drop()
            return False
        if self.leader:
            log.info("scheduler: leader (advisory lock %s held)", self.key)
            self._said_standby = False
        elif not self._said_standby:
            log.info("scheduler: standby, another scheduler holds the leader lock; retrying each interval")
            self._said_standby = True
        return self.leader

    def _drop(self) -> None:
        if self.conn is not None:
            try:
                self.conn.invalidate()
                self.conn.close()
            except Exception:  # the connection is already broken; nothing left to clean up
                pass
        self.conn, self.leader = None, False

    def release(self) -> None:
        """Give up leadership (closing the connection frees the lock)."""
        if self.conn is not None:
            try:
                if self.leader:
                    self.conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
                self.conn.close()
            except sa.exc.DBAPIError:
                pass
        self.conn, self.leader = None, False


def scheduled_tick(app: Flask, worker: str, leadership: LeaderLock) -> TickReport | None:
    """The interval job: tick with the real clock if this process leads; None when standby."""
    if not leadership.acquire():
        log.debug("scheduler: standby, tick skipped")
        return None
    return run_tick(app, now=time.now(), worker=worker)


def default_worker() -> str:
    """This process's name on claims: host:pid."""
    return f"{platform.node() or 'localhost'}:{os.getpid()}"


def run_scheduler(app: Flask, interval_seconds: int, *, worker: str | None = None) -> None:
    """Run the tick every interval until interrupted (SIGINT/SIGTERM); blocks."""
    worker = worker or default_worker()
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers.blocking import BlockingScheduler

    leadership = LeaderLock(app)
    scheduler = BlockingScheduler(timezone=time.UTC, executors={"default": ThreadPoolExecutor(1)})
    # coalesce + max_instances=1: a slow tick never overlaps the next, and missed runs collapse to one.
    scheduler.add_job(scheduled_tick, "interval", args=[app, worker, leadership], id="tick",
                      seconds=interval_seconds, max_instances=1, coalesce=True,
                      misfire_grace_time=max(1, interval_seconds), next_run_time=time.now())
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: scheduler.shutdown(wait=False))
    log.info("scheduler %s: ticking every %s s", worker, interval_seconds)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        if scheduler.running:
            scheduler.shutdown(wait=False)
    finally:
        leadership.release()
        log.info("scheduler %s stopped", worker)
