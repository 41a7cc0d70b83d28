"""Working an incident's playbook tasks: every change goes on the timeline."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlmodel import Session, select

from app.core.time import iso
from app.auth.models import Role, User
from app.incidents import access
from app.incidents.models import Incident
from app.playbooks import tasks as task_service
from app.playbooks.incident_types import IncidentType
from app.playbooks.models import IncidentTask, TaskStatus
from app.timeline import service as timeline

if TYPE_CHECKING:  # the declare flow imports this module, so Actor cannot be imported at load time
    from app.flows.incident import Actor


def _event(session: Session, incident_id: int, kind: str, summary: str, actor: Actor, now: datetime,
           details: dict) -> None:
    timeline.append(session=session, incident_id=incident_id, kind=kind, summary=summary, actor=actor.name,
                    recorded_at=now, details=details)


def create_for_incident(*, session: Session, incident: Incident, actor: Actor, now: datetime,
                        incident_type: IncidentType | None) -> list[IncidentTask]:
    """Create the incident type's tasks and record one summary event listing them."""
    if incident_type is None:
        return []
    created = task_service.create_tasks_for(session=session, incident=incident, incident_type=incident_type, now=now)
    if created:
        anchor = "awareness" if incident.aware_at else "detection (awareness not yet set)"
        _event(session, incident.id, "task.created",
               f"{len(created)} task(s) from the {incident_type.title} playbook, due from {anchor}", actor, now,
               {"incident_type": incident_type.id, "count": len(created), "anchor_at": iso(task_service.anchor_of(incident)),
                "tasks": [{"id": t.id, "playbook_task_id": t.playbook_task_id, "title": t.title,
                           "owner_role": t.owner_role, "due_at": iso(t.due_at)} for t in created]})
    return created


def who_may_see(*, session: Session, incident: Incident) -> set[int] | None:
    """User ids allowed to work a restricted incident (its members and the admins); None when it is not restricted."""
    if not incident.restricted:
        return None
    members = {m.user.id for m in access.members(session=session, incident_id=incident.id)}
    admins = set(session.exec(select(User.id).where(User.role == Role.admin)))
    return members | admins


def assignable_users(*, session: Session, incident: Incident) -> list[User]:
    """Active users this incident's tasks can be given to (need-to-know: members and admins when restricted)."""
    return task_service.assignable_users(session=session, may_see=who_may_see(session=session, incident=incident))


def assign(*, session: Session, incident: Incident, task: IncidentTask, assignee_email: str | None, actor: Actor,
           now: datetime) -> None:
    """Assign (or unassign) a task; a restricted incident's tasks go only to people who may see it."""
    previous, user = task_service.assign(session=session, task=task, assignee_email=assignee_email,
                                         may_see=who_may_see(session=session, incident=incident))
    if (previous.id if previous else None) == (user.id if user else None):
        return
    summary = (f"Task “{task.title}” assigned to {user.name} ({user.email})" if user
               else f"Task “{task.title}” unassigned")
    _event(session, incident.id, "task.assigned", summary, actor, now,
           {"task_id": task.id, "playbook_task_id": task.playbook_task_id,
            "from": previous.email if previous else None, "to": user.email if user else None})


def complete(*, session: Session, incident: Incident, task: IncidentTask, note: str, actor: Actor, now: datetime,
             outcome: TaskStatus = TaskStatus.done) -> None:
    """Close a task with its note; a late close says how late."""
    late = task.is_overdue(now)
    task_service.complete(session=session, task=task, note=note, actor=actor.name, now=now, outcome=outcome)
    verb = "completed" if outcome == TaskStatus.done else "skipped (not applicable)"
    _event(session, incident.id, "task.completed", f"Task “{task.title}” {verb}: {task.note}", actor, now,
           {"task_id": task.id, "playbook_task_id": task.playbook_task_id, "outcome": str(outcome),
            "note": task.note, "due_at": iso(task.due_at), "late": late})


def reopen(*, session: Session, incident: Incident, task: IncidentTask, reason: str, actor: Actor,
           now: datetime) -> None:
    """Reopen a closed task."""
    was, note = str(task.status), task.note
    task_service.reopen(session=session, task=task)
    summary = f"Task “{task.title}” reopened" + (f": {reason.strip()}" if reason.strip() else "")
    _event(session, incident.id, "task.reopened", summary, actor, now,
           {"task_id": task.id, "playbook_task_id": task.playbook_task_id, "was": was, "previous_note": note,
            "reason": reason.strip()})
