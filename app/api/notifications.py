"""Notification endpoints: draft for every affected customer, list, read, edit, approve, cancel, record filed."""

from __future__ import annotations

from flask import current_app, request
from sqlmodel import select

from app import runtime
from app.api import api_bp, body_as, json_body
from app.api.queries import NotificationListQuery, parse_page_query
from app.api.schemas.notifications import DraftedList, NotificationList, NotificationOut
from app.api.spec import operation
from app.auth.permissions import Permission, declare
from app.clock.models import Obligation
from app.core import time
from app.core.errors import InputError, Problem
from app.core.pagination import Page
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


def _document(db, notification) -> dict:
    # MAIL_FROM names the domain of the Message-ID each email attempt carries (the proof of delivery).
    return notification_document(db, notification, mail_from=current_app.config.get("MAIL_FROM"))


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
@operation(tags=["notifications"], body=DraftRequest, body_required=False,
           responses={201: DraftedList, 200: DraftedList}, errors=(409,))
def draft_notifications(ref: str):
    """Draft a notice for every affected customer (and our own authority/subject duties); idempotent."""
    data = body_as(DraftRequest, _optional_body())
    db = get_session()
    incident = runtime.visible_incident(ref)
    outcomes = flows.draft(session=db, incident=incident, actor=runtime.actor(), now=time.now(), settings=settings(),
                           phase=data.phase)
    db.commit()
    body = _summaries(db, [o.notification for o in outcomes], actions={o.notification.id: o.action for o in outcomes})
    return body, 201 if any(o.action == "created" for o in outcomes) else 200


@api_bp.get("/incidents/<ref>/notifications")
@declare(Permission.incident_read)
@operation(tags=["notifications"], query=NotificationListQuery, responses={200: NotificationList})
def list_notifications(ref: str):
    """The incident's notifications, paginated; filter with ?status=, ?channel=email|webhook|manual|drill, ?kind=."""
    db = get_session()
    incident = runtime.visible_incident(ref)
    query, page = parse_page_query(NotificationListQuery)
    items, channels = flows.list_for_incident(session=db, incident=incident, status=query.status,
                                              channel=query.channel, kind=query.kind)
    # The channel filter needs each row's channels, so the page is cut after filtering (same rows as the web page).
    found = Page(items[page.offset:page.offset + page.per_page], len(items), page)
    return {"items": _summaries(db, found.items, channels=channels), **found.meta()}


@api_bp.get("/notifications/<int:notification_id>")
@declare(Permission.incident_read)
@operation(tags=["notifications"], responses={200: NotificationOut})
def get_notification(notification_id: int):
    """One notification: status, rendered content, outbox rows, every attempt and the acknowledgement."""
    db = get_session()
    return _document(db, _notification(db, notification_id))


@api_bp.patch("/notifications/<int:notification_id>")
@declare(Permission.notification_draft)
@operation(tags=["notifications"], body=NotificationEdit, responses={200: NotificationOut}, errors=(409,))
def edit_notification(notification_id: int):
    """Edit a draft's subject, text or HTML; the body names the version it started from (stale: 409)."""
    data = body_as(NotificationEdit)
    db = get_session()
    notification = _notification(db, notification_id)
    flows.edit(session=db, notification=notification, data=data, actor=runtime.actor(), now=time.now())
    db.commit()
    return _document(db, notification)


@api_bp.post("/notifications/<int:notification_id>/approve")
@declare(Permission.notification_approve)
@operation(tags=["notifications"], body=ApproveIn, body_required=False, responses={200: NotificationOut},
           errors=(409,))
def approve_notification(notification_id: int):
    """Approve a draft (a lead, not its drafter) and queue it; overdue obligations need reasons_for_delay."""
    data = body_as(ApproveIn, _optional_body())
    db = get_session()
    notification = _notification(db, notification_id)
    flows.approve(session=db, notification=notification, data=data, actor=runtime.actor(), now=time.now(),
                  settings=settings())
    db.commit()
    return _document(db, notification)


@api_bp.post("/notifications/<int:notification_id>/cancel")
@declare(Permission.notification_draft)
@operation(tags=["notifications"], body=CancelIn, responses={200: NotificationOut}, errors=(409,))
def cancel_notification(notification_id: int):
    """Cancel a notice before delivery, with a reason (approved or queued notices: a lead)."""
    data = body_as(CancelIn)
    db = get_session()
    notification = _notification(db, notification_id)
    flows.cancel(session=db, notification=notification, reason=data.reason, actor=runtime.actor(), now=time.now(),
                 settings=settings())
    db.commit()
    return _document(db, notification)


@api_bp.post("/notifications/<int:notification_id>/filed")
@declare(Permission.notification_approve)
@operation(tags=["notifications"], body=FiledIn, responses={200: NotificationOut}, errors=(409,))
def file_notification(notification_id: int):
    """Record an approved authority report or data-subject letter as filed outside Breachline."""
    data = body_as(FiledIn)
    now = time.now()
    if data.filed_at > now:
        raise InputError(Problem("the filing time is in the future", field="filed_at"))
    db = get_session()
    notification = _notification(db, notification_id)
    flows.record_filed(session=db, notification=notification, filed_at=data.filed_at, reference=data.reference,
                       actor=runtime.actor(), now=now)
    db.commit()
    return _document(db, notification)
