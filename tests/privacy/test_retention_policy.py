"""Retention: contacts nulled after delivery and after closing, free text shown redacted after years,
the breach register (facts, decisions, timeline hashes) untouched, the chain still verifying."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlmodel import select

from privacy_world import add_note, close_incident, run_retention, communicate, notified_world


def _register(app, incident_id):
    """What the breach register keeps: facts, decisions, obligations, notices and every timeline hash."""
    from app.clock.models import Obligation
    from app.incidents.models import Incident
    from app.notifications.models import Notification
    from app.timeline.models import TimelineEvent
    from notice_world import session_of

    with session_of(app) as session:
        i = session.get(Incident, incident_id)
        return {"facts": (i.title, i.ref, str(i.status), list(i.breach_types), i.aware_at, i.detected_at, i.closed_at,
                          str(i.severity)),
                "obligations": [(o.id, str(o.status), o.met_at, o.due_at) for o in
                                session.exec(select(Obligation).where(Obligation.incident_id == incident_id))],
                "notices": [(n.id, str(n.status), n.text, n.delivered_at) for n in
                            session.exec(select(Notification).where(Notification.incident_id == incident_id))],
                "events": [(e.seq, e.hash, e.summary, json.dumps(e.details)) for e in
                           session.exec(select(TimelineEvent).where(TimelineEvent.incident_id == incident_id)
                                        .order_by(TimelineEvent.seq))]}


def test_contacts_are_nulled_after_delivery_grace_then_after_closing(keyed, now, mailbox):
    from app.notifications.models import DeliveryAttempt, OutboxItem
    from app.subjects.models import AffectedSubject, RetentionRun
    from notice_world import session_of

    world = notified_world(keyed, now, mailbox)
    sent = now + timedelta(hours=1)
    communicate(keyed, world, world.customers[0].key, sent,
                csv_text="identifier,email\nA-1,one@mail.example\nA-2,bounce@mail.example\n")
    assert run_retention(keyed, sent + timedelta(days=6)).counts == {}  # within the grace period: kept
    plan = run_retention(keyed, sent + timedelta(days=8))
    assert plan.counts == {"subject contacts nulled": 1}
    with session_of(keyed) as session:
        rows = {r.status: r for r in session.exec(select(AffectedSubject))}
        assert rows["delivered"].contact is None and rows["delivered"].contact_purged_at is not None
        assert rows["failed"].contact == "bounce@mail.example"  # not delivered: kept until the incident closes
        item = session.get(OutboxItem, rows["delivered"].outbox_id)
        assert "one@mail.example" not in json.dumps(item.addresses)
        assert all("one@" not in a.target for a in
                   session.exec(select(DeliveryAttempt).where(DeliveryAttempt.outbox_id == item.id)))
        assert len(session.exec(select(RetentionRun)).all()) == 2
    close_incident(keyed, world.incident_id, sent + timedelta(days=10))
    assert run_retention(keyed, sent + timedelta(days=39)).counts == {}
    assert run_retention(keyed, sent + timedelta(days=41)).counts == {"subject contacts nulled": 1}
    with session_of(keyed) as session:
        assert all(r.contact is None for r in session.exec(select(AffectedSubject)))


def test_free_text_is_redacted_years_after_closing_and_the_register_and_chain_survive(keyed, now, mailbox, runner,
                                                                                      make_user, token_for, tmp_path):
    from app.incidents.models import Incident
    from app.subjects.models import AffectedSubject
    from app.timeline.redaction import MARKER, TimelineRedaction
    from notice_world import session_of

    world = notified_world(keyed, now, mailbox)
    communicate(keyed, world, world.customers[0].key, now + timedelta(hours=1))
    add_note(keyed, world.incident_id, "Caller Max Muster, +49 171 5550123, max@home.example, from 203.0.113.7",
          now + timedelta(hours=2))
    add_note(keyed, world.incident_id, "Firewall rule FW-12 deployed", now + timedelta(hours=3))
    closed = now + timedelta(days=2)
    close_incident(keyed, world.incident_id, closed)
    before = _register(keyed, world.incident_id)

    later = closed + timedelta(days=3 * 365 + 1)
    dry = runner.invoke(args=["retention", "run", "--dry-run"])
    assert dry.exit_code == 0 and "would change" in dry.output
    preview = run_retention(keyed, later, dry=True)
    assert preview.counts["timeline events redacted"] >= 2 and preview.counts["subject pseudonyms erased"] == 3
    assert _register(keyed, world.incident_id) == before  # a dry run changes nothing
    with session_of(keyed) as session:
        assert session.exec(select(TimelineRedaction)).first() is None

    plan = run_retention(keyed, later)
    assert plan.counts == preview.counts
    after = _register(keyed, world.incident_id)
    assert after["facts"] == before["facts"] and after["obligations"] == before["obligations"]
    assert after["notices"] == before["notices"]
    assert after["events"][:len(before["events"])] == before["events"]  # rows and hashes never rewritten
    assert after["events"][-1][2].startswith("Retention policy applied")
    out = runner.invoke(args=["timeline", "verify", world.ref])
    assert out.exit_code == 0 and "chain intact" in out.output, out.output

    with session_of(keyed) as session:
        assert all(s.status == "erased" and s.contact is None for s in session.exec(select(AffectedSubject)))
    lead = token_for(make_user("lead"))
    client = keyed.test_client()
    events = client.get(f"/api/v1/incidents/{world.ref}/timeline?per_page=500", headers=lead).get_json()
    assert events["verified"] is True
    notes = [e for e in events["items"] if e["kind"] == "note"]
    assert [e["summary"] for e in notes] == [MARKER, MARKER]
    generated = [e for e in events["items"] if e.get("retention_redacted") and e["kind"] != "note"]
    assert generated and all("dpo@" not in e["summary"] for e in generated)
    text = json.dumps(events)
    assert "max@home.example" not in text and "5550123" not in text

    exported = _fetch(client, f"/api/v1/incidents/{world.ref}/timeline?format=json", lead)
    assert exported.status_code == 200
    assert "max@home.example" not in exported.get_data(as_text=True)
    path = tmp_path / "export.json"
    path.write_bytes(exported.data)
    offline = runner.invoke(args=["timeline", "verify", "--file", str(path)])
    assert offline.exit_code == 0, offline.output
    assert "partial export" in offline.output  # redacted events: links checked, content cannot be

    a_second_run = run_retention(keyed, later + timedelta(days=1))
    assert "timeline events redacted" not in a_second_run.counts  # marks are made once
    with session_of(keyed) as session:
        assert session.get(Incident, world.incident_id).closed_at == closed


def test_the_scheduler_runs_retention_at_most_once_a_day_and_records_each_run(keyed, now):
    from app.flows.subjects import retention_tick
    from app.scheduler import TICK_HOOKS
    from app.subjects.models import RetentionRun
    from notice_world import session_of

    assert retention_tick in TICK_HOOKS
    first = retention_tick(keyed, now, "w1")
    assert first == {"retention": {}}
    assert retention_tick(keyed, now + timedelta(hours=23), "w1") == {}
    assert retention_tick(keyed, now + timedelta(hours=25), "w2") == {"retention": {}}
    with session_of(keyed) as session:
        runs = session.exec(select(RetentionRun).order_by(RetentionRun.started_at)).all()
        assert [r.actor for r in runs] == ["scheduler", "scheduler"] and all(r.finished_at for r in runs)


def test_retention_from_the_api_and_the_page(keyed, now, make_user, token_for, client, login, count_rows):
    from notice_world import build_world, configure

    configure(keyed)
    world = build_world(keyed, now, 1)
    lead = make_user("lead")
    headers = token_for(lead)
    dry = keyed.test_client().post("/api/v1/retention/run?dry_run=1", headers=headers)
    assert dry.status_code == 200 and dry.get_json()["dry_run"] is True
    assert count_rows("retention_run") == 0
    real = keyed.test_client().post("/api/v1/retention/run", headers=headers)
    assert real.status_code == 200 and count_rows("retention_run") == 1
    login(lead)
    page = client.post(f"/incidents/{world.ref}/subjects/retention")
    assert page.status_code == 200 and "retention_dry_run" in page.get_data(as_text=True)
    assert count_rows("retention_run") == 1


def _fetch(client, url, headers):
    """GET a streamed export, read it whole and close it (ends its request context and database session)."""
    with client.get(url, headers=headers) as response:
        response.data  # noqa: B018  read before closing
        return response
