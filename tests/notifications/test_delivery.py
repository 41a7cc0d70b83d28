"""Delivery against real receivers: email and signed webhook, the obligation met at delivery, acks, drills, API."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from jsonschema import Draft202012Validator, FormatChecker
from notice_world import approve_all, build_world, configure, dispatch, draft, notifications, session_of
from sqlmodel import select

from app.clock.models import Obligation
from app.core import time as clock
from app.notifications.acks import ack_token
from app.notifications.models import Acknowledgement, DeliveryAttempt
from app.notifications.payload import load_schema
from app.timeline.models import TimelineEvent
from app.timeline.service import verify_incident

VALIDATOR = Draft202012Validator(load_schema(), format_checker=FormatChecker())


def test_email_and_signed_webhook_arrive_and_the_obligation_is_met_at_delivery(app, now, mailbox, receiver):
    configure(app, mailbox=mailbox)
    world = build_world(app, now, 3, webhook_base=receiver.url(""))
    receiver.secrets = {c.webhook_path: "whsec_YnJlYWNobGluZS10ZXN0LWtleS0zMi1ieXRlcy1sb25n" for c in world.customers}
    receiver.now = now
    draft(app, world.incident_id, now)
    approve_all(app, world.incident_id, now)
    report = dispatch(app, now)
    assert report["claimed"] == 6 and report["delivered"] == 6
    items = {n.recipient_key: n for n in notifications(app, world.incident_id)}
    # Email: multipart text + HTML, our stable Message-ID, the ack link, only the customer's own address.
    assert len(mailbox.messages) == 3
    for message, rcpts in zip(mailbox.messages, mailbox.envelopes):
        n = next(n for n in items.values() if n.uid == message["X-Breachline-Notification"])
        assert message["Message-ID"] == f"<notification-{n.uid}@breachline.example.org>"
        assert rcpts == [f"dpo@{n.recipient_key}.example"]
        assert message.get_content_type() == "multipart/alternative"
        parts = {p.get_content_type(): p.get_content() for p in message.iter_parts()}
        link = re.search(r"https://breachline\.example\.org/ack/\S+", parts["text/plain"]).group(0)
        assert link in parts["text/html"] and link == n.payload["data"]["acknowledgement_url"]
        assert message["Subject"] == n.subject
    # Webhook: Standard Webhooks headers verified by the receiver, webhook-id = the notice uid, schema-valid body.
    assert len(receiver.hits) == 3 and all(h["valid"] for h in receiver.hits)
    for hit in receiver.hits:
        body = json.loads(hit["body"])
        assert not list(VALIDATOR.iter_errors(body))
        assert hit["id"] == body["data"]["notification_id"] == items[body["data"]["controller"]["key"]].uid
        assert hit["path"] == f"/hooks/{body['data']['controller']['key']}"
    with session_of(app) as session:
        for n in items.values():
            assert n.status == "delivered"
            ob = session.get(Obligation, n.obligation_id)
            assert ob.status == "met" and ob.met_at == n.delivered_at
            assert now <= n.delivered_at < now + timedelta(seconds=30)
            # The customer's own Art. 33(1) clock now runs from our notice.
            theirs = session.exec(select(Obligation).where(Obligation.stage_id == "customer-notify-sa",
                                                           Obligation.recipient_key == n.recipient_key)).one()
            assert theirs.anchor_at == n.delivered_at and theirs.due_at == n.delivered_at + timedelta(hours=72)
        attempts = session.exec(select(DeliveryAttempt)).all()
        assert len(attempts) == 6 and all(a.ok and a.outcome == "delivered" for a in attempts)
        assert {a.status_code for a in attempts} == {200, 250}
        kinds = [e.kind for e in session.exec(select(TimelineEvent).where(TimelineEvent.incident_id == world.incident_id))]
        # Every attempt is on the timeline: the one that delivered a notice as notification.delivered.
        assert kinds.count("notification.attempt") == 3 and kinds.count("notification.delivered") == 3
        assert kinds.count("obligation.met") == 3
        assert verify_incident(session=session, incident_id=world.incident_id).ok
    assert dispatch(app, now + timedelta(minutes=1))["claimed"] == 0


def test_the_ack_link_records_receipt_once_expires_and_refuses_tampering(app, mailbox, client, count_rows):
    now = clock.now()  # the ack page reads the real clock
    configure(app, mailbox=mailbox)
    world = build_world(app, now, 2)
    draft(app, world.incident_id, now)
    approve_all(app, world.incident_id, now)
    dispatch(app, now)
    first = notifications(app, world.incident_id)[0]
    path = first.payload["data"]["acknowledgement_url"].removeprefix("https://breachline.example.org")
    page = client.get(path)
    assert page.status_code == 200 and "Confirm receipt" in page.get_data(as_text=True)
    confirmed = client.post(path, data={"contact_name": "Dana Privacy", "contact": "+49 30 555"})
    assert confirmed.status_code == 302
    assert "Receipt confirmed" in client.get(path).get_data(as_text=True)
    client.post(path, data={"contact_name": "Someone else"})
    assert count_rows("acknowledgement") == 1
    with session_of(app) as session:
        ack = session.exec(select(Acknowledgement)).one()
        event = session.exec(select(TimelineEvent).where(TimelineEvent.kind == "notification.acknowledged")).one()
    assert ack.contact_name == "Dana Privacy" and ack.controller_id == first.controller_id
    assert event.controller_id == first.controller_id and "Dana Privacy" in event.summary
    # A tampered token and an expired one are refused and record nothing.
    token = path.rsplit("/", 1)[1]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.get(f"/ack/{tampered}").status_code == 400
    assert client.post(f"/ack/{tampered}").status_code == 400
    stale = ack_token(secret_key="test-secret", uid=notifications(app, world.incident_id)[1].uid,
                      signed_at=now - timedelta(days=31))
    expired = client.get(f"/ack/{stale}")
    assert expired.status_code == 410 and "expired" in expired.get_data(as_text=True)
    assert client.post(f"/ack/{stale}").status_code == 410
    forged = ack_token(secret_key="not-our-secret", uid=notifications(app, world.incident_id)[1].uid, signed_at=now)
    assert client.get(f"/ack/{forged}").status_code == 400
    assert count_rows("acknowledgement") == 1


def test_the_ack_post_needs_its_csrf_token(app, mailbox):
    now = clock.now()
    configure(app, mailbox=mailbox, WTF_CSRF_ENABLED=True)
    world = build_world(app, now, 1)
    draft(app, world.incident_id, now)
    approve_all(app, world.incident_id, now)
    dispatch(app, now)
    [n] = notifications(app, world.incident_id)
    path = n.payload["data"]["acknowledgement_url"].removeprefix("https://breachline.example.org")
    client = app.test_client()
    assert client.post(path, data={"contact_name": "x"}).status_code == 400
    page = client.get(path).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post(path, data={"csrf_token": token}).status_code == 302


def test_unacknowledged_customers_are_flagged_after_the_configured_time(app, mailbox, client, make_user, login):
    now = clock.now()
    configure(app, mailbox=mailbox, ACK_FLAG_AFTER_HOURS=1)
    world = build_world(app, now - timedelta(hours=3), 2)
    draft(app, world.incident_id, now - timedelta(hours=2))
    approve_all(app, world.incident_id, now - timedelta(hours=2))
    dispatch(app, now - timedelta(hours=2))
    login(make_user("viewer", email="viewer@example.org"))
    page = client.get(f"/incidents/{world.ref}/notifications").get_data(as_text=True)
    assert "2 customer(s) have not confirmed receipt" in page and page.count("no receipt yet") == 2
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert "2 without receipt" in dashboard


def test_a_drill_goes_only_to_the_drill_targets_and_says_drill(app, now, mailbox, receiver):
    configure(app, mailbox=mailbox, DRILL_EMAIL="drill-box@breachline.example.org",
              DRILL_WEBHOOK_URL=receiver.url("/drill"), DRILL_WEBHOOK_SECRET="drill-secret")
    receiver.secrets, receiver.now = {"/drill": "drill-secret"}, now
    world = build_world(app, now, 3, drill=True, webhook_base="http://127.0.0.1:9")
    draft(app, world.incident_id, now)
    approve_all(app, world.incident_id, now)
    dispatch(app, now)
    assert {n.status for n in notifications(app, world.incident_id)} == {"delivered"}
    assert [rcpts for rcpts in mailbox.envelopes] == [["drill-box@breachline.example.org"]] * 3
    assert all("DRILL" in m["Subject"] and m["X-Breachline-Drill"] == "yes" for m in mailbox.messages)
    assert [h["path"] for h in receiver.hits] == ["/drill"] * 3 and all(h["valid"] for h in receiver.hits)
    assert all(json.loads(h["body"])["data"]["drill"] is True for h in receiver.hits)


def test_a_drill_without_drill_targets_fails_clearly_and_never_reaches_customers(app, now, mailbox):
    configure(app, mailbox=mailbox, DRILL_EMAIL=None, DRILL_WEBHOOK_URL=None)
    world = build_world(app, now, 2, drill=True)
    draft(app, world.incident_id, now)
    approve_all(app, world.incident_id, now)
    dispatch(app, now)
    for n in notifications(app, world.incident_id):
        assert n.status == "failed" and "DRILL_EMAIL" in n.error
    assert all(m["X-Breachline-Notification"] is None for m in mailbox.messages)  # only the PSIRT, never a customer


def test_the_api_drafts_lists_reads_edits_approves_and_cancels(app, mailbox, client, make_user, token_for):
    now = clock.now()
    configure(app, mailbox=mailbox)
    world = build_world(app, now, 3)
    responder = token_for(make_user("responder", email="responder@example.org"))
    lead = token_for(make_user("lead", email="lead@example.org"))
    created = client.post(f"/api/v1/incidents/{world.ref}/notifications", headers=responder)
    assert created.status_code == 201
    rows = created.get_json()
    assert [set(r) >= {"id", "controller", "obligation", "phase", "status", "missing"} for r in rows] == [True] * 3
    assert {r["controller"] for r in rows} == {c.key for c in world.customers}
    assert all(r["phase"] == "initial" and r["status"] == "draft" and "measures" in r["missing"] for r in rows)
    again = client.post(f"/api/v1/incidents/{world.ref}/notifications", headers=responder)
    assert again.status_code == 200 and {r["action"] for r in again.get_json()} == {"unchanged"}
    listed = client.get(f"/api/v1/incidents/{world.ref}/notifications?status=draft", headers=responder).get_json()
    assert listed["total"] == 3 and all(i["channels"] == ["email"] for i in listed["items"])
    first, second, third = (r["id"] for r in rows)
    stale = client.patch(f"/api/v1/notifications/{first}", headers=responder, json={"version": 9, "subject": "x"})
    assert stale.status_code == 409
    edited = client.patch(f"/api/v1/notifications/{first}", headers=responder,
                          json={"version": 1, "subject": "Important: breach notification", "note": "clearer"})
    assert edited.status_code == 200 and edited.get_json()["version"] == 2
    assert client.post(f"/api/v1/notifications/{first}/approve", headers=responder).status_code == 403
    approved = client.post(f"/api/v1/notifications/{first}/approve", headers=lead, json={"version": 2})
    assert approved.status_code == 200 and approved.get_json()["status"] == "queued"
    cancelled = client.post(f"/api/v1/notifications/{second}/cancel", headers=responder, json={"reason": "duplicate"})
    assert cancelled.status_code == 200 and cancelled.get_json()["cancelled"]["reason"] == "duplicate"
    assert client.post(f"/api/v1/notifications/{third}/cancel", headers=responder, json={}).status_code == 422
    dispatch(app, clock.now())
    doc = client.get(f"/api/v1/notifications/{first}", headers=responder).get_json()
    assert doc["status"] == "delivered" and doc["content"]["subject"] == "Important: breach notification"
    assert doc["content"]["text"] and doc["content"]["html"] and doc["content"]["payload"]["type"] == "breach.notification"
    [attempt] = doc["attempts"]
    assert attempt["ok"] and attempt["channel"] == "email" and attempt["status_code"] == 250
    assert attempt["detail"] == "250 accepted" and doc["obligation"]["status"] == "met"
    assert [v["version"] for v in doc["versions"]] == [1, 2] and doc["acknowledgement"] is None
    assert client.get("/api/v1/notifications/999999", headers=responder).status_code == 404


def test_scheduler_once_runs_a_dispatch_pass(app, mailbox, runner):
    now = clock.now()
    configure(app, mailbox=mailbox)
    world = build_world(app, now, 2)
    draft(app, world.incident_id, now)
    approve_all(app, world.incident_id, now)
    result = runner.invoke(args=["scheduler", "--once", "--worker", "cli-1"])
    assert result.exit_code == 0, result.output
    assert "dispatch_outbox" in result.output and "'delivered': 2" in result.output
    assert sorted(m["X-Breachline-Notification"] for m in mailbox.messages
                  if m["X-Breachline-Notification"]) == sorted(n.uid for n in notifications(app, world.incident_id))


def test_notification_pages_render(app, now, mailbox, client, make_user, login):
    configure(app, mailbox=mailbox)
    world = build_world(app, now, 2, own_company=False)
    draft(app, world.incident_id, now)
    approve_all(app, world.incident_id, now)
    dispatch(app, now)
    login(make_user("lead", email="lead@example.org"))
    n = notifications(app, world.incident_id)[0]
    page = client.get(f"/notifications/{n.id}").get_data(as_text=True)
    assert n.uid in page and "Delivery attempts" in page and "250 accepted" in page
    assert client.get(f"/incidents/{world.ref}").status_code == 200
    assert f"/incidents/{world.ref}/notifications" in client.get(f"/incidents/{world.ref}").get_data(as_text=True)
