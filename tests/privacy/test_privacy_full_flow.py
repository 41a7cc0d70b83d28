"""The whole flow with logs captured at DEBUG: no contact email, phone or subject identifier is ever logged."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlmodel import select

from privacy_world import SUBJECTS, communicate, notified_world


def test_full_flow_sends_art34_through_the_outbox_and_logs_no_personal_data(keyed, now, mailbox, caplog):
    from app.datamap.models import Contact
    from app.notifications.models import DeliveryAttempt, Notification, OutboxItem
    from app.subjects.models import AffectedSubject, SubjectStatus
    from app.timeline.models import TimelineEvent
    from app.timeline.service import verify_incident
    from notice_world import session_of

    app = keyed
    caplog.set_level(logging.DEBUG)
    logging.getLogger("app").debug("debug logging works for dpo@probe.example and +49 30 5550 1234")
    world = notified_world(app, now, mailbox, before_notify=_give_contacts_phones)
    with session_of(app) as session:
        contacts = [(c.email, c.phone) for c in session.exec(select(Contact)).all()]
    key = world.customers[1].key  # a German-locale customer
    n, result, report = communicate(app, world, key, now + timedelta(hours=1))
    assert result.queued == 2 and result.without_contact == 1
    assert report["delivered"] == 2

    # Delivered to each subject separately, in the controller's language, through the outbox.
    envelopes = [tuple(e) for e in mailbox.envelopes]
    assert ("anna.schmidt@mail.example",) in envelopes and ("b.meier@mail.example",) in envelopes
    to_anna = next(m for m, e in zip(mailbox.messages, mailbox.envelopes) if e == ["anna.schmidt@mail.example"])
    assert "Wichtige Information" in str(to_anna["Subject"])  # the controller's locale (de)
    with session_of(app) as session:
        subjects = session.exec(select(AffectedSubject).order_by(AffectedSubject.id)).all()
        from app.subjects import service
        service.sync_delivery(session=session)
        session.commit()
        statuses = sorted(str(s.status) for s in session.exec(select(AffectedSubject)).all())
        assert statuses == ["delivered", "delivered", "no_contact"]
        assert session.get(Notification, n.id).status == "delivered"
        assert len(session.exec(select(OutboxItem).where(OutboxItem.notification_id == n.id)).all()) == 2
        # The hash chain never holds a subject's identifier or address.
        chain = " ".join(e.summary + str(e.details) for e in session.exec(select(TimelineEvent)).all())
        for identifier, email in SUBJECTS:
            assert identifier not in chain
            if email:
                assert email not in chain
        assert verify_incident(session=session, incident_id=world.incident_id).ok
        assert all(len(s.pseudonym) == 64 for s in subjects)

    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert caplog.records, "nothing was logged at all: the scan would prove nothing"
    assert "dpo@probe.example" not in logged and "5550 1234" not in logged
    for identifier, email in SUBJECTS:
        assert identifier not in logged
        if email:
            assert email not in logged
    for email, phone in contacts:
        if email:
            assert email not in logged
        if phone:
            assert phone not in logged


def test_drill_communication_goes_to_the_drill_mailbox_only(keyed, now, mailbox):
    from app.subjects.models import AffectedSubject

    from notice_world import session_of

    world = notified_world(keyed, now, mailbox, drill=True, DRILL_EMAIL="drill@psirt.example.org")
    _, result, report = communicate(keyed, world, world.customers[0].key, now + timedelta(hours=1))
    assert result.queued == 2 and report["delivered"] == 2
    recipients = {a for e in mailbox.envelopes for a in e}
    assert "anna.schmidt@mail.example" not in recipients and "b.meier@mail.example" not in recipients
    assert "drill@psirt.example.org" in recipients
    with session_of(keyed) as session:
        kept = [s.contact for s in session.exec(select(AffectedSubject)) if s.contact]
        assert len(kept) == 2  # kept: only the grace period after delivery removes them


def _give_contacts_phones(app):
    from app.datamap.models import Contact
    from notice_world import session_of

    with session_of(app) as session:
        for c in session.exec(select(Contact)).all():
            c.phone = "+49 30 5550 %04d" % c.id
            session.add(c)
        session.commit()
