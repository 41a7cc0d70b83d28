"""Incidents as JSON documents for the API."""

from __future__ import annotations

from sqlmodel import Session

from app.auth.models import User
from app.core.time import iso
from app.incidents import service
from app.incidents.models import Incident


def incident_document(*, session: Session, incident: Incident, brief: bool = False) -> dict:
    """An incident as the API shows it (brief: without scope)."""
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
