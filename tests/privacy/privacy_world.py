"""Helpers for privacy tests: a world whose customers were notified, subject CSVs, lead users."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import select

from notice_world import LEAD, OTHER_LEAD, approve_all, build_world, configure, dispatch, draft, session_of

KEY = "privacy-test-key-0123456789abcdef"  # the subject pseudonym key the fixtures configure
OTHER_KEY = "another-key-fedcba9876543210xyz"
SUBJECTS = [("CUST-000117", "anna.schmidt@mail.example"), ("CUST-000242", "b.meier@mail.example"),
            ("CUST-000399", "")]


def subject_csv(rows=SUBJECTS) -> str:
    return "identifier,email\n" + "".join(f"{i},{e}\n" for i, e in rows)


def notified_world(app, now: datetime, mailbox, n: int = 2, drill: bool = False, before_notify=None, **extra):
    """Customers notified of an incident (their Art. 33(2) obligation met): ready for Art. 34 lists."""
    configure(app, mailbox=mailbox, **extra)
    world = build_world(app, now, n, drill=drill)
    if before_notify is not None:
        before_notify(app)
    draft(app, world.incident_id, now)
    approve_all(app, world.incident_id, now + timedelta(minutes=1))
    dispatch(app, now + timedelta(minutes=2))
    return world


def communicate(app, world, controller_key: str, now: datetime, csv_text: str | None = None):
    """Import subjects, draft (lead), approve (another lead), queue and dispatch the Art. 34 communication."""
    from app.datamap.models import Controller
    from app.flows import notifications as nflows
    from app.flows import subjects as flows
    from app.incidents.models import Incident
    from app.notifications.models import ApproveIn
    from app.subjects.pseudonym import KeyRing
    from notice_world import notice_settings

    settings = notice_settings(app.config)
    with app.app_context(), session_of(app) as session:
        incident = session.get(Incident, world.incident_id)
        controller = session.exec(select(Controller).where(Controller.key == controller_key)).one()
        flows.import_list(session=session, incident=incident, controller=controller,
                          csv_text=csv_text or subject_csv(), ring=KeyRing.from_config(app.config), actor=LEAD,
                          now=now)
        n = flows.prepare_communication(session=session, incident=incident, controller=controller, actor=LEAD,
                                        now=now, settings=settings)
        nflows.approve(session=session, notification=n, data=ApproveIn(), actor=OTHER_LEAD, now=now,
                       settings=settings)
        result = flows.send(session=session, incident=incident, controller=controller, actor=LEAD, now=now,
                            settings=settings)
        session.commit()
    report = dispatch(app, now + timedelta(seconds=30))
    return n, result, report


def close_incident(app, incident_id, at):
    from app.incidents.models import Incident
    from notice_world import session_of

    with session_of(app) as session:
        incident = session.get(Incident, incident_id)
        incident.status, incident.closed_at = "closed", at
        session.add(incident)
        session.commit()


def add_note(app, incident_id, text, at):
    from app.flows import incident as flows
    from app.incidents.models import Incident
    from notice_world import LEAD, session_of

    with session_of(app) as session:
        flows.add_note(session=session, incident=session.get(Incident, incident_id), text=text, occurred_at=None,
                       actor=LEAD, now=at)
        session.commit()


def run_retention(app, at, dry=False):
    from app.flows import subjects as flows
    from app.subjects.retention import RetentionSettings
    from notice_world import session_of

    with app.app_context(), session_of(app) as session:
        plan = flows.run_retention(session=session, settings=RetentionSettings.from_config(app.config), now=at,
                                   actor="test", dry_run=dry)
        session.rollback() if dry else session.commit()
    return plan
