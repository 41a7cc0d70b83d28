"""Acknowledgement links (signed, expiring), recording a controller's receipt, and the unacknowledged flag.

The link carries the notification's public uid signed with the app's SECRET_KEY and a salt of its
own (itsdangerous URLSafeTimedSerializer), so it cannot be forged or pointed at another notice. The
signing time is the draft time passed in, and expiry is checked against the `now` passed in, so
both stay testable without a real clock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from sqlmodel import Session, func, select

from app.core.errors import Conflict
from app.core.time import require_aware
from app.notifications.models import (Acknowledgement, AckIn, Notification, NotificationStatus,
                                      WebhookEndpointState)
from app.notifications.render import MessageKind

ACK_SALT = "breachline.notification-ack.v1"
ACKABLE = (NotificationStatus.queued, NotificationStatus.delivered)  # sent, or being sent right now


class AckLinkProblem(Exception):
    """The acknowledgement link is not usable; `expired` tells a stale link from a forged one."""

    def __init__(self, message: str, expired: bool = False):
        self.expired = expired
        super().__init__(message)


def _serializer(secret_key: str, at: datetime) -> URLSafeTimedSerializer:
    return _serializer_at(secret_key, int(require_aware(at, "at").timestamp()))


@lru_cache(maxsize=16)
def _serializer_at(secret_key: str, stamp: int) -> URLSafeTimedSerializer:
    # One per (key, second): a bulk draft signs thousands of links at the same `now`.
    class _At(TimestampSigner):
        def get_timestamp(self) -> int:
            return stamp

    return URLSafeTimedSerializer(secret_key, salt=ACK_SALT, signer=_At)


def ack_token(*, secret_key: str, uid: str, signed_at: datetime) -> str:
    """The signed token for a notification's acknowledgement link, stamped with signed_at."""
    return _serializer(secret_key, signed_at).dumps({"n": uid})


def ack_url(base_url: str, token: str) -> str:
    """The absolute acknowledgement URL."""
    return f"{base_url.rstrip('/')}/ack/{token}"


def read_ack_token(*, secret_key: str, token: str, now: datetime, max_age_days: int) -> str:
    """The notification uid a token names; AckLinkProblem if it is forged, altered or older than max_age_days."""
    max_age = int(timedelta(days=max_age_days).total_seconds())
    try:
        data = _serializer(secret_key, now).loads(token, max_age=max_age)
    except SignatureExpired:
        raise AckLinkProblem(f"this acknowledgement link has expired (links are valid for {max_age_days} days)",
                             expired=True) from None
    except BadSignature:
        raise AckLinkProblem("this acknowledgement link is not valid") from None
    if not isinstance(data, dict) or not isinstance(data.get("n"), str):
        raise AckLinkProblem("this acknowledgement link is not valid")
    return data["n"]


def by_uid(*, session: Session, uid: str) -> Notification | None:
    """The notification with this public uid, if any."""
    return session.exec(select(Notification).where(Notification.uid == uid)).first()


def acknowledgement_of(*, session: Session, notification_id: int) -> Acknowledgement | None:
    """The notification's acknowledgement, if it was acknowledged."""
    return session.exec(select(Acknowledgement).where(Acknowledgement.notification_id == notification_id)).first()


def record_ack(*, session: Session, notification: Notification, data: AckIn,
               now: datetime) -> tuple[Acknowledgement, bool]:
    """Record receipt (once); returns the acknowledgement and whether it is new."""
    existing = acknowledgement_of(session=session, notification_id=notification.id)
    if existing is not None:
        return existing, False
    if notification.status not in ACKABLE:
        raise Conflict("this notice was not sent, so its receipt cannot be confirmed")
    ack = Acknowledgement(notification_id=notification.id, controller_id=notification.controller_id,
                          acknowledged_at=require_aware(now, "now"), contact_name=data.contact_name.strip(),
                          contact=data.contact.strip())
    session.add(ack)
    session.flush()
    return ack, True


@dataclass
class IncidentFlags:
    """What needs a person's attention in an incident's notifications."""

    failed: int = 0  # not delivered: permanent failure or retries exhausted (escalated)
    unacknowledged: int = 0  # delivered to a customer longer ago than ACK_FLAG_AFTER_HOURS, no receipt
    endpoints_disabled: int = 0  # customer webhooks that answered 410 Gone

    @property
    def any(self) -> bool:
        """True when something is flagged."""
        return bool(self.failed or self.unacknowledged or self.endpoints_disabled)


def unacknowledged_filter(now: datetime, after_hours: float):
    """WHERE clauses of delivered customer notices older than after_hours without an acknowledgement."""
    acked = select(Acknowledgement.notification_id).where(Acknowledgement.notification_id == Notification.id)
    return (Notification.status == NotificationStatus.delivered,
            Notification.kind == MessageKind.processor_to_controller.value,
            Notification.delivered_at < require_aware(now, "now") - timedelta(hours=after_hours),
            ~acked.exists())


def flags_for(*, session: Session, incident_ids: Iterable[int], now: datetime,
              ack_after_hours: float) -> dict[int, IncidentFlags]:
    """Per incident: failed, unacknowledged and disabled-endpoint counts (grouped queries, no loops)."""
    ids = list(incident_ids)
    flags: dict[int, IncidentFlags] = defaultdict(IncidentFlags)
    if not ids:
        return {}
    for incident_id, n in session.exec(select(Notification.incident_id, func.count()).where(
            Notification.incident_id.in_(ids), Notification.status == NotificationStatus.failed)
            .group_by(Notification.incident_id)):
        flags[incident_id].failed = n
    for incident_id, n in session.exec(select(Notification.incident_id, func.count()).where(
            Notification.incident_id.in_(ids), *unacknowledged_filter(now, ack_after_hours))
            .group_by(Notification.incident_id)):
        flags[incident_id].unacknowledged = n
    disabled = (select(Notification.incident_id, func.count(func.distinct(WebhookEndpointState.controller_id)))
                .join(WebhookEndpointState, WebhookEndpointState.notification_id == Notification.id)
                .where(Notification.incident_id.in_(ids)).group_by(Notification.incident_id))
    for incident_id, n in session.exec(disabled):
        flags[incident_id].endpoints_disabled = n
    return {i: flags[i] for i in ids if i in flags}
