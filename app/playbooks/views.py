"""Task actions on the incident page: assign, complete with a note, reopen."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_login import current_user
from pydantic import ValidationError

from app import runtime
from app.auth.permissions import Permission, declare
from app.core import time
from app.core.errors import Conflict, InputError, NotFound
from app.db import get_session
from app.flows import tasks as flows
from app.incidents.forms import CsrfForm
from app.playbooks import tasks as task_service
from app.playbooks.models import TaskComplete, TaskStatus

bp = Blueprint("playbooks", __name__)


def _act(ref: str, task_id: int, action, success: str):
    """Run one task change: commit once, or show the incident page with what was wrong and change nothing."""
    from app.incidents.views import _problems, incident_page

    if not CsrfForm().validate_on_submit():
        flash("The form expired; nothing was saved. Submit it again.", "error")
        return redirect(url_for("incidents.incident_page", ref=ref, _anchor="tasks"))
    db = get_session()
    try:
        incident = runtime.visible_incident(ref)
        task = task_service.get_task(session=db, incident_id=incident.id, task_id=task_id)
    except NotFound:
        abort(404)
    try:
        action(db, incident, task)
        db.commit()
    except (InputError, ValidationError, Conflict) as exc:
        db.rollback()
        # Reload the signed-in user while still attached: the page's timeline check expunges the
        # session, and an expired user could not be loaded again to render the page.
        _ = current_user.role
        # Not passing the post as `submitted`: the page would prefill its edit form from this task form.
        return incident_page(ref, problems=_problems(exc)), 409 if isinstance(exc, Conflict) else 422
    flash(success, "success")
    return redirect(url_for("incidents.incident_page", ref=ref, _anchor="tasks"))


@bp.post("/incidents/<ref>/tasks/<int:task_id>/assign")
@declare(Permission.incident_write)
def assign_task(ref: str, task_id: int):
    """Assign a task to a user (empty: unassign)."""
    return _act(ref, task_id, lambda db, incident, task: flows.assign(
        session=db, incident=incident, task=task, assignee_email=request.form.get("assignee", ""),
        actor=runtime.actor(), now=time.now()), "Task assigned.")


@bp.post("/incidents/<ref>/tasks/<int:task_id>/complete")
@declare(Permission.incident_write)
def complete_task(ref: str, task_id: int):
    """Close a task as done or skipped; the note is required."""
    def _complete(db, incident, task):
        data = TaskComplete.model_validate({"note": request.form.get("note", "").strip(),
                                            "outcome": request.form.get("outcome") or TaskStatus.done})
        flows.complete(session=db, incident=incident, task=task, note=data.note, outcome=data.outcome,
                       actor=runtime.actor(), now=time.now())

    return _act(ref, task_id, _complete, "Task closed.")


@bp.post("/incidents/<ref>/tasks/<int:task_id>/reopen")
@declare(Permission.incident_write)
def reopen_task(ref: str, task_id: int):
    """Reopen a done or skipped task."""
    return _act(ref, task_id, lambda db, incident, task: flows.reopen(
        session=db, incident=incident, task=task, reason=request.form.get("reason", ""), actor=runtime.actor(),
        now=time.now()), "Task reopened.")


@bp.app_template_global("incident_tasks")
def _incident_tasks(incident, now) -> dict:
    """The incident's tasks with their assignees and the users they can be given to, for the incident page."""
    db = get_session()
    tasks = task_service.list_tasks(session=db, incident_id=incident.id)
    return {"tasks": tasks, "assignees": task_service.assignees(session=db, tasks=tasks),
            "users": flows.assignable_users(session=db, incident=incident), "overdue": len(task_service.overdue(tasks, now))}
