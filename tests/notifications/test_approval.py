"""Review and approval: a lead, not the drafter; bulk approval through the page with a confirmation; cancel."""

from __future__ import annotations

from datetime import timedelta

import pytest
from notice_world import (LEAD, OTHER_LEAD, RESPONDER, approve_all, build_world, configure, dispatch, draft,
                          notice_settings, notifications, session_of)
from sqlmodel import select

from app.core import time as clock
from app.core.errors import Conflict, Forbidden, InputError
from app.flows import notifications as flows
from app.notifications.models import ApproveIn, Notification, OutboxItem
from app.timeline.models import TimelineEvent


def approve_one(app, notification_id, actor, now, **data):
    with session_of(app) as session:
        n = session.get(Notification, notification_id)
        flows.approve(session=session, notification=n, data=ApproveIn(**data), actor=actor, now=now,
                      settings=notice_settings(app.config))
        session.commit()
        return n


def test_only_a_lead_who_did_not_draft_it_may_approve(app, now):
    configure(app)
    world = build_world(app, now, 2)
    draft(app, world.incident_id, now, actor=LEAD)
    first, second = notifications(app, world.incident_id)
    with pytest.raises(Forbidden, match="only a lead"):
        approve_one(app, first.id, RESPONDER, now)
    with pytest.raises(Forbidden, match="different person"):
        approve_one(app, first.id, LEAD, now)
    approved = approve_one(app, first.id, OTHER_LEAD, now)
    assert approved.status == "queued" and approved.approved_by == OTHER_LEAD.name
    with pytest.raises(Conflict, match="not a draft"):
        approve_one(app, first.id, OTHER_LEAD, now)
    app.config["ALLOW_SELF_APPROVAL"] = True
    assert approve_one(app, second.id, LEAD, now).status == "queued"


def test_the_last_editor_counts_as_an_author_and_a_stale_review_is_refused(app, now):
    from app.notifications.models import NotificationEdit

    configure(app)
    world = build_world(app, now, 1)
    draft(app, world.incident_id, now)
    [n] = notifications(app, world.incident_id)
    with session_of(app) as session:
        flows.edit(session=session, notification=session.get(Notification, n.id), actor=LEAD, now=now,
                   data=NotificationEdit(version=1, subject="Edited by the lead"))
        session.commit()
    with pytest.raises(Forbidden, match="drafted or last edited"):
        approve_one(app, n.id, LEAD, now)
    with pytest.raises(Conflict, match="changed since you opened it"):
        approve_one(app, n.id, OTHER_LEAD, now, version=1)  # reviewed version 1, but version 2 is current
    assert approve_one(app, n.id, OTHER_LEAD, now, version=2).status == "queued"


def test_an_overdue_obligation_needs_reasons_for_the_delay(app, now, mailbox):
    configure(app, mailbox=mailbox)
    world = build_world(app, now, 1)  # contract: notify within 24 h of awareness (now - 2 h)
    later = now + timedelta(hours=30)
    draft(app, world.incident_id, later)
    [n] = notifications(app, world.incident_id)
    with pytest.raises(InputError, match="reasons for the delay"):
        approve_one(app, n.id, LEAD, later)
    approve_one(app, n.id, LEAD, later, reasons_for_delay="The customer's tenant was identified late.")
    dispatch(app, later)
    from app.clock.models import Obligation

    with session_of(app) as session:
        ob = session.get(Obligation, n.obligation_id)
    assert ob.status == "late" and ob.delay_reasons == "The customer's tenant was identified late."
    assert ob.late_by_seconds > 0


def test_bulk_approval_on_the_page_confirms_send_to_n_customers(app, client, make_user, login):
    now = clock.now()  # the page reads the real clock
    configure(app)
    world = build_world(app, now, 5)
    draft(app, world.incident_id, now)
    login(make_user("lead", email="lead@example.org"))
    page = client.get(f"/incidents/{world.ref}/notifications")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="select-all"' in html and html.count('name="ids"') == 5
    items = notifications(app, world.incident_id)
    filtered = client.get(f"/incidents/{world.ref}/notifications?status=queued").get_data(as_text=True)
    assert 'name="ids"' not in filtered
    picked = [f"{n.id}:{n.version}" for n in items[:3]]
    confirm = client.post(f"/incidents/{world.ref}/notifications/approve", data={"ids": picked})
    assert confirm.status_code == 200
    text = confirm.get_data(as_text=True)
    assert "Send to 3 customers" in text
    assert {n.status for n in notifications(app, world.incident_id)} == {"draft"}, "nothing approved before confirming"
    done = client.post(f"/incidents/{world.ref}/notifications/approve", data={"ids": picked, "confirm": "yes"})
    assert done.status_code == 302
    statuses = {n.id: n.status for n in notifications(app, world.incident_id)}
    assert [statuses[n.id] for n in items] == ["queued"] * 3 + ["draft"] * 2
    # "Approve all drafts shown" takes the remaining drafts of the filter, again after confirmation.
    confirm_all = client.post(f"/incidents/{world.ref}/notifications/approve", data={"scope": "all"})
    assert "Send to 2 customers" in confirm_all.get_data(as_text=True)
    client.post(f"/incidents/{world.ref}/notifications/approve", data={"scope": "all", "confirm": "yes"})
    assert {n.status for n in notifications(app, world.incident_id)} == {"queued"}
    with session_of(app) as session:
        assert len(session.exec(select(OutboxItem)).all()) == 5
        approved = session.exec(select(TimelineEvent).where(TimelineEvent.kind == "notification.approved")).all()
    assert sorted(e.controller_id for e in approved) == sorted(c.id for c in world.customers)


def test_a_responder_sees_the_page_but_cannot_approve(app, client, make_user, login):
    now = clock.now()
    configure(app)
    world = build_world(app, now, 1)
    draft(app, world.incident_id, now)
    login(make_user("responder", email="responder@example.org"))
    html = client.get(f"/incidents/{world.ref}/notifications").get_data(as_text=True)
    assert "Approve selected" not in html
    [n] = notifications(app, world.incident_id)
    refused = client.post(f"/incidents/{world.ref}/notifications/approve", data={"ids": [f"{n.id}:1"], "confirm": "yes"})
    assert refused.status_code == 403
    assert notifications(app, world.incident_id)[0].status == "draft"


def test_cancel_before_delivery_is_recorded_and_nothing_is_sent(app, now, mailbox):
    configure(app, mailbox=mailbox)
    world = build_world(app, now, 2)
    draft(app, world.incident_id, now)
    approve_all(app, world.incident_id, now)
    first, second = notifications(app, world.incident_id)
    with session_of(app) as session:
        queued = session.get(Notification, first.id)
        with pytest.raises(Forbidden, match="only a lead"):
            flows.cancel(session=session, notification=queued, reason="wrong customer", actor=RESPONDER, now=now,
                         settings=notice_settings(app.config))
        session.rollback()
        flows.cancel(session=session, notification=queued, reason="Customer left before the breach", actor=LEAD,
                     now=now, settings=notice_settings(app.config))
        session.commit()
        rows = session.exec(select(OutboxItem).where(OutboxItem.notification_id == first.id)).all()
        event = session.exec(select(TimelineEvent).where(TimelineEvent.kind == "notification.cancelled")).one()
    assert queued.status == "cancelled" and queued.cancel_reason == "Customer left before the breach"
    assert {r.status for r in rows} == {"cancelled"}
    assert event.controller_id == first.controller_id and "Customer left" in event.summary
    dispatch(app, now)
    assert [m["X-Breachline-Notification"] for m in mailbox.messages] == [second.uid]
    with session_of(app) as session, pytest.raises(Conflict, match="only notices not yet delivered"):
        flows.cancel(session=session, notification=session.get(Notification, second.id), reason="too late",
                     actor=LEAD, now=now, settings=notice_settings(app.config))


def test_our_own_reports_are_approved_then_recorded_as_filed_which_meets_the_obligation(app, now):
    from app.clock import obligations as obligation_service
    from app.incidents.impact import latest_snapshot
    from app.incidents.models import Incident
    from notice_world import clock_settings

    configure(app, COMPANY_CONTROLLER_KEY="ourco")
    world = build_world(app, now, 2, own_company=True)
    with session_of(app) as session:  # a risk decision: high risk, so our data subjects are told too (Art. 34)
        incident = session.get(Incident, world.incident_id)
        obligation_service.sync_obligations(session=session, incident=incident, settings=clock_settings(app.config),
                                            snapshot=latest_snapshot(session=session, incident_id=incident.id), now=now,
                                            risk_decision={"notify_sa": True, "communicate_subjects": True})
        session.commit()
    draft(app, world.incident_id, now)
    ours = {n.kind: n for n in notifications(app, world.incident_id) if n.controller_id is None}
    assert set(ours) == {"authority_report", "data_subject"}
    assert "Helene Ourco-DPO" in ours["data_subject"].text and ours["data_subject"].payload is None
    result = approve_all(app, world.incident_id, now)
    assert len(result.approved) == 4
    report = next(n for n in notifications(app, world.incident_id) if n.kind == "authority_report")
    assert report.status == "approved", "our reports are filed by a person, not sent by the dispatcher"
    filed_at = now + timedelta(hours=1)
    with session_of(app) as session:
        n = session.get(Notification, report.id)
        with pytest.raises(Forbidden):
            flows.record_filed(session=session, notification=n, filed_at=filed_at, reference="BfDI-1", actor=RESPONDER,
                               now=filed_at)
        flows.record_filed(session=session, notification=n, filed_at=filed_at, reference="BfDI-2026-0042",
                           actor=LEAD, now=filed_at + timedelta(minutes=5))
        session.commit()
        from app.clock.models import Obligation

        ob = session.get(Obligation, n.obligation_id)
        assert n.status == "delivered" and n.delivered_at == filed_at and n.filed_reference == "BfDI-2026-0042"
        assert ob.status == "met" and ob.met_at == filed_at
        assert session.exec(select(TimelineEvent).where(TimelineEvent.kind == "notification.filed")).one()
