"""Incident tasks from the incident-type playbook: create, assign, complete with a note, reopen."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, select

from app.auth.models import User
from app.core.errors import Conflict, InputError, NotFound, Problem
from app.core.time import iso
from app.incidents.models import Incident
from app.playbooks.incident_types import IncidentType
from app.playbooks.models import IncidentTask, TaskStatus


def anchor_of(incident: Incident) -> datetime:
    """The time task offsets count from: our awareness, or detection while awareness is not yet set."""
    return incident.aware_at or incident.detected_at


def create_tasks_for(*, session: Session, incident: Incident, incident_type: IncidentType,
                     now: datetime) -> list[IncidentTask]:
    """Create the playbook's tasks for the incident (tasks it already has are left alone)."""
    existing = set(session.exec(select(IncidentTask.playbook_task_id)
                                .where(IncidentTask.incident_id == incident.id)).all())
    anchor = anchor_of(incident)
    created = [IncidentTask(incident_id=incident.id, playbook_task_id=t.id, position=i, title=t.title,
                            description=t.description, owner_role=str(t.owner_role),
                            due_offset_hours=t.due_offset_hours, due_at=anchor + timedelta(hours=t.due_offset_hours),
                            evidence_expected=list(t.evidence), created_at=now)
               for i, t in enumerate(incident_type.tasks) if t.id not in existing]
    session.add_all(created)
    session.flush()
    return created


def list_tasks(*, session: Session, incident_id: int) -> list[IncidentTask]:
    """The incident's tasks in due order (playbook order among equal due times)."""
    return list(session.exec(select(IncidentTask).where(IncidentTask.incident_id == incident_id)
                             .order_by(IncidentTask.due_at, IncidentTask.position, IncidentTask.id)))


def get_task(*, session: Session, incident_id: int, task_id: int) -> IncidentTask:
    """One task of the incident, or NotFound (a task id of another incident is not found either)."""
    task = session.get(IncidentTask, task_id)
    if task is None or task.incident_id != incident_id:
        raise NotFound(f"no task {task_id} in this incident")
    return task


def overdue(tasks: list[IncidentTask], now: datetime) -> list[IncidentTask]:
    """The open tasks past their due time."""
    return [t for t in tasks if t.is_overdue(now)]


def assign(*, session: Session, task: IncidentTask, assignee_email: str | None,
           may_see: set[int] | None = None) -> tuple[User | None, User | None]:
    """Assign the task to an active user by email (empty: unassign); returns (previous, new) assignee.

    `may_see` (user ids) limits the choice for a restricted incident; None means anyone.
    """
    previous = session.get(User, task.assignee_id) if task.assignee_id else None
    user = None
    if assignee_email and assignee_email.strip():
        user = session.exec(select(User).where(User.email == assignee_email.strip().lower())).first()
        if user is None or not user.active:
            raise InputError(Problem(f"no active user with email {assignee_email.strip()}", field="assignee"))
        if may_see is not None and user.id not in may_see:
            raise InputError(Problem(f"{user.email} is not a member of this restricted incident; add them as a "
                                     "member first", field="assignee"))
    task.assignee_id = user.id if user else None
    session.add(task)
    session.flush()
    return previous, user


def complete(*, session: Session, task: IncidentTask, note: str, actor: str, now: datetime,
             outcome: TaskStatus = TaskStatus.done) -> IncidentTask:
    """Close an open task as done (or skipped) with a note saying what was done or why it does not apply."""
    if outcome == TaskStatus.open:
        raise InputError(Problem("a task is closed as done or skipped", field="outcome"))
    if not note.strip():
        raise InputError(Problem("say what was done and where the evidence is (a note is required)", field="note"))
    if task.status != TaskStatus.open:
        raise Conflict(f"task “{task.title}” is already {task.status} (by {task.completed_by} at "
                       f"{iso(task.completed_at)}); reopen it first")
    task.status, task.note = outcome, note.strip()
    task.completed_at, task.completed_by = now, actor
    session.add(task)
    session.flush()
    return task


def reopen(*, session: Session, task: IncidentTask) -> IncidentTask:
    """Reopen a done or skipped task; its earlier note stays on the timeline."""
    if task.status == TaskStatus.open:
        raise Conflict(f"task “{task.title}” is already open")
    task.status = TaskStatus.open
    task.completed_at, task.completed_by, task.note = None, "", ""
    session.add(task)
    session.flush()
    return task


def task_document(task: IncidentTask, *, now: datetime, assignee: User | None = None) -> dict:
    """A task as the API shows it."""
    return {"id": task.id, "playbook_task_id": task.playbook_task_id, "title": task.title,
            "description": task.description, "owner_role": task.owner_role,
            "assignee": assignee.email if assignee else None, "due_offset_hours": task.due_offset_hours,
            "due_at": iso(task.due_at), "overdue": task.is_overdue(now), "evidence_expected": task.evidence_expected,
            "status": str(task.status), "completed_at": iso(task.completed_at), "completed_by": task.completed_by or None,
            "note": task.note or None}


def assignees(*, session: Session, tasks: list[IncidentTask]) -> dict[int, User]:
    """The assigned users of these tasks by id, in one query."""
    ids = {t.assignee_id for t in tasks if t.assignee_id}
    if not ids:
        return {}
    return {u.id: u for u in session.exec(select(User).where(User.id.in_(ids)))}


def assignable_users(*, session: Session, may_see: set[int] | None = None) -> list[User]:
    """Active users who can be given tasks, by name (only those in `may_see` when it is given)."""
    query = select(User).where(User.active.is_(True)).order_by(User.name)
    if may_see is not None:
        query = query.where(User.id.in_(may_see))
    return list(session.exec(query))
