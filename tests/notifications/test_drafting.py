"""Drafting: one notice per customer from its own slice, completeness and phases, isolation, versions, updates."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from notice_world import (RESPONDER, approve_all, build_world, clock_settings, configure, dispatch, draft, notifications,
                          session_of)
from sqlmodel import select

from app.core.errors import Conflict
from app.datamap.models import Contact, Controller
from app.flows import incident as incident_flows
from app.flows import notifications as flows
from app.incidents.models import Incident, OverrideIn, ScopeIn
from app.notifications.models import NoticeFactsIn, NotificationEdit, NotificationVersion
from app.notifications.payload import load_schema
from app.timeline.models import TimelineEvent

VALIDATOR = Draft202012Validator(load_schema(), format_checker=FormatChecker())
FACTS = NoticeFactsIn(likely_consequences="Phishing against the affected people.",
                      measures_taken=["Revoked the leaked key"], measures_proposed=["Rotate all tenant keys"],
                      measures_recommended=["Warn your users about phishing"], contact_name="PSIRT duty officer",
                      contact_email="psirt@breachline.example.org")


def save_facts(app, incident_id, now, data=FACTS):
    with session_of(app) as session:
        flows.save_facts(session=session, incident=session.get(Incident, incident_id), data=data, actor=RESPONDER,
                         now=now)
        session.commit()


def p2c(items):
    return [n for n in items if n.kind == "processor_to_controller"]


def test_one_draft_per_customer_from_its_own_slice_plus_our_authority_report(app, now):
    configure(app, COMPANY_CONTROLLER_KEY="ourco")
    world = build_world(app, now, 4, own_company=True)
    outcomes = draft(app, world.incident_id, now)
    assert sorted(o.action for o in outcomes) == ["created"] * 5
    items = notifications(app, world.incident_id)
    assert sorted(n.kind for n in items) == ["authority_report"] + ["processor_to_controller"] * 4
    for n in p2c(items):
        customer = next(c for c in world.customers if c.id == n.controller_id)
        sep = "." if n.locale == "de" else ","
        assert customer.name in n.subject and f"{customer.subjects:,}".replace(",", sep) in n.text
        assert n.status == "draft" and n.version == 1 and not n.error
        # Art. 33(4): what is not known yet is listed, says "to follow" and makes the notice phased.
        assert n.missing == ["occurrence_period", "likely_consequences", "measures"] and n.phased
        assert ("wird nachgereicht" if n.locale == "de" else "to follow") in n.text
        assert n.html and "<html" in n.html
        errors = sorted(VALIDATOR.iter_errors(n.payload), key=str)
        assert not errors, errors[0].message
        assert n.payload["data"]["notification_id"] == n.uid and "." not in n.uid
        assert n.payload["data"]["acknowledgement_url"].startswith("https://breachline.example.org/ack/")
        assert n.payload["data"]["categories_and_counts"]["est_subjects"] == customer.subjects
    report = next(n for n in items if n.kind == "authority_report")
    assert "Helene Ourco-DPO" in report.text and "250" in report.text  # our own data and our own DPO
    assert not any(c.name in report.text for c in world.customers)
    with session_of(app) as session:
        drafted = session.exec(select(TimelineEvent).where(TimelineEvent.kind == "notification.drafted")).all()
    assert sorted(e.controller_id or 0 for e in drafted) == sorted([0] + [c.id for c in world.customers])


def test_redrafting_is_idempotent_and_complete_facts_end_the_phasing(app, now, count_rows):
    configure(app)
    world = build_world(app, now, 3)
    draft(app, world.incident_id, now)
    again = draft(app, world.incident_id, now + timedelta(minutes=5))
    assert [o.action for o in again] == ["unchanged"] * 3
    assert count_rows("notification") == 3 and count_rows("notification_version") == 3
    save_facts(app, world.incident_id, now)
    with session_of(app) as session:
        incident = session.get(Incident, world.incident_id)
        incident.occurred_from = now - timedelta(days=1)
        session.add(incident)
        session.commit()
    refreshed = draft(app, world.incident_id, now + timedelta(minutes=10))
    assert [o.action for o in refreshed] == ["redrafted"] * 3
    for n in notifications(app, world.incident_id):
        assert n.missing == [] and not n.phased and n.version == 2
        assert "Revoked the leaked key" in n.text and n.payload["data"]["missing"] == []
    assert count_rows("notification") == 3 and count_rows("notification_version") == 6


def test_no_draft_ever_shows_another_customers_name_key_or_numbers(app, now):
    configure(app)
    world = build_world(app, now, 60, webhook_base="http://127.0.0.1:9")
    draft(app, world.incident_id, now)
    items = p2c(notifications(app, world.incident_id))
    assert len(items) == 60
    needles = {}
    for c in world.customers:
        numbers = {str(v) for v in (c.subjects, c.records)} | {f"{v:,}" for v in (c.subjects, c.records)} \
            | {f"{v:,}".replace(",", ".") for v in (c.subjects, c.records)}
        needles[c.id] = {c.name, c.key, *numbers}
    for n in items:
        blob = "\n".join([n.subject, n.text, n.html or "", json.dumps(n.payload, ensure_ascii=False)])
        own = needles[n.controller_id]
        assert any(term in blob for term in own)
        for other_id, terms in needles.items():
            if other_id == n.controller_id:
                continue
            leaked = [t for t in terms if t in blob]
            assert not leaked, f"notice {n.id} to {n.recipient_key} shows {leaked}"


def test_shared_facts_that_name_a_customer_block_every_other_customers_draft(app, now):
    configure(app)
    world = build_world(app, now, 4, summary="Found while debugging the kq002-tenant export job.")
    draft(app, world.incident_id, now)
    by_key = {n.recipient_key: n for n in notifications(app, world.incident_id)}
    assert not by_key["kq002-tenant"].error
    for key in ("kq000-tenant", "kq001-tenant", "kq003-tenant"):
        assert "names another customer" in by_key[key].error
    result = approve_all(app, world.incident_id, now)
    assert [n.recipient_key for n in result.approved] == ["kq002-tenant"]
    save_facts(app, world.incident_id, now, NoticeFactsIn(description="Exported through a leaked API key."))
    draft(app, world.incident_id, now + timedelta(minutes=1))
    assert not any(n.error for n in notifications(app, world.incident_id))


def test_edits_are_kept_as_versions_and_stale_edits_are_refused(app, now):
    configure(app)
    world = build_world(app, now, 2)
    draft(app, world.incident_id, now)
    n = notifications(app, world.incident_id)[0]
    with session_of(app) as session:
        target = session.get(type(n), n.id)
        flows.edit(session=session, notification=target, actor=RESPONDER, now=now,
                   data=NotificationEdit(version=1, text=target.text + "\nPlease call us.", note="added a call to action"))
        session.commit()
        with pytest.raises(Conflict, match="changed by someone else"):
            flows.edit(session=session, notification=target, actor=RESPONDER, now=now,
                       data=NotificationEdit(version=1, subject="stale"))
        session.rollback()
        # An edit that names another customer blocks approval until it is removed.
        flows.edit(session=session, notification=target, actor=RESPONDER, now=now,
                   data=NotificationEdit(version=2, text=target.text + " See also Zyx001 Quorvax Holdings."))
        session.commit()
        assert "names another customer" in target.error
        flows.edit(session=session, notification=target, actor=RESPONDER, now=now,
                   data=NotificationEdit(version=3, text=target.text.replace(" See also Zyx001 Quorvax Holdings.", "")))
        session.commit()
        assert target.error == ""
        versions = session.exec(select(NotificationVersion).where(NotificationVersion.notification_id == n.id)
                                .order_by(NotificationVersion.version)).all()
    assert [v.version for v in versions] == [1, 2, 3, 4]
    assert versions[0].note == "drafted" and versions[1].note == "added a call to action"
    assert "Please call us." not in versions[0].text and "Please call us." in versions[1].text
    # Re-drafting never overwrites a person's edits.
    assert {o.notification.id: o.action for o in draft(app, world.incident_id, now)}[n.id] == "kept"


def test_a_template_error_or_missing_contact_stays_on_that_draft(app, now):
    configure(app)
    world = build_world(app, now, 4)
    with session_of(app) as session:
        broken = session.get(Controller, world.customers[1].id)
        broken.timezone = "Mars/Olympus_Mons"
        silent = session.get(Controller, world.customers[2].id)
        silent.notify_emails = []
        session.add_all([broken, silent])
        for contact in session.exec(select(Contact).where(Contact.controller_id == silent.id)):
            session.delete(contact)
        session.commit()
    outcomes = draft(app, world.incident_id, now)
    assert len(outcomes) == 4
    by_key = {n.recipient_key: n for n in notifications(app, world.incident_id)}
    assert "template problem" in by_key["kq001-tenant"].error and "Mars/Olympus_Mons" in by_key["kq001-tenant"].error
    assert "no contact" in by_key["kq002-tenant"].error
    assert not by_key["kq000-tenant"].error and not by_key["kq003-tenant"].error
    result = approve_all(app, world.incident_id, now)
    assert sorted(n.recipient_key for n in result.approved) == ["kq000-tenant", "kq003-tenant"]
    assert len(result.refused) == 2


def test_an_update_says_what_changed_since_the_last_delivered_notice(app, now, mailbox):
    configure(app, mailbox=mailbox)
    world = build_world(app, now, 3)
    draft(app, world.incident_id, now)
    approve_all(app, world.incident_id, now)
    dispatch(app, now)
    assert {n.status for n in notifications(app, world.incident_id)} == {"delivered"}
    # Nothing changed: no update is drafted.
    assert {o.action for o in draft(app, world.incident_id, now + timedelta(hours=1))} == {"no_change"}
    first = world.customers[0]
    save_facts(app, world.incident_id, now, FACTS)
    with session_of(app) as session:
        incident = session.get(Incident, world.incident_id)
        incident_flows.set_scope(session=session, incident=incident, actor=RESPONDER, now=now + timedelta(hours=2),
                                 settings=clock_settings(app.config),
                                 scope=ScopeIn(systems=["tenant-db"],
                                               overrides={first.key: OverrideIn(est_subjects=900_001)}))
        session.commit()
    later = now + timedelta(hours=3)
    outcomes = draft(app, world.incident_id, later)
    assert {o.action for o in outcomes} == {"created"}
    updates = {n.recipient_key: n for n in notifications(app, world.incident_id) if n.phase == "update"}
    assert len(updates) == 3
    mine = updates[first.key]
    items = {c["item"]: c["summary"] for c in mine.changes}
    assert set(items) >= {"est_subjects", "likely_consequences", "measures"}
    sep = "." if mine.locale == "de" else ","
    assert f"{first.subjects:,} → 900,001".replace(",", sep) in items["est_subjects"]
    other = updates[world.customers[1].key]
    assert "est_subjects" not in {c["item"] for c in other.changes}  # only its own slice is compared
    data = mine.payload["data"]
    assert data["phase"] == "update"
    previous = next(n for n in notifications(app, world.incident_id) if n.id == mine.previous_id)
    assert data["previous_notification"]["id"] == previous.uid and data["controller_deadline"]["starts_on_receipt"] is False
    assert not list(VALIDATOR.iter_errors(mine.payload))
    assert ("ÄNDERUNGEN SEIT UNSERER LETZTEN MELDUNG" in mine.text or "WHAT HAS CHANGED" in mine.text.upper())
    assert {o.action for o in draft(app, world.incident_id, later + timedelta(minutes=1))} == {"unchanged"}
    final = draft(app, world.incident_id, later, phase="final")
    assert {o.action for o in final} == {"redrafted"}  # the open update draft becomes the final report
    assert {n.phase for n in notifications(app, world.incident_id) if n.status == "draft"} == {"final"}
