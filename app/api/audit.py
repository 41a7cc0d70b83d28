"""Audit log endpoint for admins: sign-ins, token use, exports and permission denials."""

from __future__ import annotations

from app.api import api_bp
from app.api.queries import AuditQuery, parse_page_query
from app.api.schemas.regimes import AuditPage
from app.api.spec import operation
from app.auth import audit
from app.auth.permissions import Permission, declare
from app.db import get_session


@api_bp.get("/audit")
@declare(Permission.audit_read)
@operation(tags=["audit"], query=AuditQuery, responses={200: AuditPage})
def list_audit_events():
    """Audit events, newest first, paginated; ?action= (exact, or a prefix ending in '.') and ?actor= filter."""
    query, page = parse_page_query(AuditQuery)
    result = audit.list_events(session=get_session(), page=page, action=query.action.strip(),
                               actor=query.actor.strip())
    return {"items": [audit.event_document(e) for e in result.items], **result.meta()}
