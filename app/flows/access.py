"""Need-to-know: restricting an incident and managing its members, each step on the incident's timeline."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from app.auth.models import User
from app.auth.permissions import Permission, permissions_of
from app.core.errors import Conflict, Forbidden
from app.flows.incident import Actor
from app.incidents import access
from app.incidents import service
from app.incidents.models import Incident
from app.timeline import service as timeline


def _event(session: Session, incident: Incident, kind: str, summary: str, actor: Actor, now: datetime,
           **details) -> None:
    timeline.append(session=session, incident_id=incident.id, kind=kind, summary=summary, actor=actor.name,
                    recorded_at=now, details=details)


def require_restrict_permission(actor: Actor) -> None:
    """Refuse unless the actor's role may restrict incidents and manage their members."""
    if Permission.incident_restrict not in permissions_of(actor.role):
        raise Forbidden(f"role {actor.role} lacks permission {Permission.incident_restrict}: only a lead or admin "
                        "can change who may see an incident")


def add_member(*, session: Session, incident: Incident, email: str, actor: Actor, now: datetime) -> User:
    """Let one more person see the incident."""
    require_restrict_permission(actor)
    user = access.add_member(session=session, incident=incident, email=email, added_by=actor.name, now=now)
    _event(session, incident, "access.member_added", f"{user.name} ({user.email}) may now see this incident",
           actor, now, user=user.email)
    return user


def remove_member(*, session: Session, incident: Incident, user_id: int, actor: Actor, now: datetime) -> User:
    """Take a person off the incident's need-to-know list."""
    require_restrict_permission(actor)
    user = access.remove_member(session=session, incident=incident, user_id=user_id)
    _event(session, incident, "access.member_removed", f"{user.name} ({user.email}) removed from the members",
           actor, now, user=user.email)
    return user


def add_creator(*, session: Session, incident: Incident, actor: Actor, now: datetime) -> None:
    """Whoever restricts an incident becomes a member, so they do not lock themselves out."""
    if actor.user_id is not None and access.ensure_member(session=session, incident=incident, user_id=actor.user_id,
                                                          added_by=actor.name, now=now):
        _event(session, incident, "access.member_added", f"{actor.name} may see this restricted incident",
               actor, now, user_id=actor.user_id)


def set_restricted(*, session: Session, incident: Incident, restricted: bool, actor: Actor, now: datetime,
                   expected_version: int | None = None) -> None:
    """Make the incident need-to-know (members and admins only) or visible to all staff again."""
    require_restrict_permission(actor)
    if incident.restricted == restricted:
        raise Conflict(f"{incident.ref} is already {'restricted' if restricted else 'visible to all staff'}")
    service.claim_version(session=session, incident=incident, expected=expected_version)
    incident.restricted = restricted
    incident.updated_at = now
    session.add(incident)
    session.flush()
    if restricted:
        _event(session, incident, "access.restricted", "Restricted: only members and admins can see this incident",
               actor, now)
        add_creator(session=session, incident=incident, actor=actor, now=now)
    else:
        _event(session, incident, "access.unrestricted", "No longer restricted: every staff member can see it",
               actor, now)
