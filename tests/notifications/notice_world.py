"""A data map with many customers and an incident over it, built straight into the database for notice tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache

from sqlmodel import Session

from app.clock.settings import ClockSettings, load_default_regimes
from app.datamap.models import (Contact, Controller, ControllerJurisdiction, ProcessingDataCategory, ProcessingRecord,
                                ProcessingSubjectCategory, System)
from app.flows import incident as incident_flows
from app.flows.incident import Actor
from app.incidents.models import IncidentCreate, ScopeIn
from app.notifications.settings import NoticeSettings

RESPONDER = Actor("responder@example.org", "responder")
LEAD = Actor("lead@example.org", "lead")
OTHER_LEAD = Actor("lead2@example.org", "lead")
SECRET = "whsec_YnJlYWNobGluZS10ZXN0LWtleS0zMi1ieXRlcy1sb25n"


@lru_cache(maxsize=1)
def regimes():
    return load_default_regimes()


@lru_cache(maxsize=1)
def playbooks() -> dict:
    """Regimes and incident types, parsed once per test run (every app would parse them again)."""
    from app import PLAYBOOKS
    from app.playbooks.incident_types import load_incident_types

    return {"regimes": regimes(), "incident_types": load_incident_types(PLAYBOOKS / "incident-types")}


def clock_settings(config) -> ClockSettings:
    return ClockSettings.from_config(config, regimes=regimes())


def notice_settings(config) -> NoticeSettings:
    return NoticeSettings.from_config(config, regimes=regimes())


@dataclass
class Customer:
    id: int
    key: str
    name: str
    subjects: int
    records: int
    webhook_path: str | None = None


@dataclass
class World:
    incident_id: int
    ref: str
    customers: list[Customer] = field(default_factory=list)

    def by_key(self, key: str) -> Customer:
        return next(c for c in self.customers if c.key == key)


def customer_name(i: int) -> str:
    return f"Zyx{i:03d} Quorvax Holdings"


def seed_customers(session: Session, n: int, *, system_key: str = "tenant-db", webhook_base: str | None = None,
                   emails: bool = True, locales=("en", "de"), own_company: bool = False,
                   email_domain: str = "example") -> list[Customer]:
    """n customers with distinctive names, keys and counts, all in one system, as our processing records."""
    system = System(key=system_key, name="Tenant database")
    session.add(system)
    session.flush()
    customers = []
    for i in range(n):
        key = f"kq{i:03d}-tenant"
        subjects, records = 810_000 + i * 1_013, 3_400_000 + i * 7_919
        path = f"/hooks/{key}" if webhook_base else None
        c = Controller(key=key, name=customer_name(i), country="DE", locale=locales[i % len(locales)],
                       timezone="Europe/Berlin", notify_within_hours=24,
                       notify_emails=[f"dpo@{key}.{email_domain}"] if emails else [],
                       webhook_url=f"{webhook_base}{path}" if webhook_base else None,
                       webhook_secret=SECRET if webhook_base else None)
        session.add(c)
        session.flush()
        session.add(ControllerJurisdiction(controller_id=c.id, code="EU"))
        session.add(Contact(controller_id=c.id, role="dpo", name=f"Dana{i:03d} Privacy",
                            email=f"dpo@{key}.{email_domain}" if emails else ""))
        record = ProcessingRecord(controller_id=c.id, system_id=system.id, role="processor",
                                  est_subjects=subjects, est_records=records)
        session.add(record)
        session.flush()
        categories = ["user.contact.email"] + (["user.health_and_medical"] if i % 4 == 0 else [])
        session.add_all(ProcessingDataCategory(record_id=record.id, category_key=k) for k in categories)
        session.add(ProcessingSubjectCategory(record_id=record.id, subject_key="customer"))
        customers.append(Customer(c.id, key, c.name, subjects, records, path))
    if own_company:
        us = Controller(key="ourco", name="Ourco Cloud GmbH", country="DE", locale="en", timezone="Europe/Berlin")
        session.add(us)
        session.flush()
        session.add(ControllerJurisdiction(controller_id=us.id, code="EU"))
        session.add(Contact(controller_id=us.id, role="dpo", name="Helene Ourco-DPO", email="dpo@ourco.example"))
        record = ProcessingRecord(controller_id=us.id, system_id=system.id, role="controller", est_subjects=250,
                                  est_records=250)
        session.add(record)
        session.flush()
        session.add(ProcessingDataCategory(record_id=record.id, category_key="user.contact.email"))
        session.add(ProcessingSubjectCategory(record_id=record.id, subject_key="employee"))
    session.flush()
    return customers


def declare(session: Session, config, now: datetime, *, system_key: str = "tenant-db", drill: bool = False,
            summary: str = "An attacker exported tenant data through a leaked API key.") -> tuple[int, str]:
    """Declare an incident over the system; impact and obligations are computed by the real flow."""
    data = IncidentCreate(title="API key leak", incident_type="web-app-exfiltration", summary=summary,
                          breach_types=["confidentiality"], detected_at=(now - timedelta(hours=3)).isoformat(),
                          aware_at=(now - timedelta(hours=2)).isoformat(), drill=drill,
                          scope=ScopeIn(systems=[system_key]))
    incident = incident_flows.declare(session=session, data=data, actor=RESPONDER, now=now,
                                      settings=clock_settings(config))
    return incident.id, incident.ref


def build_world(app, now: datetime, n: int, **kwargs) -> World:
    """Seed n customers, declare an incident over them, commit; returns what tests need to know."""
    drill = kwargs.pop("drill", False)
    summary = kwargs.pop("summary", None)
    with Session(app.extensions["breachline.engine"], expire_on_commit=False) as session:
        customers = seed_customers(session, n, **kwargs)
        incident_id, ref = declare(session, app.config, now, drill=drill,
                                   **({"summary": summary} if summary else {}))
        session.commit()
    return World(incident_id, ref, customers)


def configure(app, *, mailbox=None, receiver=None, **extra) -> None:
    """Point the app at the test receivers (and hand it the playbooks parsed once)."""
    from app.runtime import PLAYBOOKS_KEY

    app.extensions[PLAYBOOKS_KEY] = playbooks()
    app.config.update({"MAIL_FROM": "Breachline PSIRT <psirt@breachline.example.org>",
                       "PUBLIC_BASE_URL": "https://breachline.example.org", "COMPANY_NAME": "Ourco Cloud GmbH",
                       "WEBHOOK_ALLOWED_HOSTS": {"127.0.0.1"}, "PSIRT_EMAIL": "psirt@breachline.example.org",
                       "SMTP_TIMEOUT": 5})
    if mailbox is not None:
        app.config.update({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": mailbox.port})
    app.config.update(extra)


def session_of(app) -> Session:
    return Session(app.extensions["breachline.engine"], expire_on_commit=False)


def draft(app, incident_id: int, now: datetime, actor: Actor = RESPONDER, phase: str | None = None):
    """Draft through the flow and commit; returns the outcomes."""
    from app.flows import notifications as flows
    from app.incidents.models import Incident

    with app.app_context(), session_of(app) as session:
        outcomes = flows.draft(session=session, incident=session.get(Incident, incident_id), actor=actor, now=now,
                               settings=notice_settings(app.config), phase=phase)
        session.commit()
        return outcomes


def approve_all(app, incident_id: int, now: datetime, actor: Actor = LEAD, reasons: str = ""):
    """Approve every draft of the incident through the bulk flow and commit; returns the BulkResult."""
    from sqlmodel import select

    from app.flows import notifications as flows
    from app.incidents.models import Incident
    from app.notifications.models import Notification

    with app.app_context(), session_of(app) as session:
        drafts = session.exec(select(Notification).where(Notification.incident_id == incident_id,
                                                         Notification.status == "draft")).all()
        result = flows.approve_many(session=session, incident=session.get(Incident, incident_id),
                                    selection={n.id: n.version for n in drafts}, reasons={n.id: reasons for n in drafts},
                                    actor=actor, now=now, settings=notice_settings(app.config))
        session.commit()
        return result


def dispatch(app, now: datetime, worker: str = "w1") -> dict:
    """One dispatch pass, as the scheduler's tick hook runs it."""
    from app.flows.dispatch import dispatch_outbox

    with app.app_context():
        return dispatch_outbox(app, now, worker)


def notifications(app, incident_id: int | None = None):
    from sqlmodel import select

    from app.notifications.models import Notification

    with session_of(app) as session:
        query = select(Notification).order_by(Notification.id)
        if incident_id is not None:
            query = query.where(Notification.incident_id == incident_id)
        return list(session.exec(query))
