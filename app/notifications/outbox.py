"""The outbox: claiming due rows, building what to send, recording each attempt, backoff, escalation claims.

Nothing here touches the network; app/flows/dispatch.py sends through the channels between a claim
(committed at once) and the recording of the batch's results (one transaction per batch). A
dispatcher that dies after sending but before recording leaves its claims to expire; those rows are
then sent again with the same Message-ID / webhook-id, so a receiver can recognise the duplicates.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import defer, load_only
from sqlmodel import Session, select

from app.core.claims import claim_rows
from app.core.time import iso, require_aware
from app.datamap.models import Controller
from app.notifications.channels import DeliveryResult
from app.notifications.channels.email import OutgoingEmail, notification_message_id
from app.notifications.models import (Channel, DeliveryAttempt, Notification, NotificationStatus, OutboxItem,
                                      OutboxStatus, WebhookEndpointState)
from app.notifications.payload import serialise_payload
from app.notifications.settings import NoticeSettings
from app.notifications.targets import drill_secret

SENDABLE = (NotificationStatus.queued, NotificationStatus.delivered)  # delivered: another channel still pending
_MESSAGE = (Notification.subject, Notification.text, Notification.html, Notification.payload, Notification.facts,
            Notification.required, Notification.missing, Notification.changes)  # loaded only when read


def _claimable(now: datetime, expiry: datetime):
    return sa.and_(OutboxItem.status == OutboxStatus.pending, OutboxItem.next_attempt_at <= now,
                   sa.or_(OutboxItem.claimed_at.is_(None), OutboxItem.claimed_at < expiry))


def claim(*, session: Session, now: datetime, worker: str, limit: int, lease_seconds: int) -> list[OutboxItem]:
    """Atomically claim up to `limit` due outbox rows for `worker`; the caller commits at once."""
    now = require_aware(now, "now")
    if not worker:
        raise ValueError("worker must name the claiming process")
    ids = claim_rows(session=session, model=OutboxItem,
                     claimable=_claimable(now, now - timedelta(seconds=lease_seconds)),
                     order_by=(OutboxItem.next_attempt_at, OutboxItem.id),
                     values={"claimed_by": worker, "claimed_at": now}, limit=limit)
    if not ids:
        return []
    return list(session.exec(select(OutboxItem).where(OutboxItem.id.in_(ids)).order_by(OutboxItem.id)
                             .execution_options(populate_existing=True)))


@dataclass
class Job:
    """One claimed row ready to send: an email, or a signed webhook body; `problem` if it cannot be sent."""

    item: OutboxItem
    notification: Notification
    email: OutgoingEmail | None = None
    body: bytes | None = None
    secret: str | None = None
    problem: DeliveryResult | None = None


def message_domain(mail_from: str | None) -> str:
    """The domain of our Message-IDs: MAIL_FROM's (breachline@localhost when unset)."""
    return str(mail_from or "breachline@localhost").rpartition("@")[2].strip(" >") or "breachline.invalid"


def prepare(*, session: Session, items: list[OutboxItem], settings: NoticeSettings, worker: str,
            now: datetime) -> list[Job]:
    """Build the messages of claimed rows; rows of cancelled notices are closed, bad messages fail alone."""
    if not items:
        return []
    # What is sent, not what it was drafted from (facts and the like are large JSON, decoded for nothing).
    notifications = {n.id: n for n in session.exec(
        select(Notification).where(Notification.id.in_({i.notification_id for i in items}))
        .options(defer(Notification.facts), defer(Notification.required), defer(Notification.missing),
                 defer(Notification.changes)))}
    controller_ids = {n.controller_id for n in notifications.values() if n.controller_id}
    controllers = {c.id: c for c in session.exec(select(Controller).where(Controller.id.in_(controller_ids))
                                                 .options(load_only(Controller.webhook_secret)))} \
        if controller_ids else {}
    sender = str(settings.config.get("MAIL_FROM") or "breachline@localhost")
    domain = message_domain(sender)
    jobs = []
    for item in items:
        notification = notifications[item.notification_id]
        if notification.status not in SENDABLE:
            session.exec(sa.update(OutboxItem).where(OutboxItem.id == item.id, OutboxItem.claimed_by == worker)
                         .values(status=OutboxStatus.cancelled, done_at=now, claimed_by="", claimed_at=None,
                                 last_error=f"not sent: notification is {notification.status}")
                         .execution_options(synchronize_session=False))
            continue
        job = Job(item=item, notification=notification)
        if item.channel == Channel.email:
            headers = {"X-Breachline-Notification": notification.uid,
                       **({"X-Breachline-Drill": "yes"} if notification.drill else {})}
            try:
                job.email = OutgoingEmail(message_id=notification_message_id(notification.uid, domain), sender=sender,
                                          to=list(item.addresses), subject=notification.subject,
                                          text=notification.text, html=notification.html,
                                          date=notification.issued_at, headers=headers)
            except (ValueError, TypeError) as exc:
                job.email, job.problem = None, DeliveryResult.permanent_failure(item.target, f"message not sendable: {exc}")
        else:
            controller = controllers.get(notification.controller_id)
            job.secret = drill_secret(settings.config) if notification.drill else (
                controller.webhook_secret if controller else None)
            if notification.payload is None:
                job.problem = DeliveryResult.permanent_failure(item.target, "no webhook payload for this notice")
            elif not job.secret:
                job.problem = DeliveryResult.permanent_failure(item.target, "no webhook secret: webhooks are always signed")
            else:
                job.body = serialise_payload(notification.payload)
        jobs.append(job)
    return jobs


def backoff_seconds(attempts: int, *, base: float, cap: float, retry_after: float | None,
                    rand: Callable[[], float] = random.random) -> float:
    """Exponential backoff with full jitter (AWS style), never sooner than the peer's Retry-After."""
    ceiling = min(cap, base * 2 ** max(attempts - 1, 0))
    return max(rand() * ceiling, retry_after or 0.0)


_ATTEMPT_FIELDS = ("channel", "target", "ok", "status_code", "detail", "outcome", "duration_ms", "worker")


@dataclass(frozen=True)
class Attempt:
    """A delivery attempt as written to delivery_attempt (with its id), for the timeline."""

    id: int
    channel: str
    target: str
    ok: bool
    status_code: int | None
    detail: str
    outcome: str
    duration_ms: int
    worker: str


@dataclass
class Recorded:
    """What recording one result changed, for the timeline and the report."""

    attempt: Attempt
    notification: Notification
    item: OutboxItem
    outcome: str  # delivered | retry | failed | superseded (our claim was taken over meanwhile)
    newly_delivered: bool = False
    newly_failed: bool = False
    endpoint_disabled: bool = False
    at: datetime | None = None  # when the attempt was made
    notes: list[str] = field(default_factory=list)


def record(*, session: Session, job: Job, result: DeliveryResult, at: datetime, duration_ms: int, worker: str,
           settings: NoticeSettings, rand: Callable[[], float] = random.random) -> Recorded:
    """Record one attempt and move the row and its notification on: delivered, retry later, or failed."""
    return record_many(session=session, done=[(job, result, at, duration_ms)], worker=worker, settings=settings,
                       rand=rand)[0]


def record_many(*, session: Session, done: list[tuple[Job, DeliveryResult, datetime, int]], worker: str,
                settings: NoticeSettings, rand: Callable[[], float] = random.random) -> list[Recorded]:
    """Record (job, result, attempt time, duration ms) attempts: bulk loads, one attempt insert, one flush."""
    # A dispatcher records its whole batch in one transaction; per row it was a transaction with a
    # dozen statements, which cost several times what sending the message did.
    ids = sorted({job.item.id for job, *_ in done})
    items = {i.id: i for i in _load(session, OutboxItem, OutboxItem.id, ids)}
    # Not the message itself: decoding every text, payload and facts column cost more than the rest.
    notifications = {n.id: n for n in _load(session, Notification, Notification.id,
                                            sorted({i.notification_id for i in items.values()}), _MESSAGE)}
    recorded, rows = [], []
    for job, result, at, duration_ms in done:
        at = require_aware(at, "at")
        item = items[job.item.id]
        notification = notifications[item.notification_id]
        ours = item.claimed_by == worker and item.status == OutboxStatus.pending
        if result.ok:
            outcome = "delivered"
        elif result.permanent or at >= item.give_up_at:
            outcome = "failed"
        else:
            outcome = "retry"
        rows.append({"notification_id": notification.id, "outbox_id": item.id, "attempted_at": at,
                     "channel": str(item.channel), "target": result.target[:2000] or item.target[:2000],
                     "ok": result.ok, "status_code": result.status_code, "detail": result.detail[:600],
                     "error": "" if result.ok else result.detail[:600], "outcome": outcome if ours else "superseded",
                     "duration_ms": duration_ms, "worker": worker[:100]})
        entry = Recorded(attempt=None, notification=notification, item=item, outcome=rows[-1]["outcome"], at=at)
        recorded.append(entry)
        if ours:  # else another dispatcher took the row over after our lease ran out; it decides
            _move_on(session, entry, result, outcome, at, settings, rand)
    table = DeliveryAttempt.__table__
    # outbox row -> its attempt: one attempt per row in a batch, so RETURNING may give them in any order
    attempt_ids = {}
    for start in range(0, len(rows), 500):
        attempt_ids.update((outbox_id, attempt_id) for attempt_id, outbox_id in session.execute(
            table.insert().returning(table.c.id, table.c.outbox_id), rows[start:start + 500]))
    for entry, row in zip(recorded, rows):
        entry.attempt = Attempt(id=attempt_ids[row["outbox_id"]], **{k: row[k] for k in _ATTEMPT_FIELDS})
    session.flush()
    return recorded


def _load(session: Session, model, column, ids: list[int], deferred: tuple = ()) -> list:
    found = []
    for start in range(0, len(ids), 900):
        found += session.exec(select(model).where(column.in_(ids[start:start + 900]))
                              .options(*(defer(c) for c in deferred))
                              .execution_options(populate_existing=True)).all()
    return found


def _move_on(session: Session, entry: Recorded, result: DeliveryResult, outcome: str, at: datetime,
             settings: NoticeSettings, rand: Callable[[], float]) -> None:
    """Apply one attempt of ours to its outbox row and notification (in the session; flushed by the caller)."""
    item, notification = entry.item, entry.notification
    attempts = item.attempts + 1
    item.attempts, item.claimed_by, item.claimed_at = attempts, "", None
    if outcome == "delivered":
        item.status, item.done_at, item.last_error = OutboxStatus.delivered, at, ""
        if notification.delivered_at is None:
            notification.status, notification.delivered_at, notification.error = NotificationStatus.delivered, at, ""
            entry.newly_delivered = True
    elif outcome == "retry":
        delay = backoff_seconds(attempts, base=settings.backoff_base_seconds, cap=settings.backoff_cap_seconds,
                                retry_after=result.retry_after_seconds, rand=rand)
        item.next_attempt_at = min(at + timedelta(seconds=delay), item.give_up_at)
        item.last_error = result.detail[:2000]
    else:
        why = result.detail if result.permanent else (
            f"retries exhausted after {attempts} attempts since {iso(item.created_at)}: {result.detail}")
        item.status, item.done_at, item.last_error = OutboxStatus.failed, at, why[:2000]
    if result.disable_endpoint and item.url:
        _disable_endpoint(session, notification, item.url, result.detail, at)
        entry.endpoint_disabled = True
        _escalate_later(notification, f"webhook {item.url} answered 410 Gone and was disabled: {result.detail}")
    if outcome == "failed" and notification.status == NotificationStatus.queued:
        session.flush()  # rare: the other rows' statuses decide, including this batch's changes
        others = session.exec(select(OutboxItem.status).where(OutboxItem.notification_id == notification.id)).all()
        if OutboxStatus.pending not in others and OutboxStatus.delivered not in others:
            notification.status, notification.failed_at = NotificationStatus.failed, at
            notification.error = f"not delivered: {item.last_error}"[:2000]
            entry.newly_failed = True
            _escalate_later(notification, notification.error)
    notification.updated_at = at


def _escalate_later(notification: Notification, reason: str) -> None:
    notification.escalation = "; ".join(p for p in (notification.escalation, reason) if p)[:2000]
    notification.escalated_at = None


def _disable_endpoint(session: Session, notification: Notification, url: str, detail: str, at: datetime) -> None:
    if notification.controller_id is None or notification.drill:
        return  # the drill webhook is ours; its configuration is not a customer's endpoint
    state = session.get(WebhookEndpointState, notification.controller_id)
    if state is None:
        state = WebhookEndpointState(controller_id=notification.controller_id, url=url, disabled_at=at)
    state.url, state.disabled_at, state.reason, state.notification_id = url, at, detail[:600], notification.id
    session.add(state)


def release(*, session: Session, item_id: int, worker: str, error: str) -> bool:
    """Give a claimed row back untried (the send blew up before an answer); it is retried at once."""
    return session.exec(sa.update(OutboxItem).where(OutboxItem.id == item_id, OutboxItem.claimed_by == worker,
                                                    OutboxItem.status == OutboxStatus.pending)
                        .values(claimed_by="", claimed_at=None, last_error=error[:2000])
                        .execution_options(synchronize_session=False)).rowcount == 1


def claim_escalations(*, session: Session, now: datetime, limit: int = 50) -> list[Notification]:
    """Atomically claim notices whose failure (or disabled endpoint) the PSIRT has not been told about yet."""
    due = sa.and_(Notification.escalation != "", Notification.escalated_at.is_(None))
    ids = claim_rows(session=session, model=Notification, claimable=due, order_by=(Notification.id,),
                     values={"escalated_at": require_aware(now, "now")}, limit=limit)
    if not ids:
        return []
    return list(session.exec(select(Notification).where(Notification.id.in_(ids)).order_by(Notification.id)
                             .execution_options(populate_existing=True)))


def unclaim_escalation(*, session: Session, notification_id: int) -> None:
    """Try the escalation again next pass (no PSIRT channel answered this time)."""
    session.exec(sa.update(Notification).where(Notification.id == notification_id).values(escalated_at=None)
                 .execution_options(synchronize_session=False))


def attempts_of(*, session: Session, notification_id: int) -> list[DeliveryAttempt]:
    """Every delivery attempt of a notification, in order."""
    return list(session.exec(select(DeliveryAttempt).where(DeliveryAttempt.notification_id == notification_id)
                             .order_by(DeliveryAttempt.attempted_at, DeliveryAttempt.id)))


def outbox_of(*, session: Session, notification_id: int) -> list[OutboxItem]:
    """The outbox rows of a notification."""
    return list(session.exec(select(OutboxItem).where(OutboxItem.notification_id == notification_id)
                             .order_by(OutboxItem.id)))
