"""Incident endpoints: declare, read, edit with version check, status, scope, impact, obligations, timeline."""

from __future__ import annotations

from flask import request

from app import runtime
from app.api import api_bp, json_body
from app.auth.permissions import Permission, declare
from app.clock import obligations as obligation_service
from app.core import time
from app.flows import incident as flows
from app.incidents import access
from app.incidents import impact as impact_service
from app.incidents import service
from app.incidents.documents import incident_document
from app.incidents.models import IncidentCreate, IncidentUpdate, ScopeIn, StatusChange
from app.db import get_session
from app.timeline import service as timeline


@api_bp.post("/incidents")
@declare(Permission.incident_write)
def create_incident():
    """Declare an incident; answers 201 with its reference and the derived facts."""
    data = IncidentCreate.model_validate(json_body())
    db = get_session()
    incident = flows.declare(session=db, data=data, actor=runtime.actor(), now=time.now(),
                             settings=runtime.clock_settings(), known_types=runtime.incident_type_ids(),
                             incident_type_obj=runtime.incident_types().get(data.incident_type))
    db.commit()
    return incident_document(session=db, incident=incident), 201, {"Location": f"/api/v1/incidents/{incident.ref}"}


@api_bp.get("/incidents")
@declare(Permission.incident_read)
def list_incidents():
    """Incidents, newest first (open ones only with ?open=1)."""
    db = get_session()
    items = service.list_incidents(session=db, viewer=runtime.viewer(),
                                   open_only=request.args.get("open") in {"1", "true"})
    return {"items": [incident_document(session=db, incident=i, brief=True) for i in items], "total": len(items)}


@api_bp.get("/incidents/<ref>")
@declare(Permission.incident_read)
def get_incident(ref: str):
    """One incident with scope and status."""
    db = get_session()
    return incident_document(session=db, incident=access.get_visible_by_ref(session=db, ref=ref, viewer=runtime.viewer()))


@api_bp.patch("/incidents/<ref>")
@declare(Permission.incident_write)
def edit_incident(ref: str):
    """Edit fields; the body names the version it started from (stale edits get 409)."""
    db = get_session()
    incident = access.get_visible_by_ref(session=db, ref=ref, viewer=runtime.viewer())
    data = IncidentUpdate.model_validate(json_body())
    flows.edit(session=db, incident=incident, data=data, actor=runtime.actor(), now=time.now(),
               settings=runtime.clock_settings())
    db.commit()
    return incident_document(session=db, incident=incident)


@api_bp.post("/incidents/<ref>/status")
@declare(Permission.incident_write)
def change_status(ref: str):
    """Move the incident in its workflow; not_a_breach needs a rationale."""
    db = get_session()
    incident = access.get_visible_by_ref(session=db, ref=ref, viewer=runtime.viewer())
    flows.change_status(session=db, incident=incident, change=StatusChange.model_validate(json_body()),
                        actor=runtime.actor(), now=time.now(), settings=runtime.clock_settings())
    db.commit()
    return incident_document(session=db, incident=incident)


@api_bp.put("/incidents/<ref>/scope")
@declare(Permission.incident_write)
def put_scope(ref: str):
    """Replace the scope (systems, data categories, controllers, count overrides)."""
    db = get_session()
    incident = access.get_visible_by_ref(session=db, ref=ref, viewer=runtime.viewer())
    body = json_body()
    version = body.pop("version", None)
    flows.set_scope(session=db, incident=incident, scope=ScopeIn.model_validate(body), actor=runtime.actor(),
                    now=time.now(), settings=runtime.clock_settings(), expected_version=version)
    db.commit()
    return incident_document(session=db, incident=incident)


@api_bp.get("/incidents/<ref>/impact")
@declare(Permission.incident_read)
def get_impact(ref: str):
    """The latest impact snapshot: per controller and totals, naming the data-map version used."""
    db = get_session()
    incident = access.get_visible_by_ref(session=db, ref=ref, viewer=runtime.viewer())
    snapshot = impact_service.latest_snapshot(session=db, incident_id=incident.id)
    if snapshot is None:
        return {"datamap_version": None, "controllers": [], "totals": {}}
    return impact_service.impact_document(session=db, snapshot=snapshot)


@api_bp.get("/incidents/<ref>/obligations")
@declare(Permission.incident_read)
def get_obligations(ref: str):
    """Every obligation with regime, stage, recipient, anchor, due time and status."""
    db = get_session()
    incident = access.get_visible_by_ref(session=db, ref=ref, viewer=runtime.viewer())
    now = time.now()
    items = obligation_service.list_obligations(session=db, incident_id=incident.id)
    return {"items": [obligation_service.obligation_document(o, now=now) for o in items], "total": len(items)}


@api_bp.get("/incidents/<ref>/timeline")
@declare(Permission.incident_read)
def get_timeline(ref: str):
    """The events in chain order with hashes; ?format=json|csv|html|pdf&tz=&controller=&redact= for exports."""
    db = get_session()
    incident = access.get_visible_by_ref(session=db, ref=ref, viewer=runtime.viewer())
    if request.args.get("format"):  # issue 6: the streamed, schema'd exports (app/exports)
        from app.api.exports import timeline_export

        return timeline_export(incident)
    events = timeline.events(session=db, incident_id=incident.id)
    check = timeline.verify_incident(session=db, incident_id=incident.id)
    from app.timeline.redaction import apply_to_document, marks_of  # issue 10: events redacted under retention
    marks = marks_of(session=db, incident_id=incident.id)  # issue 10
    return {"incident": incident.ref, "verified": check.ok, "head_hash": check.head_hash,
            "events": [apply_to_document(timeline.event_document(e), marks.get(e.id)) for e in events]}


@api_bp.post("/incidents/<ref>/timeline")
@declare(Permission.incident_write)
def add_timeline_entry(ref: str):
    """A manual entry: {"summary", "occurred_at" (optional, ISO 8601 with offset)}."""
    db = get_session()
    incident = access.get_visible_by_ref(session=db, ref=ref, viewer=runtime.viewer())
    body = json_body()
    note = runtime.parse_note(body)
    flows.add_note(session=db, incident=incident, text=note.summary, occurred_at=note.occurred_at,
                   actor=runtime.actor(), now=time.now())
    db.commit()
    return {"ok": True}, 201
