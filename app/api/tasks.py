"""Incident task endpoints: list, assign, complete with a note, reopen."""

from __future__ import annotations

from app import runtime
from app.api import api_bp, body_as
from app.api.schemas.incidents import TaskList, TaskOut
from app.api.spec import operation
from app.auth.permissions import Permission, declare
from app.core import time
from app.db import get_session
from app.flows import tasks as flows
from app.playbooks import tasks as task_service
from app.playbooks.models import TaskAssign, TaskComplete, TaskReopen


def _task_answer(db, task) -> dict:
    users = task_service.assignees(session=db, tasks=[task])
    return task_service.task_document(task, now=time.now(), assignee=users.get(task.assignee_id))


@api_bp.get("/incidents/<ref>/tasks")
@declare(Permission.incident_read)
@operation(tags=["tasks"], responses={200: TaskList})
def list_tasks(ref: str):
    """The incident's playbook tasks in due order, with owner role, assignee, due time and overdue flag."""
    db, now = get_session(), time.now()
    incident = runtime.visible_incident(ref)
    tasks = task_service.list_tasks(session=db, incident_id=incident.id)
    users = task_service.assignees(session=db, tasks=tasks)
    return {"incident": incident.ref, "total": len(tasks), "overdue": len(task_service.overdue(tasks, now)),
            "items": [task_service.task_document(t, now=now, assignee=users.get(t.assignee_id)) for t in tasks]}


@api_bp.post("/incidents/<ref>/tasks/<int:task_id>/assign")
@declare(Permission.incident_write)
@operation(tags=["tasks"], body=TaskAssign, responses={200: TaskOut})
def assign_task(ref: str, task_id: int):
    """Assign a task: {"assignee": email} (null or "" unassigns)."""
    db = get_session()
    incident = runtime.visible_incident(ref)
    task = task_service.get_task(session=db, incident_id=incident.id, task_id=task_id)
    data = body_as(TaskAssign)
    flows.assign(session=db, incident=incident, task=task, assignee_email=data.assignee, actor=runtime.actor(),
                 now=time.now())
    db.commit()
    return _task_answer(db, task)


@api_bp.post("/incidents/<ref>/tasks/<int:task_id>/complete")
@declare(Permission.incident_write)
@operation(tags=["tasks"], body=TaskComplete, responses={200: TaskOut}, errors=(409,))
def complete_task(ref: str, task_id: int):
    """Close a task: {"note": what was done, "outcome": "done" | "skipped"}; the note is required."""
    db = get_session()
    incident = runtime.visible_incident(ref)
    task = task_service.get_task(session=db, incident_id=incident.id, task_id=task_id)
    data = body_as(TaskComplete)
    flows.complete(session=db, incident=incident, task=task, note=data.note, outcome=data.outcome,
                   actor=runtime.actor(), now=time.now())
    db.commit()
    return _task_answer(db, task)


@api_bp.post("/incidents/<ref>/tasks/<int:task_id>/reopen")
@declare(Permission.incident_write)
@operation(tags=["tasks"], body=TaskReopen, responses={200: TaskOut}, errors=(409,))
def reopen_task(ref: str, task_id: int):
    """Reopen a done or skipped task: {"reason": optional}."""
    db = get_session()
    incident = runtime.visible_incident(ref)
    task = task_service.get_task(session=db, incident_id=incident.id, task_id=task_id)
    data = body_as(TaskReopen)
    flows.reopen(session=db, incident=incident, task=task, reason=data.reason, actor=runtime.actor(), now=time.now())
    db.commit()
    return _task_answer(db, task)
