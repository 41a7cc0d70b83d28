"""Response tasks of an incident, created from its incident-type playbook."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

import sqlalchemy as sa
from sqlmodel import JSON, Field, SQLModel

from app.core.time import UTCDateTime


class TaskStatus(StrEnum):
    """Where a task stands; overdue is derived (open and past due), not stored."""

    open = "open"
    done = "done"
    skipped = "skipped"  # not applicable to this incident; the note says why


class IncidentTask(SQLModel, table=True):
    """One playbook task for one incident."""

    __tablename__ = "task"
    __table_args__ = (sa.UniqueConstraint("incident_id", "playbook_task_id", name="uq_task_incident_playbook_task"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    playbook_task_id: str = Field(max_length=80)  # task id in playbooks/incident-types/<type>.yaml
    position: int = 0  # order in the playbook
    title: str = Field(max_length=300)
    description: str = Field(default="", max_length=5000)
    owner_role: str = Field(max_length=20)
    assignee_id: int | None = Field(default=None, foreign_key="user.id")
    due_offset_hours: float = 0  # kept so the due time can be explained (and recomputed)
    due_at: datetime = Field(sa_type=UTCDateTime, index=True)
    evidence_expected: list[str] = Field(default_factory=list, sa_type=JSON)
    status: TaskStatus = Field(default=TaskStatus.open, sa_type=sa.String(10))
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    completed_by: str = Field(default="", max_length=254)
    note: str = Field(default="", max_length=5000)  # what was done and where the evidence is
    created_at: datetime = Field(sa_type=UTCDateTime)

    def is_overdue(self, now: datetime) -> bool:
        """Open and past its due time."""
        return self.status == TaskStatus.open and self.due_at < now


class TaskComplete(SQLModel):
    """Closing a task: a note saying what was done (or why it does not apply) is required."""

    model_config = {"extra": "forbid"}
    note: str = Field(min_length=1, max_length=5000)
    # done, or skipped when the task does not apply; "open" is not a way to close a task, so the API says so too
    outcome: Literal[TaskStatus.done, TaskStatus.skipped] = TaskStatus.done


class TaskAssign(SQLModel):
    """Assigning a task to a user by email (null or empty: unassign)."""

    model_config = {"extra": "forbid"}
    assignee: str | None = Field(default=None, max_length=254)


class TaskReopen(SQLModel):
    """Reopening a closed task, optionally saying why."""

    model_config = {"extra": "forbid"}
    reason: str = Field(default="", max_length=5000)
