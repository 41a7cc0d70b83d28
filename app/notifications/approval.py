"""Approval (a lead, not the drafter), queueing into the outbox, cancelling, recording manual filing, settling.

Four eyes: the approver must hold the lead role and be neither the drafter nor the last editor,
unless ALLOW_SELF_APPROVAL is set. An overdue obligation needs the reasons for the delay at
approval (Art. 33(1)); they go with the obligation when the notice is delivered.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from app.auth.models import Role
from app.clock.models import Obligation, ObligationStatus
from app.clock.settle import mark_met_many
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
    approved, refused = approve_many(session=session, requests=[(notification, data)], actor=actor,
                                     actor_role=actor_role, now=now, settings=settings)
    if refused:
        raise refused[0][1]
    return approved[0][1]


def approve_many(*, session: Session, requests: list[tuple[Notification, ApproveIn]], actor: str, actor_role: str,
                 now: datetime, settings: NoticeSettings
                 ) -> tuple[list[tuple[Notification, list[OutboxItem]]], list[tuple[Notification, Exception]]]:
    """Approve drafts, each on its own merits: (approved ones with their outbox rows, refused ones with why)."""
    # Approving every notice of an incident over thousands of customers at once: what each check needs
    # is loaded in bulk, and the writes are one UPDATE per reviewed version and one flush.
    now = require_aware(now, "now")
    if not is_lead(actor_role):
        return [], [(n, Forbidden("only a lead may approve notifications")) for n, _ in requests]
    notifications = [n for n, _ in requests]
    editors = _last_editors(session, [n.id for n in notifications])
    obligations = _by_id(session, Obligation, Obligation.id, {n.obligation_id for n in notifications})
    customer_ids = {n.controller_id for n in notifications if n.kind not in MANUAL_KINDS and not n.drill}
    controllers = _by_id(session, Controller, Controller.id, customer_ids)
    endpoints = _by_id(session, WebhookEndpointState, WebhookEndpointState.controller_id, customer_ids)
    contacts: dict[int, list[Contact]] = defaultdict(list)
    for contact in _rows(session, Contact, Contact.controller_id, customer_ids):
        contacts[contact.controller_id].append(contact)
    checked, refused, targets_of = [], [], {}
    for n, data in requests:
        try:
            targets_of[n.id] = _check(n, data, actor, now, settings, editors.get(n.id, n.drafted_by),
                                      obligations.get(n.obligation_id), controllers.get(n.controller_id),
                                      contacts.get(n.controller_id, []), endpoints.get(n.controller_id))
            checked.append((n, data))
        except (Conflict, Forbidden, InputError) as exc:
            refused.append((n, exc))
    won = _mark_approved(session, checked, actor, now)
    _reload(session, [n.id for n, _ in checked])
    approved, queued = [], []
    drill = drill_targets(settings.config)
    for n, _ in checked:
        if n.id not in won:
            refused.append((n, Conflict(f"notification {n.id} changed since you opened it (now version {n.version}, "
                                        f"{n.status}); review it again")))
        elif n.kind in MANUAL_KINDS:
            approved.append((n, []))
        elif n.drill and drill.error:
            # Fail loudly and visibly; falling back to the customer's contacts is never an option.
            n.status, n.failed_at, n.error = NotificationStatus.failed, now, drill.error
            n.escalation = drill.error  # the dispatcher tells the PSIRT
            approved.append((n, []))
        else:
            targets = drill if n.drill else targets_of[n.id]
            queued.append((n, targets.emails, targets.webhook_url))
            approved.append((n, None))
    items = queue_many(session=session, targets=queued, now=now, settings=settings)
    return [(n, items[n.id] if rows is None else rows) for n, rows in approved], refused


def _check(n: Notification, data: ApproveIn, actor: str, now: datetime, settings: NoticeSettings, editor: str,
           obligation: Obligation, controller: Controller | None, contacts: list[Contact],
           endpoint: WebhookEndpointState | None):
    """The customer's targets if this draft may be approved now (None for manual kinds and drills); else raise."""
    if n.status != NotificationStatus.draft:
        raise Conflict(f"notification {n.id} is {n.status}, not a draft")
    if n.error:
        raise Conflict(f"notification {n.id} cannot be approved: {n.error}")
    if not settings.allow_self_approval and _person(actor) in {_person(n.drafted_by), _person(editor)}:
        raise Forbidden(f"notification {n.id}: approval needs a different person from the one who "
                        "drafted or last edited it (four eyes; ALLOW_SELF_APPROVAL is off)")
    if overdue(obligation, now) and not data.reasons_for_delay.strip():
        raise InputError(Problem(f"notification {n.id}: the obligation was due {iso(obligation.due_at)}; "
                                 "give the reasons for the delay (GDPR Art. 33(1))", field="reasons_for_delay"))
    if n.kind in MANUAL_KINDS or n.drill:
        return None
    targets = customer_targets(controller, contacts, endpoint)
    if targets.error:
        raise Conflict(f"notification {n.id} cannot be sent: {targets.error}")
    return targets


def _mark_approved(session: Session, checked: list[tuple[Notification, ApproveIn]], actor: str,
                   now: datetime) -> set[int]:
    """Approve the checked drafts atomically; the ids that were still drafts at the version reviewed."""
    # An edit or another approval since the approver looked wins, and that one is refused.
    groups: dict[tuple[int, str], list[int]] = defaultdict(list)
    for n, data in checked:
        groups[(data.version or n.version, data.reasons_for_delay.strip())].append(n.id)
    won: set[int] = set()
    for (version, reasons), ids in groups.items():
        for start in range(0, len(ids), 900):
            won |= set(session.execute(
                sa.update(Notification).where(Notification.id.in_(ids[start:start + 900]),
                                              Notification.status == NotificationStatus.draft,
                                              Notification.version == version)
                .values(status=NotificationStatus.approved, approved_by=actor, approved_at=now,
                        reasons_for_delay=reasons, updated_at=now)
                .returning(Notification.id).execution_options(synchronize_session=False)).scalars())
    return won


def _last_editors(session: Session, ids: list[int]) -> dict[int, str]:
    """Per notification who wrote its current version (absent: no version row, the drafter)."""
    editors = {}
    for start in range(0, len(ids), 900):
        for notification_id, editor in session.exec(
                select(NotificationVersion.notification_id, NotificationVersion.edited_by)
                .where(NotificationVersion.notification_id.in_(ids[start:start + 900]))
                .order_by(NotificationVersion.notification_id, NotificationVersion.version)):
            editors[notification_id] = editor  # the highest version comes last
    return editors


def _rows(session: Session, model, column, ids) -> list:
    ids, found = sorted(i for i in ids if i is not None), []
    for start in range(0, len(ids), 900):
        found += session.exec(select(model).where(column.in_(ids[start:start + 900]))).all()
    return found


def _by_id(session: Session, model, column, ids) -> dict:
    return {getattr(row, column.key): row for row in _rows(session, model, column, ids)}


def _reload(session: Session, ids: list[int]) -> None:
    for start in range(0, len(ids), 900):
        session.exec(select(Notification).where(Notification.id.in_(ids[start:start + 900]))
                     .execution_options(populate_existing=True)).all()


def queue(*, session: Session, notification: Notification, emails: list[str], webhook_url: str | None,
          now: datetime, settings: NoticeSettings) -> list[OutboxItem]:
    """Put one outbox row per channel target and mark the notification queued."""
    return queue_many(session=session, targets=[(notification, emails, webhook_url)], now=now,
                      settings=settings)[notification.id]


def queue_many(*, session: Session, targets: list[tuple[Notification, list[str], str | None]], now: datetime,
               settings: NoticeSettings) -> dict[int, list[OutboxItem]]:
    """queue() for (notification, emails, webhook URL) triples with one flush; the outbox rows per notification."""
    give_up = now + timedelta(hours=settings.retry_hours)
    created: dict[int, list[OutboxItem]] = {}
    for notification, emails, webhook_url in targets:
        items = created[notification.id] = []
        if emails:
            items.append(OutboxItem(notification_id=notification.id, channel=Channel.email, addresses=list(emails),
                                    next_attempt_at=now, give_up_at=give_up, created_at=now))
        if webhook_url:
            items.append(OutboxItem(notification_id=notification.id, channel=Channel.webhook, url=webhook_url,
                                    addresses=[], next_attempt_at=now, give_up_at=give_up, created_at=now))
        notification.status, notification.queued_at, notification.updated_at = NotificationStatus.queued, now, now
    session.add_all([item for items in created.values() for item in items])
    session.flush()
    return created


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
    return settle_many(session=session, deliveries=[(notification, at)], actor=actor)[0]


def settle_many(*, session: Session, deliveries: list[tuple[Notification, datetime]],
                actor: str) -> list[Obligation | None]:
    """settle() for (notification, delivered at) pairs in one go; per pair the obligation it met, or None."""
    ids = sorted({n.obligation_id for n, _ in deliveries})
    obligations = {}
    for start in range(0, len(ids), 900):
        chunk = ids[start:start + 900]
        obligations.update({o.id: o for o in session.exec(select(Obligation).where(Obligation.id.in_(chunk)))})
    met, settlements, seen = [], [], set()
    for notification, at in deliveries:
        obligation = obligations.get(notification.obligation_id)
        if obligation is None or obligation.status != ObligationStatus.open or obligation.id in seen:
            met.append(None)  # an update, settled by a person meanwhile, or by another notice of this batch
            continue
        seen.add(obligation.id)
        reasons = notification.reasons_for_delay.strip()
        if not reasons and obligation.due_at is not None and at > obligation.due_at:
            # Approved in time (else reasons were required then): the delay is the delivery's.
            reasons = (f"Approved by {notification.approved_by} at {iso(notification.approved_at)}, before the "
                       f"deadline; delivery only succeeded at {iso(at)} after retries.")
        settlements.append((obligation, at, reasons))
        met.append(obligation)
    if settlements:
        mark_met_many(session=session, settlements=settlements, actor=actor, now=None)
    return met


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
