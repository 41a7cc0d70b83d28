"""Incident endpoints: declare, read, edit with version check, status, scope, impact, obligations, timeline."""

from __future__ import annotations

from flask import request

from app import runtime
from app.api import api_bp, body_as, json_body
from app.api.queries import IncidentListQuery, TimelineQuery, parse_page_query
from app.api.schemas.incidents import ImpactOut, IncidentList, IncidentOut, ObligationList
from app.api.schemas.timeline import TimelineEventOut, TimelineOut
from app.api.spec import BINARY, TEXT, Media, operation
from app.auth.permissions import Permission, declare
from app.clock import obligation_documents
from app.core import time
from app.flows import incident as flows
from app.incidents import impact as impact_service
from app.incidents import service
from app.incidents.documents import incident_document, owners_of
from app.incidents.models import IncidentCreate, IncidentUpdate, ScopeChange, ScopeIn, StatusChange
from app.db import get_session
from app.timeline import service as timeline
from app.timeline.models import NoteIn


@api_bp.post("/incidents")
@declare(Permission.incident_write)
@operation(tags=["incidents"], body=IncidentCreate,
           responses={201: Media({"application/json": IncidentOut}, headers={"Location": "the new incident"})})
def create_incident():
    """Declare an incident; answers 201 with its reference and the derived facts."""
    data = body_as(IncidentCreate)
    db = get_session()
    incident = flows.declare(session=db, data=data, actor=runtime.actor(), now=time.now(),
                             settings=runtime.clock_settings(), known_types=runtime.incident_type_ids(),
                             incident_type_obj=runtime.incident_types().get(data.incident_type))
    db.commit()
    return incident_document(session=db, incident=incident), 201, {"Location": f"/api/v1/incidents/{incident.ref}"}


@api_bp.get("/incidents")
@declare(Permission.incident_read)
@operation(tags=["incidents"], query=IncidentListQuery, responses={200: IncidentList})
def list_incidents():
    """Incidents the caller may see, newest first, paginated; ?open=1, ?status=, ?type=, ?severity=, ?drill=, ?q=."""
    db = get_session()
    query, page = parse_page_query(IncidentListQuery)
    found = service.search_incidents(session=db, viewer=runtime.viewer(), page=page, filters=service.IncidentFilter(
        open_only=query.open in {"1", "true"}, status=query.status or "", incident_type=query.type or "",
        severity=query.severity or "", drill=None if query.drill is None else query.drill in {"1", "true"}, q=query.q))
    owners = owners_of(session=db, incidents=found.items)
    return {"items": [incident_document(session=db, incident=i, brief=True, owners=owners) for i in found.items],
            **found.meta()}


@api_bp.get("/incidents/<ref>")
@declare(Permission.incident_read)
@operation(tags=["incidents"], responses={200: IncidentOut})
def get_incident(ref: str):
    """One incident with scope and status."""
    db = get_session()
    return incident_document(session=db, incident=runtime.visible_incident(ref))


@api_bp.patch("/incidents/<ref>")
@declare(Permission.incident_write)
@operation(tags=["incidents"], body=IncidentUpdate, responses={200: IncidentOut}, errors=(409,))
def edit_incident(ref: str):
    """Edit fields; the body names the version it started from (stale edits get 409)."""
    db = get_session()
    incident = runtime.visible_incident(ref)
    data = body_as(IncidentUpdate)
    flows.edit(session=db, incident=incident, data=data, actor=runtime.actor(), now=time.now(),
               settings=runtime.clock_settings())
    db.commit()
    return incident_document(session=db, incident=incident)


@api_bp.post("/incidents/<ref>/status")
@declare(Permission.incident_write)
@operation(tags=["incidents"], body=StatusChange, responses={200: IncidentOut}, errors=(409,))
def change_status(ref: str):
    """Move the incident in its workflow; not_a_breach needs a rationale."""
    db = get_session()
    incident = runtime.visible_incident(ref)
    flows.change_status(session=db, incident=incident, change=body_as(StatusChange),
                        actor=runtime.actor(), now=time.now(), settings=runtime.clock_settings())
    db.commit()
    return incident_document(session=db, incident=incident)


@api_bp.put("/incidents/<ref>/scope")
@declare(Permission.incident_write)
@operation(tags=["incidents"], body=ScopeChange, responses={200: IncidentOut}, errors=(409,))
def put_scope(ref: str):
    """Replace the scope (systems, data categories, controllers, count overrides)."""
    db = get_session()
    incident = runtime.visible_incident(ref)
    change = body_as(ScopeChange)  # validates `version` too: "abc" is a 422, not a stale edit
    scope = ScopeIn.model_validate(change.model_dump(exclude={"version"}))
    flows.set_scope(session=db, incident=incident, scope=scope, actor=runtime.actor(),
                    now=time.now(), settings=runtime.clock_settings(), expected_version=change.version)
    db.commit()
    return incident_document(session=db, incident=incident)


@api_bp.get("/incidents/<ref>/impact")
@declare(Permission.incident_read)
@operation(tags=["incidents"], responses={200: ImpactOut})
def get_impact(ref: str):
    """The latest impact snapshot: per controller and totals, naming the data-map version used."""
    db = get_session()
    incident = runtime.visible_incident(ref)
    snapshot = impact_service.latest_snapshot(session=db, incident_id=incident.id)
    if snapshot is None:
        return {"datamap_version": None, "datamap_version_hash": None, "computed_at": None, "controllers": [],
                "totals": {}}  # the same keys as a snapshot's document, so clients need one shape
    return impact_service.impact_document(session=db, snapshot=snapshot)


@api_bp.get("/incidents/<ref>/obligations")
@declare(Permission.incident_read)
@operation(tags=["obligations"], responses={200: ObligationList})
def get_obligations(ref: str):
    """Every obligation with regime, stage, recipient, anchor, due time and status."""
    db = get_session()
    incident = runtime.visible_incident(ref)
    now = time.now()
    items = obligation_documents.list_obligations(session=db, incident_id=incident.id)
    return {"items": [obligation_documents.obligation_document(o, now=now) for o in items], "total": len(items)}


@api_bp.get("/incidents/<ref>/timeline")
@declare(Permission.incident_read)
@operation(tags=["timeline"], query=TimelineQuery,
           responses={200: Media({"application/json": (TimelineOut, {"$ref": "#/components/schemas/TimelineExport"}),
                                  "text/csv": TEXT, "text/html": TEXT, "application/pdf": BINARY},
                                 headers={"Content-Disposition": "exports: the file name"})})
def get_timeline(ref: str):
    """The events in chain order with hashes, paginated, ?kind=&since=&until=; ?format=json|csv|html|pdf for exports."""
    db = get_session()
    incident = runtime.visible_incident(ref)
    if request.args.get("format"):
        from app.exports.options import parse_options

        parse_options(request.args)  # the export's own checks first: they name every bad option at once (tz too)
    query, page = parse_page_query(TimelineQuery)  # every documented parameter is checked, exports too
    if query.format:  # issue 6: the streamed, schema'd exports (app/exports)
        from app.api.exports import timeline_export

        return timeline_export(incident)
    events = timeline.page_of_events(session=db, incident_id=incident.id, page=page, kind=query.kind,
                                     since=query.since, until=query.until)
    check = timeline.verify_incident(session=db, incident_id=incident.id)
    from app.timeline.redaction import apply_to_document, marks_of  # issue 10: events redacted under retention
    marks = marks_of(session=db, incident_id=incident.id)  # issue 10
    return {"incident": incident.ref, "verified": check.ok, "head_hash": check.head_hash,
            "items": [apply_to_document(timeline.event_document(e), marks.get(e.id)) for e in events.items],
            **events.meta()}


@api_bp.post("/incidents/<ref>/timeline")
@declare(Permission.incident_write)
@operation(tags=["timeline"], body=NoteIn, responses={201: TimelineEventOut})
def add_timeline_entry(ref: str):
    """A manual entry: {"summary", "occurred_at" (optional, ISO 8601 with offset)}."""
    db = get_session()
    incident = runtime.visible_incident(ref)
    body = json_body()
    note = body_as(NoteIn, body)
    event = flows.add_note(session=db, incident=incident, text=note.summary, occurred_at=note.occurred_at,
                           actor=runtime.actor(), now=time.now())
    db.commit()
    return timeline.event_document(event), 201
