"""Approval (a lead, not the drafter), queueing into the outbox, cancelling, recording manual filing, settling.

Four eyes: the approver must hold the lead role and be neither the drafter nor the last editor,
unless ALLOW_SELF_APPROVAL is set. An overdue obligation needs the reasons for the delay at
approval (Art. 33(1)); they go with the obligation when the notice is delivered.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from app.auth.models import Role
from app.clock.models import Obligation, ObligationStatus
from app.clock.obligations import mark_met
from app.core.errors import Conflict, Forbidden, InputError, Problem
from app.core.time import iso, require_aware
from app.datamap.models import Contact, Controller
from app.notifications.models import (ApproveIn, Channel, Notification, NotificationStatus, NotificationVersion,
                                      OutboxItem, OutboxStatus, WebhookEndpointState)
from app.notifications.render import MessageKind
from app.notifications.settings import NoticeSettings
from app.notifications.targets import customer_targets, drill_targets

MANUAL_KINDS = {MessageKind.authority_report.value, MessageKind.data_subject.value}


def is_lead(role: str) -> bool:
    """True for roles that may approve outward notices."""
    return Role(role).at_least(Role.lead)


def overdue(obligation: Obligation, now: datetime) -> bool:
    """Open, ours, and past its legal deadline."""
    return (obligation.status == ObligationStatus.open and not obligation.informational
            and obligation.due_at is not None and require_aware(now, "now") > obligation.due_at)


def last_editor(*, session: Session, notification: Notification) -> str:
    """Who wrote the current version of the notification."""
    version = session.exec(select(NotificationVersion).where(NotificationVersion.notification_id == notification.id)
                           .order_by(NotificationVersion.version.desc()).limit(1)).first()
    return version.edited_by if version else notification.drafted_by


def _person(actor: str) -> str:
    # "lead@example.org (API)" and "lead@example.org" are the same person.
    return actor.removesuffix(" (API)").strip().lower()


def approve(*, session: Session, notification: Notification, data: ApproveIn, actor: str, actor_role: str,
            now: datetime, settings: NoticeSettings) -> list[OutboxItem]:
    """Approve a draft and queue it (manual kinds stay approved); returns the outbox rows created."""
    now = require_aware(now, "now")
    if not is_lead(actor_role):
        raise Forbidden("only a lead may approve notifications")
    if notification.status != NotificationStatus.draft:
        raise Conflict(f"notification {notification.id} is {notification.status}, not a draft")
    if notification.error:
        raise Conflict(f"notification {notification.id} cannot be approved: {notification.error}")
    if not settings.allow_self_approval:
        authors = {_person(notification.drafted_by), _person(last_editor(session=session, notification=notification))}
        if _person(actor) in authors:
            raise Forbidden(f"notification {notification.id}: approval needs a different person from the one who "
                            "drafted or last edited it (four eyes; ALLOW_SELF_APPROVAL is off)")
    obligation = session.get(Obligation, notification.obligation_id)
    reasons = data.reasons_for_delay.strip()
    if overdue(obligation, now) and not reasons:
        raise InputError(Problem(f"notification {notification.id}: the obligation was due {iso(obligation.due_at)}; "
                                 "give the reasons for the delay (GDPR Art. 33(1))", field="reasons_for_delay"))
    targets = None
    if notification.kind not in MANUAL_KINDS and not notification.drill:
        controller = session.get(Controller, notification.controller_id)
        contacts = list(session.exec(select(Contact).where(Contact.controller_id == controller.id)))
        targets = customer_targets(controller, contacts, session.get(WebhookEndpointState, controller.id))
        if targets.error:
            raise Conflict(f"notification {notification.id} cannot be sent: {targets.error}")
    version = data.version or notification.version
    # Atomic: an edit or another approval since the approver looked wins, and this one is refused.
    won = session.exec(sa.update(Notification).where(Notification.id == notification.id,
                                                     Notification.status == NotificationStatus.draft,
                                                     Notification.version == version)
                       .values(status=NotificationStatus.approved, approved_by=actor, approved_at=now,
                               reasons_for_delay=reasons, updated_at=now)
                       .execution_options(synchronize_session=False)).rowcount
    session.refresh(notification)
    if won == 0:
        raise Conflict(f"notification {notification.id} changed since you opened it (now version "
                       f"{notification.version}, {notification.status}); review it again")
    if notification.kind in MANUAL_KINDS:
        return []
    if notification.drill:
        targets = drill_targets(settings.config)
        if targets.error:
            # Fail loudly and visibly; falling back to the customer's contacts is never an option.
            notification.status, notification.failed_at, notification.error = NotificationStatus.failed, now, targets.error
            notification.escalation = targets.error  # the dispatcher tells the PSIRT
            session.add(notification)
            session.flush()
            return []
    return queue(session=session, notification=notification, emails=targets.emails, webhook_url=targets.webhook_url,
                 now=now, settings=settings)


def queue(*, session: Session, notification: Notification, emails: list[str], webhook_url: str | None,
          now: datetime, settings: NoticeSettings) -> list[OutboxItem]:
    """Put one outbox row per channel target and mark the notification queued."""
    give_up = now + timedelta(hours=settings.retry_hours)
    items = []
    if emails:
        items.append(OutboxItem(notification_id=notification.id, channel=Channel.email, addresses=list(emails),
                                next_attempt_at=now, give_up_at=give_up, created_at=now))
    if webhook_url:
        items.append(OutboxItem(notification_id=notification.id, channel=Channel.webhook, url=webhook_url,
                                next_attempt_at=now, give_up_at=give_up, created_at=now))
    notification.status, notification.queued_at, notification.updated_at = NotificationStatus.queued, now, now
    session.add_all([notification, *items])
    session.flush()
    return items


def cancel(*, session: Session, notification: Notification, reason: str, actor: str, actor_role: str,
           now: datetime, lease_seconds: int) -> int:
    """Withdraw a notice before delivery; returns the outbox rows cancelled. A row being sent right now blocks it."""
    now = require_aware(now, "now")
    if not reason.strip():
        raise InputError(Problem("say why the notice is cancelled", field="reason"))
    if notification.status not in (NotificationStatus.draft, NotificationStatus.approved, NotificationStatus.queued):
        raise Conflict(f"notification {notification.id} is {notification.status}: only notices not yet delivered "
                       "can be cancelled")
    if notification.status != NotificationStatus.draft and not is_lead(actor_role):
        raise Forbidden("only a lead may cancel an approved notice")
    pending = sa.and_(OutboxItem.notification_id == notification.id, OutboxItem.status == OutboxStatus.pending)
    expiry = now - timedelta(seconds=lease_seconds)
    free = sa.or_(OutboxItem.claimed_at.is_(None), OutboxItem.claimed_at < expiry)
    total = len(session.exec(select(OutboxItem.id).where(pending)).all())
    cancelled = session.exec(sa.update(OutboxItem).where(pending, free)
                             .values(status=OutboxStatus.cancelled, done_at=now, last_error=f"cancelled: {reason}"[:2000])
                             .execution_options(synchronize_session=False)).rowcount
    if cancelled != total:
        raise Conflict(f"notification {notification.id} is being sent right now; look again in a minute")
    won = session.exec(sa.update(Notification).where(Notification.id == notification.id,
                                                     Notification.status == notification.status)
                       .values(status=NotificationStatus.cancelled, cancelled_by=actor, cancelled_at=now,
                               cancel_reason=reason.strip()[:2000], updated_at=now)
                       .execution_options(synchronize_session=False)).rowcount
    session.refresh(notification)
    if won == 0:
        raise Conflict(f"notification {notification.id} changed meanwhile (now {notification.status}); nothing cancelled")
    return cancelled


def settle(*, session: Session, notification: Notification, at: datetime, actor: str) -> Obligation | None:
    """A delivered notice meets its obligation at the delivery time; returns the obligation if this met it."""
    obligation = session.get(Obligation, notification.obligation_id)
    if obligation is None or obligation.status != ObligationStatus.open:
        return None  # an update, or settled by a person meanwhile
    reasons = notification.reasons_for_delay.strip()
    if not reasons and obligation.due_at is not None and at > obligation.due_at:
        # Approved in time (else reasons were required then): the delay is the delivery's.
        reasons = (f"Approved by {notification.approved_by} at {iso(notification.approved_at)}, before the deadline; "
                   f"delivery only succeeded at {iso(at)} after retries.")
    return mark_met(session=session, obligation=obligation, met_at=at, actor=actor, delay_reasons=reasons, now=at)


def record_filed(*, session: Session, notification: Notification, filed_at: datetime, reference: str, actor: str,
                 actor_role: str, now: datetime) -> Obligation | None:
    """Record that an approved manual notice was filed or sent outside Breachline; settles its obligation."""
    filed_at, now = require_aware(filed_at, "filed_at"), require_aware(now, "now")
    if not is_lead(actor_role):
        raise Forbidden("only a lead may record a notice as filed")
    if notification.kind not in MANUAL_KINDS:
        raise Conflict("customer notices are delivered by the dispatcher, not recorded by hand")
    if notification.status != NotificationStatus.approved:
        raise Conflict(f"notification {notification.id} is {notification.status}; approve it before recording it filed")
    if filed_at > now:
        raise InputError(Problem("the filing time is in the future", field="filed_at"))
    notification.status, notification.delivered_at = NotificationStatus.delivered, filed_at
    notification.filed_reference, notification.updated_at = reference.strip(), now
    session.add(notification)
    session.flush()
    return settle(session=session, notification=notification, at=filed_at, actor=actor)
