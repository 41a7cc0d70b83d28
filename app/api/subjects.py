"""Subject endpoints (issue 10): import lists, draft and send the Art. 34 communication, access, erasure, retention."""

from __future__ import annotations

from flask import current_app, request

from app import runtime
from app.api import api_bp, body_as
from app.api.queries import TRUE, RetentionQuery, SubjectListQuery, parse_page_query, parse_query
from app.api.schemas.subjects import (AccessOut, CommunicationOut, EraseOut, ImportOut, RetentionOut, SendOut,
                                      SubjectList)
from app.api.spec import TEXT, Media, operation
from app.auth.permissions import Permission, declare
from app.core import time
from app.core.errors import InputError, Problem
from app.core.time import iso
from app.db import get_session
from app.flows import subjects as flows
from app.notifications.settings import NoticeSettings
from app.subjects import retention, service
from app.subjects.models import EraseIn, LookupIn, SendIn
from app.subjects.pseudonym import KeyRing


# A CSV file as the body, or as the multipart field `file` (what a browser form or `curl -F` sends).
CSV_UPLOAD = Media({"text/csv": TEXT, "multipart/form-data": {
    "type": "object", "required": ["file"],
    "properties": {"file": {"type": "string", "contentMediaType": "text/csv", "description": "the CSV file"}}}})


def _ring() -> KeyRing:
    return KeyRing.from_config(current_app.config)


def _notice_settings() -> NoticeSettings:
    return NoticeSettings.from_config(current_app.config, regimes=runtime.regimes())


@api_bp.post("/incidents/<ref>/subjects/import/<controller_key>")
@declare(Permission.subjects_manage)
@operation(tags=["subjects"], body=CSV_UPLOAD, responses={201: ImportOut}, errors=(409,))
def import_subjects(ref: str, controller_key: str):
    """Import a CSV of subjects (body text/csv, or multipart field `file`) for one controller."""
    db = get_session()
    incident = runtime.visible_incident(ref)
    controller = flows.controller_of(session=db, key=controller_key)
    upload = request.files.get("file")
    raw = upload.read() if upload is not None else request.get_data()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(Problem("the CSV is not UTF-8 text", field="body")) from None
    result = flows.import_list(session=db, incident=incident, controller=controller, csv_text=text, ring=_ring(),
                               actor=runtime.actor(), now=time.now())
    db.commit()
    return {"incident": incident.ref, "controller": controller.key, **result.as_dict()}, 201


@api_bp.get("/incidents/<ref>/subjects")
@declare(Permission.subjects_manage)
@operation(tags=["subjects"], query=SubjectListQuery, responses={200: SubjectList}, errors=(409,))
def list_subjects(ref: str):
    """Subject rows of the incident with delivery status (pseudonyms, masked contacts), paginated; ?status=, ?controller=."""
    db = get_session()
    incident = runtime.visible_incident(ref)
    query, page = parse_page_query(SubjectListQuery)
    service.sync_delivery(session=db, incident_id=incident.id)
    db.commit()
    rows = service.page_for(session=db, incident_id=incident.id, page=page, status=query.status,
                            controller_key=query.controller)
    return {"incident": incident.ref, "counts": {str(k): v for k, v in
                                                 service.counts_for(session=db, incident_id=incident.id).items()},
            "items": [{"row_id": s.id, "controller_id": s.controller_id, "key_id": s.key_id,
                       "pseudonym": s.pseudonym, "contact": service.mask_contact(s.contact),
                       "status": str(s.status), "delivered_at": iso(s.delivered_at)} for s in rows.items],
            **rows.meta()}


@api_bp.post("/incidents/<ref>/subjects/communication")
@declare(Permission.subjects_manage)
@operation(tags=["subjects"], body=SendIn, responses={201: CommunicationOut}, errors=(409,))
def draft_communication(ref: str):
    """Draft the Art. 34 communication for one controller's subjects; approve it with the notification endpoints."""
    data = body_as(SendIn)
    db = get_session()
    incident = runtime.visible_incident(ref)
    n = flows.prepare_communication(session=db, incident=incident, controller=flows.controller_of(
        session=db, key=data.controller), actor=runtime.actor(), now=time.now(), settings=_notice_settings())
    db.commit()
    return {"notification_id": n.id, "uid": n.uid, "status": str(n.status), "locale": n.locale}, 201


@api_bp.post("/incidents/<ref>/subjects/send")
@declare(Permission.subjects_manage)
@operation(tags=["subjects"], body=SendIn, responses={202: SendOut}, errors=(409,))
def send_communication(ref: str):
    """Queue the approved communication to every listed subject of one controller (through the outbox)."""
    data = body_as(SendIn)
    db = get_session()
    incident = runtime.visible_incident(ref)
    result = flows.send(session=db, incident=incident, controller=flows.controller_of(session=db, key=data.controller),
                        actor=runtime.actor(), now=time.now(), settings=_notice_settings())
    db.commit()
    return {"notification_id": result.notification.id, "queued": result.queued,
            "without_contact": result.without_contact}, 202


@api_bp.post("/subjects/access")
@declare(Permission.subjects_manage)
@operation(tags=["subjects"], body=LookupIn, responses={200: AccessOut}, errors=(404, 409))
def subject_access():
    """'Was I affected?': everything held about an identifier, as JSON (POST: identifiers never go in URLs)."""
    data = body_as(LookupIn)
    db = get_session()
    controller = flows.controller_of(session=db, key=data.controller) if data.controller else None
    document = flows.access_export(session=db, identifier=data.identifier, ring=_ring(), actor=runtime.actor(),
                                   now=time.now(), controller=controller)
    db.commit()
    return document


@api_bp.post("/subjects/erase")
@declare(Permission.subjects_manage)
@operation(tags=["subjects"], body=EraseIn, responses={200: EraseOut}, errors=(404, 409))
def subject_erase():
    """Erase or pseudonymise a subject everywhere; each incident's timeline records it without personal data."""
    data = body_as(EraseIn)
    db = get_session()
    controller = flows.controller_of(session=db, key=data.controller) if data.controller else None
    n = flows.erase(session=db, identifier=data.identifier, mode=data.mode, reason=data.reason, ring=_ring(),
                    actor=runtime.actor(), now=time.now(), controller=controller)
    db.commit()
    return {"rows": n, "mode": data.mode}


@api_bp.post("/retention/run")
@declare(Permission.subjects_manage)
@operation(tags=["subjects"], query=RetentionQuery, responses={200: RetentionOut})
def retention_run():
    """Run retention now (`?dry_run=1`: only show what would change)."""
    dry = parse_query(RetentionQuery).dry_run in TRUE
    db = get_session()
    plan = flows.run_retention(session=db, settings=retention.RetentionSettings.from_config(current_app.config),
                               now=time.now(), actor=runtime.actor().name, dry_run=dry)
    if dry:
        db.rollback()
    else:
        db.commit()
    return {"dry_run": dry, **plan.as_dict()}
