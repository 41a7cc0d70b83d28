"""Need-to-know: restricted incidents are visible only to their members and to admins.

Two entry points, used everywhere an incident is listed, counted or loaded for a person:
`visible_incidents_clause(viewer)` for queries and `get_visible_by_ref(...)` for one incident.
A hidden incident answers exactly like a missing one (NotFound), so its existence is not revealed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, delete, select

from app.auth.models import Role, User
from app.core.errors import Conflict, InputError, NotFound, Problem
from app.incidents.models import Incident, IncidentMember


@dataclass(frozen=True)
class SystemViewer:
    """Breachline itself (scheduler, CLI): sees every incident, like an admin."""

    id: int | None = None
    role: str = Role.admin
    email: str = "system"


SYSTEM = SystemViewer()


def sees_everything(viewer) -> bool:
    """True for admins and the system, who see restricted incidents without being members."""
    return viewer is not None and Role(viewer.role) == Role.admin


def visible_incidents_clause(viewer) -> sa.ColumnElement[bool]:
    """A WHERE clause on Incident selecting what the viewer may see (nothing for no viewer: fail closed)."""
    if sees_everything(viewer):
        return sa.true()
    if viewer is None or viewer.id is None:
        return sa.false()
    member_of = select(IncidentMember.incident_id).where(IncidentMember.user_id == viewer.id)
    return sa.or_(Incident.restricted.is_(False), Incident.id.in_(member_of))


def can_see(*, session: Session, incident: Incident, viewer) -> bool:
    """True when the viewer may see this incident."""
    if not incident.restricted:
        return viewer is not None
    if sees_everything(viewer):
        return True
    return viewer is not None and viewer.id is not None and is_member(session=session, incident_id=incident.id,
                                                                       user_id=viewer.id)


def get_visible_by_ref(*, session: Session, ref: str, viewer) -> Incident:
    """The incident with this reference if the viewer may see it; NotFound otherwise (missing or hidden alike)."""
    incident = session.exec(select(Incident).where(Incident.ref == (ref or "").strip().upper(),
                                                   visible_incidents_clause(viewer))).first()
    if incident is None:
        raise NotFound(f"no incident {ref}")
    return incident


def get_visible_by_id(*, session: Session, incident_id: int, viewer) -> Incident:
    """The incident with this id if the viewer may see it (for routes that load a notification, task ...)."""
    incident = session.exec(select(Incident).where(Incident.id == incident_id,
                                                   visible_incidents_clause(viewer))).first()
    if incident is None:
        raise NotFound(f"no incident {incident_id}")
    return incident


def is_member(*, session: Session, incident_id: int, user_id: int) -> bool:
    """True when the user is a member of the incident."""
    return session.get(IncidentMember, (incident_id, user_id)) is not None


@dataclass
class Member:
    """A member as listed on the incident page and in the API."""

    user: User
    added_by: str
    added_at: datetime


def members(*, session: Session, incident_id: int) -> list[Member]:
    """The incident's members, by name."""
    rows = session.exec(select(IncidentMember, User).join(User, User.id == IncidentMember.user_id)
                        .where(IncidentMember.incident_id == incident_id).order_by(User.name, User.email)).all()
    return [Member(user, m.added_by, m.added_at) for m, user in rows]


def add_member(*, session: Session, incident: Incident, email: str, added_by: str, now: datetime) -> User:
    """Make the user with this email a member; an unknown or inactive email, or a member already, is refused."""
    email = (email or "").strip().lower()
    if not email:
        raise InputError(Problem("give the email of the person to add", field="email"))
    user = session.exec(select(User).where(User.email == email)).first()
    if user is None or not user.active:
        raise InputError(Problem(f"no active user with email {email}", field="email"))
    if is_member(session=session, incident_id=incident.id, user_id=user.id):
        raise Conflict(f"{email} is already a member of {incident.ref}")
    session.add(IncidentMember(incident_id=incident.id, user_id=user.id, added_by=added_by, added_at=now))
    session.flush()
    return user


def ensure_member(*, session: Session, incident: Incident, user_id: int, added_by: str, now: datetime) -> bool:
    """Make the user a member unless they are one; returns True when added."""
    if is_member(session=session, incident_id=incident.id, user_id=user_id):
        return False
    session.add(IncidentMember(incident_id=incident.id, user_id=user_id, added_by=added_by, added_at=now))
    session.flush()
    return True


def remove_member(*, session: Session, incident: Incident, user_id: int) -> User:
    """Remove a member; someone who is not a member is NotFound."""
    user = session.get(User, user_id)
    gone = session.exec(delete(IncidentMember).where(IncidentMember.incident_id == incident.id,
                                                     IncidentMember.user_id == user_id)).rowcount
    if not gone or user is None:
        raise NotFound(f"user {user_id} is not a member of {incident.ref}")
    session.flush()
    return user
