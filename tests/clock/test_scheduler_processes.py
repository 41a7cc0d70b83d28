"""Scheduler processes: two real OS processes over the same reminders fire each exactly once; leader lock."""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time as walltime
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, func, select

from app import create_app
from app.clock.models import Obligation, Reminder, ReminderKind
from app.core import time as clock
from app.db import make_engine
from app.incidents.models import Incident
from app.migrations import upgrade
from app.scheduler import LeaderLock
from app.timeline.models import TimelineEvent
from app.timeline.service import append, verify_incident
from receivers import Mailbox

ROOT = Path(__file__).resolve().parents[2]
PSIRT = "psirt@example.org"

# One racing scheduler: wait for the starting gun, then tick (injected `now`) until a tick claims nothing.
RACER = r"""
import json, os, sys, time
from datetime import datetime
from app import create_app
from app.scheduler import run_tick

now, worker, ready, go = datetime.fromisoformat(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
app = create_app()
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.005)
totals = {"ticks": 0, "claimed": 0, "fired": 0, "failed": 0, "lost": 0, "errors": 0}
while True:
    report = run_tick(app, now=now, worker=worker)
    totals["ticks"] += 1
    for key in ("claimed", "fired", "failed", "lost", "errors"):
        totals[key] += getattr(report, key)
    if report.claimed == 0:
        break
print(json.dumps(totals))
"""


@pytest.fixture
def mailbox():
    box = Mailbox().start()
    yield box
    box.stop()


def child_env(url: str, mailbox: Mailbox, **extra) -> dict:
    env = {**os.environ, "BREACHLINE_DATABASE_URL": url, "BREACHLINE_SECRET_KEY": "test-secret",
           "BREACHLINE_PSIRT_EMAIL": PSIRT, "BREACHLINE_SMTP_HOST": "127.0.0.1",
           "BREACHLINE_SMTP_PORT": str(mailbox.port), "BREACHLINE_MAIL_FROM": "breachline@example.org",
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.update({f"BREACHLINE_{k}": str(v) for k, v in extra.items()})
    return env


def seed(engine: sa.Engine, now, *, reminders: int, incidents: int = 3) -> None:
    """Reminders all due at or before now, spread over incidents and obligations."""
    with Session(engine) as session:
        incs = []
        for n in range(1, incidents + 1):
            incs.append(Incident(ref=f"INC-2026-{n:04d}", year=2026, seq=n, title=f"Leak {n}",
                                 incident_type="data-leak", detected_at=now - timedelta(days=2), created_at=now,
                                 updated_at=now, created_by="lead@example.org"))
        session.add_all(incs)
        session.flush()
        for incident in incs:
            append(session=session, incident_id=incident.id, kind="incident.created", summary="declared",
                   actor="lead@example.org", recorded_at=now)
        obligations = []
        for i in range(reminders // 5):
            obligations.append(Obligation(incident_id=incs[i % incidents].id, regime_id="gdpr-art28",
                                          stage_id="notify-controller", title=f"Notify customer c{i}",
                                          recipient_kind="controller", recipient_key=f"c{i}",
                                          anchor_name="aware_at", due_at=now + timedelta(hours=i - 30),
                                          created_at=now))
        session.add_all(obligations)
        session.flush()
        session.add_all(Reminder(obligation_id=obligations[i % len(obligations)].id, kind=ReminderKind.due,
                                 label=f"r{i}", due_at=now - timedelta(minutes=i)) for i in range(reminders))
        session.commit()


def check_exactly_once(engine: sa.Engine, mailbox: Mailbox, total: int) -> None:
    with Session(engine) as session:
        ids = set(session.exec(select(Reminder.id)))
        fired = session.exec(select(func.count()).select_from(Reminder).where(Reminder.fired_at.is_not(None))).one()
        events = list(session.exec(select(TimelineEvent).where(TimelineEvent.kind == "reminder.fired")))
        assert len(ids) == total and fired == total
        per_event = collections.Counter(e.details["reminder_id"] for e in events)
        assert len(events) == total and set(per_event) == ids and set(per_event.values()) == {1}
        for incident_id in session.exec(select(Incident.id)):
            assert verify_incident(session=session, incident_id=incident_id).ok
    per_mail = mailbox.per_header("X-Breachline-Reminder")
    assert sum(per_mail.values()) == total
    assert set(per_mail) == {f"reminder-{i}" for i in ids} and set(per_mail.values()) == {1}


def race(url: str, mailbox: Mailbox, now, tmp_path: Path, *, processes: int = 2) -> list[dict]:
    """Start racing scheduler processes, fire them together, wait for all; return their totals."""
    go = tmp_path / "go"
    procs, readies = [], []
    for i in range(processes):
        ready = tmp_path / f"ready-{i}"
        readies.append(ready)
        procs.append(subprocess.Popen(
            [sys.executable, "-c", RACER, now.isoformat(), f"racer-{i}", str(ready), str(go)],
            cwd=ROOT, env=child_env(url, mailbox, SCHEDULER_BATCH_SIZE=7), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True))
    try:
        deadline = walltime.monotonic() + 60
        while not all(r.exists() for r in readies):
            assert walltime.monotonic() < deadline, "racers did not start"
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            walltime.sleep(0.02)
        go.touch()
        outputs = [p.communicate(timeout=180) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, err
    return [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]


def migrated_sqlite(tmp_path: Path) -> str:
    from app.migrations.models import metadata

    url = f"sqlite:///{tmp_path / 'shared.db'}"
    engine = make_engine(url)
    upgrade(engine)
    metadata.create_all(engine)
    engine.dispose()
    return url


@pytest.mark.postgres
@pytest.mark.slow
def test_two_scheduler_processes_on_postgres_fire_300_reminders_exactly_once(database_url, mailbox, now, tmp_path):
    engine = make_engine(database_url)
    try:
        seed(engine, now, reminders=300)
        totals = race(database_url, mailbox, now, tmp_path)
        assert sum(t["fired"] for t in totals) == 300
        assert sum(t["claimed"] for t in totals) == 300
        assert all(t["failed"] == t["lost"] == t["errors"] == 0 for t in totals)
        assert all(t["fired"] > 0 for t in totals), f"one process did all the work: {totals}"
        check_exactly_once(engine, mailbox, 300)
    finally:
        engine.dispose()


@pytest.mark.slow
def test_two_scheduler_processes_on_one_sqlite_file_fire_300_reminders_exactly_once(mailbox, now, tmp_path):
    url = migrated_sqlite(tmp_path)
    engine = make_engine(url)
    try:
        seed(engine, now, reminders=300)
        totals = race(url, mailbox, now, tmp_path)
        assert sum(t["fired"] for t in totals) == 300 and sum(t["claimed"] for t in totals) == 300
        assert all(t["failed"] == t["lost"] == t["errors"] == 0 for t in totals)
        check_exactly_once(engine, mailbox, 300)
    finally:
        engine.dispose()


def start_scheduler(url: str, mailbox: Mailbox, log: Path, worker: str) -> subprocess.Popen:
    return subprocess.Popen(["breachline", "scheduler", "--interval", "1", "--worker", worker], cwd=ROOT,
                            env=child_env(url, mailbox), stdout=log.open("w"), stderr=subprocess.STDOUT)


def wait_for(condition, what: str, timeout: float = 30):
    deadline = walltime.monotonic() + timeout
    while not condition():
        assert walltime.monotonic() < deadline, f"timed out waiting for {what}"
        walltime.sleep(0.1)


def stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


def fired_count(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM reminder WHERE fired_at IS NOT NULL")).scalar_one()


@pytest.mark.slow
def test_scheduler_process_fires_missed_reminders_and_stops_on_sigterm(database_url, mailbox, tmp_path):
    engine = make_engine(database_url)
    proc = None
    try:
        # The process reads the real clock: everything here was due before it started.
        seed(engine, clock.now(), reminders=10, incidents=1)
        proc = start_scheduler(database_url, mailbox, tmp_path / "scheduler.log", "proc-1")
        wait_for(lambda: fired_count(engine) == 10, "10 reminders fired")
        assert stop(proc) == 0
        log = (tmp_path / "scheduler.log").read_text()
        assert "claimed 10, fired 10, failed 0" in log and "scheduler proc-1 stopped" in log
        check_exactly_once(engine, mailbox, 10)
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
        engine.dispose()


@pytest.mark.postgres
def test_leader_lock_admits_one_scheduler_at_a_time(database_url):
    first, second = (create_app({"DATABASE_URL": database_url, "SECRET_KEY": "x"}) for _ in range(2))
    a, b = LeaderLock(first), LeaderLock(second)
    try:
        assert a.acquire() and not b.acquire()
        assert a.acquire() and not b.acquire()  # still leader on the next tick; standby keeps retrying
        a.release()
        assert b.acquire() and not a.acquire()
    finally:
        a.release()
        b.release()
        for app in (first, second):
            app.extensions["breachline.engine"].dispose()


@pytest.mark.postgres
@pytest.mark.slow
def test_second_scheduler_process_is_standby_until_the_leader_stops(database_url, mailbox, tmp_path):
    engine = make_engine(database_url)
    logs = {name: tmp_path / f"{name}.log" for name in ("one", "two")}
    procs = {}
    try:
        procs["one"] = start_scheduler(database_url, mailbox, logs["one"], "one")
        wait_for(lambda: "scheduler: leader" in logs["one"].read_text(), "the first scheduler to lead")
        procs["two"] = start_scheduler(database_url, mailbox, logs["two"], "two")
        wait_for(lambda: "standby" in logs["two"].read_text(), "the second scheduler to stand by")
        seed(engine, clock.now(), reminders=10, incidents=1)
        wait_for(lambda: fired_count(engine) == 10, "10 reminders fired")
        with engine.connect() as conn:
            workers = set(conn.execute(sa.text("SELECT DISTINCT claimed_by FROM reminder")).scalars())
        assert workers == {"one"}
        assert stop(procs["one"]) == 0
        wait_for(lambda: "scheduler: leader" in logs["two"].read_text(), "the standby to take over")
        assert stop(procs["two"]) == 0
        check_exactly_once(engine, mailbox, 10)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
        engine.dispose()
