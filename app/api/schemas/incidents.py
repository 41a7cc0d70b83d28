"""Answers about incidents: the incident, its scope, impact, obligations, tasks and members."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from app.api.schemas.common import Out, PageMeta, UTCTime
from app.clock.models import ObligationStatus
from app.incidents.models import BreachType, IncidentStatus, Severity
from app.playbooks.models import TaskStatus


class IncidentBrief(Out):
    """An incident as lists show it."""

    ref: str
    title: str
    incident_type: str
    status: IncidentStatus
    severity: Severity
    drill: bool
    restricted: bool
    breach_types: list[BreachType]
    version: int = Field(ge=1)
    owner: str | None = Field(description="the owner's email")
    detected_at: UTCTime
    aware_at: UTCTime | None
    occurred_from: UTCTime | None
    occurred_to: UTCTime | None
    contained_at: UTCTime | None
    closed_at: UTCTime | None
    created_at: UTCTime
    updated_at: UTCTime


class CountOverrideOut(Out):
    """A responder's better estimate of one controller's counts."""

    est_subjects: int | None
    est_records: int | None
    note: str


class ScopeOut(Out):
    """The incident's scope by keys."""

    systems: list[str]
    data_categories: list[str]
    controllers: list[str]
    overrides: dict[str, CountOverrideOut] = Field(description="controller key -> counts")


class IncidentOut(IncidentBrief):
    """One incident with its summary, flags, anchors and scope."""

    summary: str
    status_rationale: str
    flags: list[str]
    anchors: dict[str, UTCTime]
    scope: ScopeOut


class IncidentList(PageMeta):
    """One page of the incidents the caller may see, newest first."""

    items: list[IncidentBrief]


class ImpactController(Out):
    """One affected controller of an impact snapshot."""

    key: str
    name: str
    role: str
    data_categories: list[str]
    subject_categories: list[str]
    est_subjects: int
    est_records: int
    special_categories: bool
    vulnerable_subjects: bool
    jurisdictions: list[str]
    systems: list[str]


class ImpactOut(Out):
    """The latest impact snapshot (all null and empty before the first analysis)."""

    datamap_version: int | None
    datamap_version_hash: str | None
    computed_at: UTCTime | None
    controllers: list[ImpactController]
    totals: dict[str, Any] = Field(description="controllers, est_subjects, est_records, special_categories, "
                                               "vulnerable_subjects and by_data_category / by_subject_category / "
                                               "by_jurisdiction / by_role breakdowns")


class RecipientRef(Out):
    """Who an obligation is owed to."""

    kind: str
    key: str


class AnchorRef(Out):
    """The event a deadline runs from."""

    name: str
    at: UTCTime | None


class ObligationOut(Out):
    """A duty to notify someone by some time."""

    id: int
    regime: str
    stage: str
    title: str
    recipient: RecipientRef
    anchor: AnchorRef
    due_at: UTCTime | None
    no_fixed_deadline: bool
    internal_target_at: UTCTime | None
    deadline_rule: str
    status: ObligationStatus
    overdue: bool
    met_at: UTCTime | None
    late_by_seconds: int | None
    source: str
    verified: bool
    informational: bool
    delay_reasons: str | None = Field(description="why it was met late (GDPR Art. 33(1))")
    rationale: str | None = Field(description="why it is not required")
    decided_by: str | None = Field(description="who settled it: met, late or not required")
    decided_at: UTCTime | None


class ObligationList(Out):
    """Every obligation of an incident."""

    items: list[ObligationOut]
    total: int = Field(ge=0)


class TaskOut(Out):
    """A playbook task of an incident."""

    id: int
    playbook_task_id: str
    title: str
    description: str
    owner_role: str
    assignee: str | None
    due_offset_hours: float
    due_at: UTCTime
    overdue: bool
    evidence_expected: list[str]
    status: TaskStatus
    completed_at: UTCTime | None
    completed_by: str | None
    note: str | None


class TaskList(Out):
    """The incident's tasks in due order."""

    incident: str
    total: int = Field(ge=0)
    overdue: int = Field(ge=0)
    items: list[TaskOut]


class MemberOut(Out):
    """A person who may see a restricted incident."""

    user_id: int
    email: str
    name: str
    role: str
    added_by: str
    added_at: UTCTime


class MemberList(Out):
    """Who may see the incident when it is restricted."""

    incident: str
    restricted: bool
    total: int = Field(ge=0)
    items: list[MemberOut]
