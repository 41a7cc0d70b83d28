"""Receiving a signed SIEM alert: attach it to an open incident by dedup key, or declare a triage incident."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from app.clock.settings import ClockSettings
from app.flows import incident as flows
from app.flows.incident import Actor
from app.incidents.intake import AlertIn, IntakeReceipt, open_incident_for
from app.incidents.models import Incident, IncidentCreate, ScopeIn
def receive(*, session: Session, source: str, digest: str, alert: AlertIn, now: datetime, settings: ClockSettings,
            known_types: set[str], incident_type_obj) -> tuple[Incident, bool]:
    """Attach the alert to an open incident by dedup key, or declare a triage incident; (incident, created).

    Writes the timeline and the receipt; the caller commits once.
    """
    actor = Actor(name=f"intake:{source}", role="responder")
    incident = None
    if alert.dedup_key:
        incident = open_incident_for(session=session, source=source, dedup_key=alert.dedup_key)
    created = incident is None
    if incident is not None:
        flows.add_note(session=session, incident=incident, text=f"Alert received again from {source}: {alert.title}",
                       occurred_at=now, actor=actor, now=now)
    else:
        data = IncidentCreate(title=alert.title, incident_type=alert.incident_type, summary=alert.summary,
                              detected_at=alert.detected_at, scope=ScopeIn(systems=alert.systems),
                              **({"severity": alert.severity} if alert.severity else {}))
        incident = flows.declare(session=session, data=data, actor=actor, now=now, settings=settings,
                                 known_types=known_types, incident_type_obj=incident_type_obj)
        key = f" (dedup key {alert.dedup_key})" if alert.dedup_key else ""
        flows.add_note(session=session, incident=incident, text=f"Alert received from {source}{key}",
                       occurred_at=now, actor=actor, now=now)
    session.add(IntakeReceipt(source=source, signature_digest=digest, dedup_key=alert.dedup_key, received_at=now,
                              incident_id=incident.id))
    session.flush()
    return incident, created
