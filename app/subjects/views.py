"""The Subjects page of an incident (leads): lists, Art. 34 sending, access and erasure requests, retention."""

from __future__ import annotations

import json

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from sqlmodel import select

from app import runtime
from app.auth.permissions import Permission, declare
from app.core import time
from app.core.errors import Conflict, Forbidden, InputError, NotFound
from app.datamap.models import Controller
from app.db import get_session
from app.flows import subjects as flows
from app.incidents.impact import impact_rows, latest_snapshot
from app.notifications.models import Notification
from app.notifications.settings import NoticeSettings
from app.subjects import retention, service
from app.subjects.models import EraseIn, LookupIn, RetentionRun
from app.subjects.pseudonym import KeyRing

bp = Blueprint("subjects", __name__)

_incident = runtime.visible_incident_or_404




def _messages(exc: Exception) -> list[str]:
    if isinstance(exc, InputError):
        return [str(p) for p in exc.problems]
    return [str(exc)]


def _page(incident, *, problems=(), status: int = 200, found: dict | None = None):
    db = get_session()
    service.sync_delivery(session=db, incident_id=incident.id)
    db.commit()
    snapshot = latest_snapshot(session=db, incident_id=incident.id)
    ids = {r.controller_id for r in impact_rows(session=db, snapshot_id=snapshot.id)} if snapshot else set()
    counts = service.counts_for(session=db, incident_id=incident.id)
    ids |= set(counts)
    controllers = list(db.exec(select(Controller).where(Controller.id.in_(ids)).order_by(Controller.name))) if ids else []
    comms = {n.controller_id: n for n in db.exec(select(Notification).where(
        Notification.incident_id == incident.id, Notification.recipient_key.startswith(flows.RECIPIENT_PREFIX))
        .order_by(Notification.id))}
    rows = service.list_for(session=db, incident_id=incident.id)
    runs = list(db.exec(select(RetentionRun).order_by(RetentionRun.started_at.desc()).limit(5)))
    return render_template("subjects/subjects.html", incident=incident, controllers=controllers, counts=counts,
                           comms=comms, rows=rows[:500], total=len(rows), mask=service.mask_contact,
                           label=service.label_of, problems=list(problems), found=found, runs=runs), status


@bp.get("/incidents/<ref>/subjects")
@declare(Permission.subjects_manage)
def subjects_page(ref: str):
    """Affected-subject lists of the incident per controller, with delivery status; the rights requests."""
    return _page(_incident(ref))


def _act(ref: str, work, done: str):
    incident = _incident(ref)
    db = get_session()
    try:
        message = work(db, incident) or done
        db.commit()
    except (InputError, Conflict, NotFound, Forbidden) as exc:
        db.rollback()
        return _page(incident, problems=_messages(exc),
                     status=422 if isinstance(exc, InputError) else 404 if isinstance(exc, NotFound) else 409)
    flash(message)
    return redirect(url_for("subjects.subjects_page", ref=ref))


def _ring() -> KeyRing:
    return KeyRing.from_config(current_app.config)


def _notice_settings() -> NoticeSettings:
    return NoticeSettings.from_config(current_app.config, regimes=runtime.regimes())


@bp.post("/incidents/<ref>/subjects/import")
@declare(Permission.subjects_manage)
def import_subjects(ref: str):
    """Import a CSV (identifier, email) for one controller."""
    def work(db, incident):
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            raise InputError("choose a CSV file to import")
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InputError("the file is not UTF-8 text") from None
        controller = flows.controller_of(session=db, key=request.form.get("controller", ""))
        result = flows.import_list(session=db, incident=incident, controller=controller, csv_text=text,
                                   ring=_ring(), actor=runtime.actor(), now=time.now())
        return f"Imported for {controller.name}: {result.added} added, {result.updated} updated."
    return _act(ref, work, "")


@bp.post("/incidents/<ref>/subjects/draft")
@declare(Permission.subjects_manage)
def draft_communication(ref: str):
    """Draft the Art. 34 communication for one controller's subjects (approved on the Notifications page)."""
    def work(db, incident):
        controller = flows.controller_of(session=db, key=request.form.get("controller", ""))
        n = flows.prepare_communication(session=db, incident=incident, controller=controller, actor=runtime.actor(),
                                        now=time.now(), settings=_notice_settings())
        return f"Art. 34 communication {n.uid} for {controller.name} is {n.status}; another lead approves it."
    return _act(ref, work, "")


@bp.post("/incidents/<ref>/subjects/send")
@declare(Permission.subjects_manage)
def send_communication(ref: str):
    """Queue the approved communication to every listed subject of one controller."""
    def work(db, incident):
        controller = flows.controller_of(session=db, key=request.form.get("controller", ""))
        result = flows.send(session=db, incident=incident, controller=controller, actor=runtime.actor(),
                            now=time.now(), settings=_notice_settings())
        return f"Queued for {result.queued} subject(s) of {controller.name}."
    return _act(ref, work, "")


def _controller_or_none(db, key: str | None):
    return flows.controller_of(session=db, key=key) if key else None


@bp.post("/incidents/<ref>/subjects/lookup")
@declare(Permission.subjects_manage)
def lookup(ref: str):
    """'Was I affected?': everything held about an identifier, as JSON (POST: identifiers never go in URLs or logs)."""
    incident = _incident(ref)
    db = get_session()
    try:
        data = LookupIn(identifier=request.form.get("identifier", ""), controller=request.form.get("controller") or None)
        document = flows.access_export(session=db, identifier=data.identifier, ring=_ring(), actor=runtime.actor(),
                                       now=time.now(), controller=_controller_or_none(db, data.controller))
        db.commit()
    except (InputError, Conflict, NotFound, Forbidden, ValueError) as exc:
        db.rollback()
        return _page(incident, problems=_messages(exc), status=422)
    if request.form.get("download"):
        return Response(json.dumps(document, indent=2, ensure_ascii=False), mimetype="application/json",
                        headers={"Content-Disposition": "attachment; filename=subject-access.json",
                                 "Cache-Control": "no-store"})
    return _page(incident, found=document)


@bp.post("/incidents/<ref>/subjects/erase")
@declare(Permission.subjects_manage)
def erase(ref: str):
    """Erase or pseudonymise a subject on request; the timeline records it without personal data."""
    def work(db, incident):
        data = EraseIn(identifier=request.form.get("identifier", ""), mode=request.form.get("mode", "erase"),
                       reason=request.form.get("reason", ""), controller=request.form.get("controller") or None)
        n = flows.erase(session=db, identifier=data.identifier, mode=data.mode, reason=data.reason, ring=_ring(),
                        actor=runtime.actor(), now=time.now(), controller=_controller_or_none(db, data.controller))
        return f"{n} subject row(s) {'erased' if data.mode == 'erase' else 'pseudonymised'}."
    try:
        return _act(ref, work, "")
    except ValueError as exc:  # pydantic: an empty identifier
        return _page(_incident(ref), problems=[str(exc)], status=422)


@bp.post("/incidents/<ref>/subjects/retention")
@declare(Permission.subjects_manage)
def retention_preview(ref: str):
    """Dry run of the retention policy: what the next run would change (nothing is changed)."""
    incident = _incident(ref)
    db = get_session()
    plan = flows.run_retention(session=db, settings=retention.RetentionSettings.from_config(current_app.config),
                               now=time.now(), actor=runtime.actor().name, dry_run=True)
    db.rollback()
    return _page(incident, found={"retention_dry_run": plan.as_dict()})
