"""Dispatcher processes: SIGKILL mid-batch and restart loses nothing; two dispatchers on PostgreSQL send each notice once."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time as walltime
from datetime import timedelta
from pathlib import Path

import pytest
from receivers import Mailbox, Receiver
from notice_world import SECRET, approve_all, build_world, configure, dispatch, draft, notifications, session_of
from sqlmodel import select

from app.core import time as clock
from app.datamap.models import Controller
from app.db import make_engine
from app.incidents.models import Incident
from app.clock.models import Obligation
from app.notifications.models import DeliveryAttempt, Notification, OutboxItem
from app.timeline.service import append, verify_incident

ROOT = Path(__file__).resolve().parents[2]

# One dispatcher process: optionally wait for a starting gun, then run passes at the injected `now` until idle.
DISPATCHER = r"""
import json, os, sys, time
from datetime import datetime
from app import create_app
from app.flows.dispatch import dispatch_outbox

now, worker, ready, go = datetime.fromisoformat(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
app = create_app()
with app.app_context():
    from app import runtime
    runtime.regimes()  # parse the playbooks before the race starts
if ready:
    open(ready, "w").close()
    while not os.path.exists(go):
        time.sleep(0.005)
totals = {}
while True:
    report = dispatch_outbox(app, now, worker)
    for key, value in report.items():
        if isinstance(value, int):
            totals[key] = totals.get(key, 0) + value
    if report["claimed"] == 0:
        break
print(json.dumps(totals))
"""


@pytest.fixture
def database_url(_template_db, tmp_path):
    """conftest's database_url with quoted table names in the PostgreSQL cleanup ("user" is reserved)."""
    PG_URL = os.environ.get("BREACHLINE_DATABASE_URL", "")
    if not PG_URL.startswith("postgresql"):
        path = tmp_path / "breachline.db"
        shutil.copy(_template_db, path)
        yield f"sqlite:///{path}"
        return
    yield PG_URL
    engine = make_engine(PG_URL)
    with engine.begin() as conn:
        tables = [r[0] for r in conn.exec_driver_sql(
            "SELECT tablename FROM pg_tables WHERE schemaname='public' AND tablename <> 'alembic_version'")]
        if tables:
            conn.exec_driver_sql(f"TRUNCATE {', '.join(chr(34) + t + chr(34) for t in tables)} RESTART IDENTITY CASCADE")
    engine.dispose()


def child_env(app, mailbox: Mailbox, **extra) -> dict:
    env = {**os.environ, "BREACHLINE_DATABASE_URL": app.config["DATABASE_URL"], "BREACHLINE_SECRET_KEY": "test-secret",
           "BREACHLINE_SMTP_HOST": "127.0.0.1", "BREACHLINE_SMTP_PORT": str(mailbox.port),
           "BREACHLINE_MAIL_FROM": "psirt@breachline.example.org", "BREACHLINE_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
           "BREACHLINE_PSIRT_EMAIL": "psirt@breachline.example.org",
           "BREACHLINE_PUBLIC_BASE_URL": "https://breachline.example.org",
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.update({f"BREACHLINE_{k}": str(v) for k, v in extra.items()})
    return env


def start(now, worker: str, env: dict, ready: str = "", go: str = "") -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", DISPATCHER, now.isoformat(), worker, ready, go], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def test_a_dispatcher_killed_mid_batch_loses_nothing_and_duplicates_keep_their_ids(app):
    now = clock.now()  # the receiver checks signature timestamps within 5 minutes
    mailbox, receiver = Mailbox(delay=0.25).start(), Receiver(delay=0.25).start()
    try:
        configure(app, mailbox=mailbox, DISPATCH_LEASE_SECONDS=60, DISPATCH_BATCH_SIZE=8)
        world = build_world(app, now, 12, webhook_base=receiver.url(""))
        receiver.secrets = {c.webhook_path: SECRET for c in world.customers}
        receiver.now = now
        draft(app, world.incident_id, now)
        approve_all(app, world.incident_id, now)
        env = child_env(app, mailbox, DISPATCH_BATCH_SIZE=8, DISPATCH_LEASE_SECONDS=60)
        proc = start(now, "doomed", env)
        deadline = walltime.monotonic() + 90
        while len(mailbox.messages) + len(receiver.hits) < 3:
            assert proc.poll() is None, proc.communicate()
            assert walltime.monotonic() < deadline, "the dispatcher never got going"
            walltime.sleep(0.02)
        proc.send_signal(signal.SIGKILL)  # mid-batch: messages sent, none of them recorded yet
        proc.wait(timeout=30)
        with session_of(app) as session:
            claimed = session.exec(select(OutboxItem).where(OutboxItem.claimed_by == "doomed")).all()
            unclaimed = session.exec(select(OutboxItem).where(OutboxItem.status == "pending",
                                                              OutboxItem.claimed_by == "")).all()
        assert claimed, "the kill left claimed rows behind"
        sent_before = len(mailbox.messages) + len(receiver.hits)
        mailbox.delay = receiver.delay = 0
        # Restarted within the lease, the dead worker's rows are not taken yet; once it has run out they are.
        early = dispatch_until_idle(app, now + timedelta(seconds=10), "early")
        assert early["claimed"] == len(unclaimed)
        late = dispatch_until_idle(app, now + timedelta(seconds=61), "survivor")
        assert late["claimed"] == len(claimed)
    finally:
        mailbox.stop()
        receiver.stop()
    items = notifications(app, world.incident_id)
    assert len(items) == 12 and {n.status for n in items} == {"delivered"}
    expected_mail = {f"<notification-{n.uid}@breachline.example.org>" for n in items}
    assert set(mailbox.ids()) == expected_mail, "every email arrived, only ours"
    assert set(receiver.ids()) == {n.uid for n in items}, "every webhook arrived, correctly signed"
    assert all(h["valid"] for h in receiver.hits)
    duplicates = sum(mailbox.ids().values()) + sum(receiver.ids().values()) - 24
    assert duplicates <= sent_before, "only what the killed worker sent unrecorded is sent twice, with the same ids"
    with session_of(app) as session:
        assert not session.exec(select(OutboxItem).where(OutboxItem.status != "delivered")).all()
        assert verify_incident(session=session, incident_id=world.incident_id).ok
        for n in items:
            assert session.get(Obligation, n.obligation_id).met_at == n.delivered_at


def dispatch_until_idle(app, now, worker: str) -> dict:
    """The restarted dispatcher: passes at `now` until nothing is left to claim."""
    totals: dict = {}
    while True:
        report = dispatch(app, now, worker)
        for key, value in report.items():
            if isinstance(value, int):
                totals[key] = totals.get(key, 0) + value
        if report["claimed"] == 0:
            return totals


def seed_queued(app, now, total: int, hook_base: str) -> list[str]:
    """`total` queued notices straight into the outbox: even ones by email, odd ones by webhook."""
    with session_of(app) as session:
        incident = Incident(ref="INC-2026-0500", year=2026, seq=500, title="Mass notice", incident_type="x",
                            detected_at=now - timedelta(hours=2), aware_at=now - timedelta(hours=1), created_at=now,
                            updated_at=now, created_by="lead@example.org")
        session.add(incident)
        session.flush()
        append(session=session, incident_id=incident.id, kind="incident.created", summary="Mass notice declared",
               actor="lead@example.org", recorded_at=now)  # every real incident's chain starts when it is declared
        controllers = [Controller(key=f"c{i:04d}", name=f"Customer {i}", country="DE", webhook_secret=SECRET,
                                  webhook_url=f"{hook_base}/hooks/c{i:04d}") for i in range(total)]
        session.add_all(controllers)
        session.flush()
        obligations = [Obligation(incident_id=incident.id, regime_id="gdpr-art33-2", stage_id="notify-controller",
                                  title=f"Notify {c.name}", recipient_kind="controller", recipient_key=c.key,
                                  controller_id=c.id, anchor_name="aware_at", created_at=now) for c in controllers]
        session.add_all(obligations)
        session.flush()
        uids = []
        for i, (c, ob) in enumerate(zip(controllers, obligations)):
            uid = f"ntf_race{chr(97 + i // 26 // 26 % 26)}{chr(97 + i // 26 % 26)}{chr(97 + i % 26)}"
            uids.append(uid)
            session.add(Notification(uid=uid, incident_id=incident.id, obligation_id=ob.id, controller_id=c.id,
                                     recipient_key=c.key, kind="processor_to_controller", phase="initial",
                                     status="queued", subject=f"Notice {i}", text=f"Notice {i}",
                                     payload={"type": "breach.notification", "n": i}, issued_at=now,
                                     drafted_by="r@example.org", drafted_at=now, updated_at=now,
                                     approved_by="l@example.org", approved_at=now, queued_at=now))
        session.flush()
        ids = dict(session.exec(select(Notification.uid, Notification.id)).all())
        for i, uid in enumerate(uids):
            session.add(OutboxItem(notification_id=ids[uid], channel="email" if i % 2 == 0 else "webhook",
                                   addresses=[f"dpo@c{i:04d}.example"] if i % 2 == 0 else [],
                                   url=None if i % 2 == 0 else f"{hook_base}/hooks/c{i:04d}",
                                   next_attempt_at=now, give_up_at=now + timedelta(hours=24), created_at=now))
        session.commit()
    return uids


@pytest.mark.postgres
@pytest.mark.slow
def test_two_dispatchers_on_postgresql_deliver_each_of_500_notices_exactly_once(app, tmp_path):
    now = clock.now()
    mailbox, receiver = Mailbox().start(), Receiver().start()
    try:
        uids = seed_queued(app, now, 500, receiver.url(""))
        receiver.secrets = {f"/hooks/c{i:04d}": SECRET for i in range(500)}
        receiver.now = now
        env = child_env(app, mailbox, DISPATCH_BATCH_SIZE=25, DISPATCH_MAX_BATCHES=4)
        go = tmp_path / "go"
        readies = [tmp_path / f"ready-{i}" for i in range(2)]
        procs = [start(now, f"racer-{i}", env, str(readies[i]), str(go)) for i in range(2)]
        try:
            deadline = walltime.monotonic() + 90
            while not all(r.exists() for r in readies):
                assert walltime.monotonic() < deadline and all(p.poll() is None for p in procs)
                walltime.sleep(0.02)
            go.touch()
            totals = [finish(p) for p in procs]
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
    finally:
        mailbox.stop()
        receiver.stop()
    assert sum(t["claimed"] for t in totals) == 500 and sum(t.get("delivered", 0) for t in totals) == 500
    assert all(t["claimed"] > 0 for t in totals), f"both dispatchers worked: {totals}"
    mail = mailbox.ids()
    assert len(mail) == 250 and set(mail.values()) == {1}
    assert set(mail) == {f"<notification-{u}@breachline.example.org>" for u in uids[0::2]}
    hooks = receiver.ids()
    assert set(hooks) == set(uids[1::2]) and set(hooks.values()) == {1}
    with session_of(app) as session:
        assert {n.status for n in session.exec(select(Notification))} == {"delivered"}
        assert len(session.exec(select(DeliveryAttempt)).all()) == 500
        assert verify_incident(session=session, incident_id=session.exec(select(Incident.id)).one()).ok
