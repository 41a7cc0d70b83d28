"""Nothing lost: retries with backoff while a receiver is down, 5xx then 2xx, Retry-After, exhaustion, 410, escalation."""

from __future__ import annotations

from datetime import timedelta

from receivers import Mailbox
from notice_world import SECRET, approve_all, build_world, configure, dispatch, draft, notifications, session_of
from sqlmodel import select

from app.clock.models import Obligation
from app.notifications.models import DeliveryAttempt, OutboxItem, WebhookEndpointState
from app.notifications.outbox import backoff_seconds
from app.timeline.models import TimelineEvent


def outbox_rows(app):
    with session_of(app) as session:
        return list(session.exec(select(OutboxItem).order_by(OutboxItem.id)))


def next_due(app):
    return max(r.next_attempt_at for r in outbox_rows(app) if r.status == "pending")


def hook_world(app, now, receiver, n=1, **kwargs):
    world = build_world(app, now, n, webhook_base=receiver.url(""), emails=False, **kwargs)
    receiver.secrets = {c.webhook_path: SECRET for c in world.customers}
    receiver.now = now
    draft(app, world.incident_id, now)
    approve_all(app, world.incident_id, now)
    return world


def test_backoff_is_exponential_with_full_jitter_capped_and_honours_retry_after():
    assert backoff_seconds(1, base=30, cap=3600, retry_after=None, rand=lambda: 1.0) == 30
    assert backoff_seconds(4, base=30, cap=3600, retry_after=None, rand=lambda: 1.0) == 240
    assert backoff_seconds(20, base=30, cap=3600, retry_after=None, rand=lambda: 1.0) == 3600
    assert backoff_seconds(3, base=30, cap=3600, retry_after=None, rand=lambda: 0.25) == 30
    assert backoff_seconds(1, base=30, cap=3600, retry_after=900, rand=lambda: 0.5) == 900


def test_smtp_down_for_a_while_then_back_delivers_every_notice(app, now):
    box = Mailbox()  # not started: nothing listens on its port
    configure(app, mailbox=box)
    world = build_world(app, now, 3)
    draft(app, world.incident_id, now)
    approve_all(app, world.incident_id, now)
    first = dispatch(app, now)
    assert first["claimed"] == 3 and first["retry"] == 3
    rows = outbox_rows(app)
    assert all(r.status == "pending" and r.attempts == 1 and "connection failed" in r.last_error for r in rows)
    assert all(now <= r.next_attempt_at <= now + timedelta(seconds=31) for r in rows)
    assert dispatch(app, now - timedelta(seconds=1))["claimed"] == 0  # nothing is due before its next attempt
    second = next_due(app)
    assert dispatch(app, second)["retry"] == 3  # still down
    box.start()
    try:
        done = dispatch(app, next_due(app))
        assert done["delivered"] == 3
        assert len(box.messages) == 3 and len(set(box.ids())) == 3
    finally:
        box.stop()
    with session_of(app) as session:
        attempts = session.exec(select(DeliveryAttempt).order_by(DeliveryAttempt.id)).all()
        assert [a.outcome for a in attempts] == ["retry"] * 6 + ["delivered"] * 3
        for n in notifications(app, world.incident_id):
            assert n.status == "delivered"
            assert session.get(Obligation, n.obligation_id).met_at == n.delivered_at


def test_webhook_500s_then_200_is_delivered_and_429_retry_after_is_honoured(app, now, receiver):
    configure(app)
    world = hook_world(app, now, receiver)
    path = world.customers[0].webhook_path
    receiver.script[path] = [(500, {}), (429, {"Retry-After": "600"}), (200, {})]
    assert dispatch(app, now)["retry"] == 1
    at = next_due(app)
    receiver.now = at
    assert dispatch(app, at)["retry"] == 1
    [row] = outbox_rows(app)
    assert row.next_attempt_at >= at + timedelta(seconds=600), "Retry-After: 600 is honoured"
    receiver.now = row.next_attempt_at
    assert dispatch(app, row.next_attempt_at)["delivered"] == 1
    assert [h["id"] for h in receiver.hits] == [notifications(app)[0].uid] * 3, "every retry carries the same webhook-id"
    assert notifications(app)[0].status == "delivered"


def test_retries_exhausted_fail_the_notice_and_escalate_to_the_psirt(app, now, receiver, mailbox):
    configure(app, mailbox=mailbox, DELIVERY_RETRY_HOURS=2)
    world = hook_world(app, now, receiver, n=2)
    receiver.default = 503
    at = now
    for _ in range(40):
        receiver.now = at
        dispatch(app, at)
        pending = [r for r in outbox_rows(app) if r.status == "pending"]
        if not pending:
            break
        at = max(r.next_attempt_at for r in pending)
    assert at <= now + timedelta(hours=2, seconds=1)
    for n in notifications(app, world.incident_id):
        assert n.status == "failed" and "retries exhausted" in n.error and n.escalated_at is not None
    psirt = [m for m in mailbox.messages if m["To"] == "psirt@breachline.example.org"]
    assert len(psirt) == 2 and all("needs attention" in m["Subject"] for m in psirt)
    with session_of(app) as session:
        kinds = [e.kind for e in session.exec(select(TimelineEvent).where(TimelineEvent.kind.in_(
            ["notification.failed", "notification.escalated"])))]
        assert sorted(kinds) == ["notification.escalated"] * 2 + ["notification.failed"] * 2
        assert {session.get(Obligation, n.obligation_id).status for n in notifications(app)} == {"open"}
    dispatch(app, at + timedelta(hours=1))
    assert len([m for m in mailbox.messages if m["To"] == "psirt@breachline.example.org"]) == 2, "escalated once"


def test_410_disables_the_customers_webhook_and_escalates(app, now, receiver, mailbox):
    configure(app, mailbox=mailbox)
    world = build_world(app, now, 1, webhook_base=receiver.url(""))
    receiver.secrets, receiver.now = {world.customers[0].webhook_path: SECRET}, now
    receiver.script[world.customers[0].webhook_path] = [(410, {})]
    draft(app, world.incident_id, now)
    approve_all(app, world.incident_id, now)
    report = dispatch(app, now)
    assert report["delivered"] == 1 and report["failed"] == 1 and report["escalated"] == 1
    [n] = notifications(app, world.incident_id)
    assert n.status == "delivered", "the email still reached the customer"
    with session_of(app) as session:
        state = session.get(WebhookEndpointState, world.customers[0].id)
        assert state is not None and state.url.endswith(world.customers[0].webhook_path)
        assert session.exec(select(TimelineEvent).where(TimelineEvent.kind == "webhook.endpoint_disabled")).one()
    psirt = [m for m in mailbox.messages if m["To"] == "psirt@breachline.example.org"]
    assert len(psirt) == 1 and "410" in psirt[0].get_content()


def test_a_refused_address_fails_alone_and_the_batch_goes_on(app, now, mailbox):
    configure(app, mailbox=mailbox)
    world = build_world(app, now, 3)
    from app.datamap.models import Controller

    with session_of(app) as session:
        c = session.get(Controller, world.customers[1].id)
        c.notify_emails = ["bounce@kq001-tenant.example"]
        session.add(c)
        session.commit()
    draft(app, world.incident_id, now)
    approve_all(app, world.incident_id, now)
    report = dispatch(app, now)
    assert report["delivered"] == 2 and report["failed"] == 1
    by_key = {n.recipient_key: n for n in notifications(app, world.incident_id)}
    assert by_key["kq001-tenant"].status == "failed" and "550" in by_key["kq001-tenant"].error
    assert by_key["kq000-tenant"].status == by_key["kq002-tenant"].status == "delivered"


def test_a_malformed_message_fails_alone_and_the_smtp_batch_goes_on(app, now, mailbox):
    from app.notifications.models import Notification

    configure(app, mailbox=mailbox)
    world = build_world(app, now, 3)
    draft(app, world.incident_id, now)
    approve_all(app, world.incident_id, now)
    broken = notifications(app, world.incident_id)[1]
    with session_of(app) as session:  # written around the edit validation, as a bad template could
        row = session.get(Notification, broken.id)
        row.subject = "Line one\nBcc: everyone@example.org"
        session.add(row)
        session.commit()
    report = dispatch(app, now)
    assert report["delivered"] == 2 and report["failed"] == 1
    failed = next(n for n in notifications(app, world.incident_id) if n.id == broken.id)
    assert failed.status == "failed" and "message not sendable" in failed.error
    assert len(mailbox.messages) == 2 + 1  # two customers and the PSIRT escalation
