"""The tick: due reminders are claimed atomically, sent to the PSIRT mailbox once, and recorded on the timeline."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlmodel import select

from app.clock.models import Obligation, ObligationStatus, Reminder, ReminderKind
from app.clock.reminders import claim_due, describe, mark_fired
from app.core import time as clock
from app.incidents.models import Incident
from app.scheduler import TICK_HOOKS, job_session, run_tick
from app.timeline.models import TimelineEvent
from app.timeline.service import verify_incident
from receivers import Mailbox

PSIRT = "psirt@example.org"


@pytest.fixture
def mailbox():
    box = Mailbox().start()
    yield box
    box.stop()


@pytest.fixture
def psirt_app(app, mailbox):
    """The app configured to mail the PSIRT through the test mailbox."""
    app.config.update(PSIRT_EMAIL=PSIRT, SMTP_HOST="127.0.0.1", SMTP_PORT=mailbox.port, SMTP_TIMEOUT=5,
                      MAIL_FROM="breachline@example.org")
    return app


def add_incident(session, now, n: int = 1, *, drill: bool = False) -> Incident:
    incident = Incident(ref=f"INC-2026-{n:04d}", year=2026, seq=n, title=f"Leak {n}", incident_type="data-leak",
                        detected_at=now - timedelta(days=1), created_at=now, updated_at=now, created_by="lead@x",
                        drill=drill)
    session.add(incident)
    session.flush()
    return incident


def add_obligation(session, incident, now, *, key: str = "", due_in=timedelta(hours=24)) -> Obligation:
    obligation = Obligation(incident_id=incident.id, regime_id="gdpr-art33", stage_id="notify-sa",
                            title=f"Notify the supervisory authority {key}".strip(), recipient_kind="supervisory_authority",
                            recipient_key=key, anchor_name="aware_at", anchor_at=now - timedelta(hours=48),
                            due_at=now + due_in, deadline_rule="72 hours", source="GDPR Art. 33(1)",
                            created_at=now)
    session.add(obligation)
    session.flush()
    return obligation


def add_reminder(session, obligation, due_at, *, label: str = "due", kind=ReminderKind.due, **extra) -> Reminder:
    reminder = Reminder(obligation_id=obligation.id, kind=kind, label=label, due_at=due_at, **extra)
    session.add(reminder)
    session.flush()
    return reminder


def events(session, kind: str) -> list[TimelineEvent]:
    session.rollback()  # end the read transaction: a SQLite snapshot would hide the tick's commits
    session.expire_all()
    return list(session.exec(select(TimelineEvent).where(TimelineEvent.kind == kind)))


def reload(session, reminder_id: int) -> Reminder:
    session.rollback()
    session.expire_all()
    return session.get(Reminder, reminder_id)


def test_due_reminders_fire_once_not_due_wait_cancelled_never(psirt_app, session, now, mailbox):
    incident = add_incident(session, now)
    obligation = add_obligation(session, incident, now)
    past = add_reminder(session, obligation, now - timedelta(hours=1), label="75% of the window",
                        kind=ReminderKind.progress)
    exact = add_reminder(session, obligation, now, label="50% of the window", kind=ReminderKind.progress)
    future = add_reminder(session, obligation, now + timedelta(hours=1), label="due soon")
    cancelled = add_reminder(session, obligation, now - timedelta(hours=2), label="cancelled", cancelled=True)
    session.commit()

    report = run_tick(psirt_app, now=now, worker="w1")

    assert (report.claimed, report.fired, report.failed) == (2, 2, 0)
    assert mailbox.subjects() == sorted(f"INC-2026-0001: {obligation.title} — {label}"
                                        for label in ("75% of the window", "50% of the window"))
    assert all(m["X-Envelope-To"] == PSIRT for m in mailbox.messages)
    assert {m["X-Breachline-Reminder"] for m in mailbox.messages} == {f"reminder-{past.id}", f"reminder-{exact.id}"}
    fired = events(session, "reminder.fired")
    assert sorted(e.details["reminder_id"] for e in fired) == [past.id, exact.id]
    assert all(e.actor == "scheduler" and e.incident_id == incident.id for e in fired)
    assert fired[0].details["obligation"] == obligation.title and "250" in fired[0].details["result"]
    row = reload(session, past.id)
    assert row.fired_at == now and row.claimed_by == "w1" and "250" in row.result
    assert reload(session, future.id).fired_at is None

    assert run_tick(psirt_app, now=now + timedelta(minutes=1), worker="w1").claimed == 0
    later = run_tick(psirt_app, now=now + timedelta(hours=2), worker="w2")
    assert (later.claimed, later.fired) == (1, 1)
    assert len(mailbox.messages) == 3
    assert reload(session, cancelled.id).fired_at is None
    assert len(events(session, "reminder.fired")) == 3
    assert verify_incident(session=session, incident_id=incident.id).ok


def test_scheduler_was_down_past_reminders_fire_exactly_once(psirt_app, session, now, mailbox):
    incident = add_incident(session, now)
    reminders = []
    for i in range(12):
        obligation = add_obligation(session, incident, now, key=f"c{i}", due_in=timedelta(hours=-i))
        reminders.append(add_reminder(session, obligation, now - timedelta(days=3) + timedelta(hours=i),
                                      label=f"reminder {i}"))
    session.commit()

    first = run_tick(psirt_app, now=now, worker="restarted")
    second = run_tick(psirt_app, now=now + timedelta(seconds=30), worker="restarted")

    assert (first.claimed, first.fired, first.failed) == (12, 12, 0)
    assert (second.claimed, second.fired) == (0, 0)
    assert len(mailbox.messages) == 12
    assert len({m["Message-ID"] for m in mailbox.messages}) == 12
    assert len(events(session, "reminder.fired")) == 12
    overdue = [m for m in mailbox.messages if "c5" in str(m["Subject"])][0]
    assert "overdue by 5 h" in overdue.get_content()


def test_claim_takes_over_expired_claims_but_not_fresh_ones(psirt_app, session, now, mailbox):
    incident = add_incident(session, now)
    obligation = add_obligation(session, incident, now)
    crashed = add_reminder(session, obligation, now - timedelta(hours=1), label="crashed",
                           claimed_by="dead-worker", claimed_at=now - timedelta(seconds=301))
    busy = add_reminder(session, obligation, now - timedelta(hours=1), label="busy",
                        claimed_by="live-worker", claimed_at=now - timedelta(seconds=60))
    session.commit()

    report = run_tick(psirt_app, now=now, worker="w1")

    assert (report.claimed, report.fired) == (1, 1)
    assert mailbox.subjects() == [f"INC-2026-0001: {obligation.title} — crashed"]
    assert reload(session, crashed.id).claimed_by == "w1"
    assert reload(session, busy.id).fired_at is None and reload(session, busy.id).claimed_by == "live-worker"
    # The crashed worker comes back and tries to finish: its claim is gone, so nothing is recorded twice.
    with job_session(psirt_app) as s:
        assert not mark_fired(session=s, reminder_id=crashed.id, worker="dead-worker", now=now, result="late")
    assert len(events(session, "reminder.fired")) == 1
    # Once the live worker's lease runs out too, its reminder is taken over.
    assert run_tick(psirt_app, now=now + timedelta(seconds=241), worker="w1").fired == 1
    assert len(mailbox.messages) == 2


def test_claims_are_exclusive_between_workers(psirt_app, session, now):
    incident = add_incident(session, now)
    obligation = add_obligation(session, incident, now)
    for i in range(5):
        add_reminder(session, obligation, now - timedelta(minutes=i), label=f"r{i}")
    session.commit()
    with job_session(psirt_app) as s:
        first = [r.id for r in claim_due(session=s, now=now, worker="a", limit=3)]
    with job_session(psirt_app) as s:
        second = [r.id for r in claim_due(session=s, now=now, worker="b", limit=3)]
    with job_session(psirt_app) as s:
        third = claim_due(session=s, now=now, worker="c")
    assert len(first) == 3 and len(second) == 2 and not set(first) & set(second) and third == []


def test_smtp_down_releases_and_the_next_tick_retries(psirt_app, session, now):
    down = Mailbox()  # a port with nothing listening yet
    psirt_app.config["SMTP_PORT"] = down.port
    incident = add_incident(session, now)
    obligation = add_obligation(session, incident, now)
    reminder = add_reminder(session, obligation, now - timedelta(minutes=5))
    session.commit()

    failed = run_tick(psirt_app, now=now, worker="w1")

    assert (failed.claimed, failed.fired, failed.failed) == (1, 0, 1)
    row = reload(session, reminder.id)
    assert row.fired_at is None and row.claimed_at is None and row.claimed_by == ""
    assert "will retry" in row.result and "connection failed" in row.result
    assert events(session, "reminder.fired") == []

    down.start()
    try:
        retried = run_tick(psirt_app, now=now + timedelta(seconds=30), worker="w1")
        again = run_tick(psirt_app, now=now + timedelta(seconds=60), worker="w1")
    finally:
        down.stop()
    assert (retried.claimed, retried.fired, retried.failed) == (1, 1, 0)
    assert again.claimed == 0
    assert len(down.messages) == 1
    assert reload(session, reminder.id).fired_at == now + timedelta(seconds=30)
    assert len(events(session, "reminder.fired")) == 1


def test_no_channel_configured_fires_with_that_result_and_warns_once(app, session, now, caplog):
    import app.notifications.channels.psirt as psirt

    psirt._warned_no_channel = False
    incident = add_incident(session, now)
    obligation = add_obligation(session, incident, now)
    first = add_reminder(session, obligation, now - timedelta(minutes=2))
    add_reminder(session, obligation, now - timedelta(minutes=1))
    session.commit()

    report = run_tick(app, now=now, worker="w1")

    assert (report.claimed, report.fired, report.undelivered, report.failed) == (2, 2, 2, 0)
    assert "no PSIRT channel configured" in reload(session, first.id).result
    assert "no PSIRT channel configured" in events(session, "reminder.fired")[0].details["result"]
    assert sum("no PSIRT channel configured" in r.message for r in caplog.records if r.levelname == "WARNING") == 1


def test_escalation_records_obligation_escalated(psirt_app, session, now, mailbox):
    incident = add_incident(session, now)
    obligation = add_obligation(session, incident, now, due_in=timedelta(hours=-1))
    add_reminder(session, obligation, now - timedelta(minutes=1), label="1 h overdue", kind=ReminderKind.escalation)
    session.commit()

    assert run_tick(psirt_app, now=now, worker="w1").fired == 1

    assert len(events(session, "reminder.fired")) == 1
    escalated = events(session, "obligation.escalated")
    assert len(escalated) == 1 and escalated[0].details["label"] == "1 h overdue"
    assert verify_incident(session=session, incident_id=incident.id).ok


def test_settled_obligation_cancels_its_claimed_reminder(psirt_app, session, now, mailbox):
    incident = add_incident(session, now)
    obligation = add_obligation(session, incident, now)
    obligation.status = ObligationStatus.met
    reminder = add_reminder(session, obligation, now - timedelta(minutes=1))
    session.commit()

    report = run_tick(psirt_app, now=now, worker="w1")

    assert (report.claimed, report.fired, report.cancelled) == (1, 0, 1)
    assert mailbox.messages == []
    row = reload(session, reminder.id)
    assert row.cancelled and row.fired_at is None and "obligation already met" in row.result


def test_drill_goes_to_the_drill_address_marked(psirt_app, session, now, mailbox):
    psirt_app.config["DRILL_EMAIL"] = "drill@example.org"
    incident = add_incident(session, now, drill=True)
    obligation = add_obligation(session, incident, now)
    add_reminder(session, obligation, now)
    session.commit()

    run_tick(psirt_app, now=now, worker="w1")

    [message] = mailbox.messages
    assert message["X-Envelope-To"] == "drill@example.org"
    assert str(message["Subject"]).startswith("[DRILL] INC-2026-0001")
    assert message["X-Breachline-Drill"] == "yes"
    assert "DRILL" in message.get_content()


def test_describe_names_incident_obligation_deadline_and_link(session, now):
    incident = add_incident(session, now, n=7)
    obligation = add_obligation(session, incident, now, due_in=timedelta(hours=26, minutes=15))
    reminder = add_reminder(session, obligation, now, label="50% of the window", kind=ReminderKind.progress)

    subject, text, payload = describe(reminder, obligation, incident, now=now)

    assert subject == "INC-2026-0007: Notify the supervisory authority — 50% of the window"
    assert "INC-2026-0007 Leak 7" in text
    assert "due 2026-03-03 11:45 UTC, 1 d 2 h left" in text
    assert "/incidents/INC-2026-0007" in text and "DRILL" not in text
    assert payload["incident"]["link"] == "/incidents/INC-2026-0007"
    assert payload["obligation"]["due_at"] == "2026-03-03T11:45:00Z"
    assert payload["seconds_left"] == 26 * 3600 + 15 * 60
    _, late, late_payload = describe(reminder, obligation, incident, now=now + timedelta(hours=30))
    assert "overdue by 3 h 45 min" in late and late_payload["seconds_left"] < 0


def test_tick_hooks_run_and_a_broken_one_is_contained(app, now, monkeypatch):
    seen = []

    def outbox(app_, now_, worker):
        seen.append((now_, worker))
        return {"sent": 0}

    def broken(app_, now_, worker):
        raise RuntimeError("boom")

    monkeypatch.setattr("app.scheduler.TICK_HOOKS", [broken, outbox])
    report = run_tick(app, now=now, worker="w1")
    assert seen == [(now, "w1")]
    assert report.hooks == {"broken": {"error": "RuntimeError: boom"}, "outbox": {"sent": 0}}
    assert broken not in TICK_HOOKS and outbox not in TICK_HOOKS  # issue 4: the real list holds the dispatcher


def test_cli_scheduler_once(psirt_app, session, now, mailbox, runner):
    incident = add_incident(session, now)
    obligation = add_obligation(session, incident, now)
    # The CLI reads the real clock, so these are due relative to it.
    add_reminder(session, obligation, clock.now() - timedelta(minutes=1))
    add_reminder(session, obligation, clock.now() - timedelta(minutes=2), label="earlier")
    session.commit()

    result = psirt_app.test_cli_runner().invoke(args=["scheduler", "--once", "--worker", "cli-1"])

    assert result.exit_code == 0, result.output
    assert "cli-1: claimed 2, fired 2, failed 0" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert len(mailbox.messages) == 2
    again = psirt_app.test_cli_runner().invoke(args=["scheduler", "--once"])
    assert again.exit_code == 0 and "claimed 0, fired 0, failed 0" in again.output


@pytest.fixture
def receiver():
    """A real HTTP receiver on 127.0.0.1: answers each POST with the next queued status (then 200)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    got, statuses = [], []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            got.append((dict(self.headers), self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(statuses.pop(0) if statuses else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/psirt", got, statuses
    server.shutdown()
    server.server_close()


def test_webhook_is_signed_and_a_5xx_is_retried(app, session, now, receiver):
    import json

    from app.notifications.channels.webhook import verify

    url, got, statuses = receiver
    app.config.update(PSIRT_WEBHOOK_URL=url, PSIRT_WEBHOOK_SECRET="s3cret", WEBHOOK_ALLOWED_HOSTS={"127.0.0.1"})
    statuses.append(503)
    incident = add_incident(session, now)
    reminder = add_reminder(session, add_obligation(session, incident, now), now)
    session.commit()

    first = run_tick(app, now=now, worker="w1")
    second = run_tick(app, now=now + timedelta(seconds=30), worker="w1")

    assert (first.failed, first.fired, second.fired) == (1, 0, 1)
    assert len(got) == 2 and got[0][0]["webhook-id"] == got[1][0]["webhook-id"] == f"reminder-{reminder.id}"
    headers, body = got[1]
    assert verify("s3cret", headers, body, now=now + timedelta(seconds=30))
    payload = json.loads(body)
    assert payload["type"] == "breachline.reminder" and payload["incident"]["ref"] == "INC-2026-0001"
    assert "HTTP 200" in reload(session, reminder.id).result


def test_describe_keeps_a_restricted_incidents_title_out_of_the_psirt_mailbox(session, now):
    incident = add_incident(session, now, n=8)
    incident.restricted = True
    obligation = add_obligation(session, incident, now, due_in=timedelta(hours=5))
    reminder = add_reminder(session, obligation, now, label="50% of the window", kind=ReminderKind.progress)

    subject, text, payload = describe(reminder, obligation, incident, now=now)

    assert "Leak 8" not in subject + text + str(payload)
    assert "INC-2026-0008 (restricted incident" in text
    assert payload["incident"]["restricted"] is True and payload["incident"]["ref"] == "INC-2026-0008"
