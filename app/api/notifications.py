"""Notification endpoints: draft for every affected customer, list, read, edit, approve, cancel, record filed."""

from __future__ import annotations

from flask import current_app, request
from sqlmodel import select

from app import runtime
from app.api import api_bp, json_body
from app.auth.permissions import Permission, declare
from app.clock.models import Obligation
from app.core import time
from app.core.errors import InputError, Problem
from app.datamap.models import Controller
from app.db import get_session
from app.flows import notifications as flows
from app.incidents import access
from app.notifications.documents import notification_document, summary_document
from app.notifications.models import ApproveIn, CancelIn, DraftRequest, FiledIn, NotificationEdit
from app.notifications.settings import NoticeSettings


def settings() -> NoticeSettings:
    """Notification settings of the running app."""
    return NoticeSettings.from_config(current_app.config, regimes=runtime.regimes())


def _notification(db, notification_id: int):
    """The notification, if the caller may see its incident (need-to-know); NotFound otherwise."""
    notification = flows.get(session=db, notification_id=notification_id)
    access.get_visible_by_id(session=db, incident_id=notification.incident_id, viewer=runtime.viewer())
    return notification


def _optional_body() -> dict:
    return json_body() if request.get_data() else {}


def _summaries(db, notifications, actions: dict | None = None, channels: dict | None = None) -> list[dict]:
    controller_ids = sorted({n.controller_id for n in notifications if n.controller_id})
    controllers, obligations = {}, {}
    for start in range(0, len(controller_ids), 900):
        chunk = controller_ids[start:start + 900]
        controllers.update({c.id: c for c in db.exec(select(Controller).where(Controller.id.in_(chunk)))})
    obligation_ids = sorted({n.obligation_id for n in notifications})
    for start in range(0, len(obligation_ids), 900):
        chunk = obligation_ids[start:start + 900]
        obligations.update({o.id: o for o in db.exec(select(Obligation).where(Obligation.id.in_(chunk)))})
    return [summary_document(n, controller=controllers.get(n.controller_id), obligation=obligations.get(n.obligation_id),
                             action=(actions or {}).get(n.id), channels=(channels or {}).get(n.id))
            for n in notifications]


@api_bp.post("/incidents/<ref>/notifications")
@declare(Permission.notification_draft)
def draft_notifications(ref: str):
    """Draft a notice for every affected customer (and our own authority/subject duties); idempotent."""
    data = DraftRequest.model_validate(_optional_body())
    db = get_session()
    incident = access.get_visible_by_ref(session=db, ref=ref, viewer=runtime.viewer())
    outcomes = flows.draft(session=db, incident=incident, actor=runtime.actor(), now=time.now(), settings=settings(),
                           phase=data.phase)
    db.commit()
    body = _summaries(db, [o.notification for o in outcomes], actions={o.notification.id: o.action for o in outcomes})
    return body, 201 if any(o.action == "created" for o in outcomes) else 200


@api_bp.get("/incidents/<ref>/notifications")
@declare(Permission.incident_read)
def list_notifications(ref: str):
    """The incident's notifications; filter with ?status=draft|approved|queued|delivered|failed|cancelled, ?channel=."""
    db = get_session()
    incident = access.get_visible_by_ref(session=db, ref=ref, viewer=runtime.viewer())
    items, channels = flows.list_for_incident(session=db, incident=incident, status=request.args.get("status") or None,
                                              channel=request.args.get("channel") or None)
    return {"items": _summaries(db, items, channels=channels), "total": len(items)}


@api_bp.get("/notifications/<int:notification_id>")
@declare(Permission.incident_read)
def get_notification(notification_id: int):
    """One notification: status, rendered content, outbox rows, every attempt and the acknowledgement."""
    db = get_session()
    return notification_document(db, _notification(db, notification_id))


@api_bp.patch("/notifications/<int:notification_id>")
@declare(Permission.notification_draft)
def edit_notification(notification_id: int):
    """Edit a draft's subject, text or HTML; the body names the version it started from (stale: 409)."""
    data = NotificationEdit.model_validate(json_body())
    db = get_session()
    notification = _notification(db, notification_id)
    flows.edit(session=db, notification=notification, data=data, actor=runtime.actor(), now=time.now())
    db.commit()
    return notification_document(db, notification)


@api_bp.post("/notifications/<int:notification_id>/approve")
@declare(Permission.notification_approve)
def approve_notification(notification_id: int):
    """Approve a draft (a lead, not its drafter) and queue it; overdue obligations need reasons_for_delay."""
    data = ApproveIn.model_validate(_optional_body())
    db = get_session()
    notification = _notification(db, notification_id)
    flows.approve(session=db, notification=notification, data=data, actor=runtime.actor(), now=time.now(),
                  settings=settings())
    db.commit()
    return notification_document(db, notification)


@api_bp.post("/notifications/<int:notification_id>/cancel")
@declare(Permission.notification_draft)
def cancel_notification(notification_id: int):
    """Cancel a notice before delivery, with a reason (approved or queued notices: a lead)."""
    data = CancelIn.model_validate(json_body())
    db = get_session()
    notification = _notification(db, notification_id)
    flows.cancel(session=db, notification=notification, reason=data.reason, actor=runtime.actor(), now=time.now(),
                 settings=settings())
    db.commit()
    return notification_document(db, notification)


@api_bp.post("/notifications/<int:notification_id>/filed")
@declare(Permission.notification_approve)
def file_notification(notification_id: int):
    """Record an approved authority report or data-subject letter as filed outside Breachline."""
    data = FiledIn.model_validate(json_body())
    now = time.now()
    if data.filed_at > now:
        raise InputError(Problem("the filing time is in the future", field="filed_at"))
    db = get_session()
    notification = _notification(db, notification_id)
    flows.record_filed(session=db, notification=notification, filed_at=data.filed_at, reference=data.reference,
                       actor=runtime.actor(), now=now)
    db.commit()
    return notification_document(db, notification)
