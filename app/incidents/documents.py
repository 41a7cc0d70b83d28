"""Incidents as JSON documents for the API."""

from __future__ import annotations

from sqlmodel import Session, select

from app.auth.models import User
from app.core.time import iso
from app.incidents import service
from app.incidents.models import Incident


def owners_of(*, session: Session, incidents: list[Incident]) -> dict[int, User]:
    """The owners of these incidents by user id, in one query (for lists)."""
    ids = sorted({i.owner_id for i in incidents if i.owner_id})
    return {u.id: u for u in session.exec(select(User).where(User.id.in_(ids)))} if ids else {}


def incident_document(*, session: Session, incident: Incident, brief: bool = False,
                      owners: dict[int, User] | None = None) -> dict:
    """An incident as the API shows it (brief: without scope); lists pass owners_of() to save a query per row."""
    if owners is not None:
        owner = owners.get(incident.owner_id)
    else:
        owner = session.get(User, incident.owner_id) if incident.owner_id else None
    doc = {
        "ref": incident.ref, "title": incident.title, "incident_type": incident.incident_type,
        "status": str(incident.status), "severity": str(incident.severity), "drill": incident.drill,
        "restricted": incident.restricted, "breach_types": incident.breach_types, "version": incident.version,
        "owner": owner.email if owner else None, "detected_at": iso(incident.detected_at),
        "aware_at": iso(incident.aware_at), "occurred_from": iso(incident.occurred_from),
        "occurred_to": iso(incident.occurred_to), "contained_at": iso(incident.contained_at),
        "closed_at": iso(incident.closed_at), "created_at": iso(incident.created_at),
        "updated_at": iso(incident.updated_at),
    }
    if not brief:
        doc.update({"summary": incident.summary, "status_rationale": incident.status_rationale,
                    "flags": incident.flags, "anchors": incident.anchors,
                    "scope": service.get_scope(session=session, incident_id=incident.id).as_dict()})
    return doc
