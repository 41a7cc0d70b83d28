"""Need-to-know endpoints: restrict an incident and manage who may see it (leads and admins)."""

from __future__ import annotations

from sqlmodel import Field, SQLModel

from app import runtime
from app.api import api_bp, body_as
from app.api.schemas.incidents import MemberList
from app.api.spec import operation
from app.auth.permissions import Permission, declare
from app.core import time
from app.core.numbers import ROW_ID_MAX
from app.core.time import iso
from app.db import get_session
from app.flows import access as flows
from app.incidents import access


class MemberIn(SQLModel):
    """A person to add: {"email"}."""

    model_config = {"extra": "forbid"}
    email: str = Field(min_length=3, max_length=254)


class RestrictionIn(SQLModel):
    """{"restricted": true|false, "version": optional}."""

    model_config = {"extra": "forbid"}
    restricted: bool
    version: int | None = Field(default=None, ge=1, le=ROW_ID_MAX)


def _members_document(db, incident) -> dict:
    items = access.members(session=db, incident_id=incident.id)
    return {"incident": incident.ref, "restricted": incident.restricted, "total": len(items),
            "items": [{"user_id": m.user.id, "email": m.user.email, "name": m.user.name, "role": str(m.user.role),
                       "added_by": m.added_by, "added_at": iso(m.added_at)} for m in items]}


def _incident(db, ref: str):
    return runtime.visible_incident(ref)


@api_bp.get("/incidents/<ref>/members")
@declare(Permission.incident_read)
@operation(tags=["access"], responses={200: MemberList})
def list_members(ref: str):
    """Who may see the incident when it is restricted (admins always can)."""
    db = get_session()
    return _members_document(db, runtime.visible_incident(ref))


@api_bp.post("/incidents/<ref>/members")
@declare(Permission.incident_restrict)
@operation(tags=["access"], body=MemberIn, responses={201: MemberList}, errors=(409,))
def add_member(ref: str):
    """Add a member by email; 201 with the member list."""
    db = get_session()
    incident = runtime.visible_incident(ref)
    data = body_as(MemberIn)
    flows.add_member(session=db, incident=incident, email=data.email, actor=runtime.actor(), now=time.now())
    db.commit()
    return _members_document(db, incident), 201


@api_bp.delete("/incidents/<ref>/members/<int:user_id>")
@declare(Permission.incident_restrict)
@operation(tags=["access"], responses={200: MemberList})
def remove_member(ref: str, user_id: int):
    """Remove a member."""
    db = get_session()
    incident = runtime.visible_incident(ref)
    flows.remove_member(session=db, incident=incident, user_id=user_id, actor=runtime.actor(), now=time.now())
    db.commit()
    return _members_document(db, incident)


@api_bp.put("/incidents/<ref>/restriction")
@declare(Permission.incident_restrict)
@operation(tags=["access"], body=RestrictionIn, responses={200: MemberList}, errors=(409,))
def set_restriction(ref: str):
    """Make the incident need-to-know or visible to all staff: {"restricted": bool, "version": optional}."""
    db = get_session()
    incident = runtime.visible_incident(ref)
    data = body_as(RestrictionIn)
    flows.set_restricted(session=db, incident=incident, restricted=data.restricted, actor=runtime.actor(),
                         now=time.now(), expected_version=data.version)
    db.commit()
    return _members_document(db, incident)
