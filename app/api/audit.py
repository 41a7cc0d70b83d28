"""Audit log endpoint for admins: sign-ins, token use, exports and permission denials."""

from __future__ import annotations

from flask import current_app, request

from app.api import api_bp
from app.auth import audit
from app.auth.permissions import Permission, declare
from app.core.pagination import PageRequest
from app.db import get_session


@api_bp.get("/audit")
@declare(Permission.audit_read)
def list_audit_events():
    """Audit events, newest first, paginated; ?action= (exact, or a prefix ending in '.') and ?actor= filter."""
    page = PageRequest.parse(request.args, default_size=current_app.config["PAGE_SIZE"],
                             max_size=current_app.config["MAX_PAGE_SIZE"])
    result = audit.list_events(session=get_session(), page=page, action=request.args.get("action", "").strip(),
                               actor=request.args.get("actor", "").strip())
    return {"items": [audit.event_document(e) for e in result.items], **result.meta()}
