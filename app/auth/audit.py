"""The security audit log: sign-ins, token use, exports and permission denials (services flush, callers commit)."""

from __future__ import annotations

import json
from datetime import datetime

from sqlmodel import Session, func, select

from app.auth.models import ApiToken, AuditEvent
from app.core.pagination import Page, PageRequest
from app.core.redact import mask, mask_data
from app.core.time import iso

SIGNIN_OK = "signin.ok"
SIGNIN_FAILED = "signin.failed"
SIGNIN_LOCKED = "signin.locked"  # an account or address reached the failure limit and is paused
SIGNOUT = "signout"
TOKEN_USED = "token.used"  # first use of a token in each clock hour, not every request
TOKEN_CREATED = "token.created"
TOKEN_REVOKED = "token.revoked"
PASSWORD_CHANGED = "password.changed"
PERMISSION_DENIED = "permission.denied"
EXPORT_PREFIX = "export."  # export.datamap, export.timeline, export.register ...


def record(*, session: Session, action: str, now: datetime, actor: str = "", target: str = "",
           ip: str | None = None, details: dict | None = None) -> AuditEvent:
    """Add one audit event; details are masked so a careless caller cannot store a secret."""
    # Audit rows are shown to admins and exported, so no credential may land here; JSON-safe values only.
    clean = mask_data(json.loads(json.dumps(details or {}, default=str)))
    event = AuditEvent(at=now, actor=(actor or "")[:254], action=action[:60], target=mask(target or "")[:500],
                       ip=(ip or None) and ip[:64], details=clean)
    session.add(event)
    session.flush()
    return event


def token_use_is_new(token: ApiToken, now: datetime) -> bool:
    """True for the first use of a token in the current clock hour (token.used is throttled to that)."""
    last = token.last_used_at
    return last is None or last.replace(minute=0, second=0, microsecond=0) != now.replace(minute=0, second=0,
                                                                                         microsecond=0)


def list_events(*, session: Session, page: PageRequest, action: str = "", actor: str = "") -> Page[AuditEvent]:
    """Audit events, newest first, filtered by action (exact, or a prefix ending in '.') and actor (substring)."""
    query = select(AuditEvent)
    if action:
        query = query.where(AuditEvent.action.startswith(action) if action.endswith(".")
                            else AuditEvent.action == action)
    if actor:
        query = query.where(AuditEvent.actor.icontains(actor.strip()))
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
                        .offset(page.offset).limit(page.per_page)).all()
    return Page(list(rows), total, page)


def actions(*, session: Session) -> list[str]:
    """The distinct actions recorded so far, for the filter menu."""
    return list(session.exec(select(AuditEvent.action).distinct().order_by(AuditEvent.action)))


def event_document(event: AuditEvent) -> dict:
    """An audit event as the API shows it."""
    return {"id": event.id, "at": iso(event.at), "actor": event.actor, "action": event.action,
            "target": event.target, "ip": event.ip, "details": event.details}
