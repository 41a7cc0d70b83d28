"""Answers about regimes, the deadline calculator, the audit log and alert intake."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from app.api.schemas.common import Out, PageMeta, UTCTime


class StageOut(Out):
    """One stage of a regime: who is told by when."""

    id: str
    title: str
    anchor: str
    deadline: str = Field(description='e.g. "72 hours", "3 business days (BR)"')
    source: str
    informational: bool


class RegimeOut(Out):
    """A legal clock with its stages and citations."""

    id: str
    title: str
    verified: bool
    jurisdiction: str
    notifier: str
    recipient: str
    per_recipient: str
    stages: list[StageOut]
    sources: list[dict[str, Any]]


class RegimeList(Out):
    """Every regime."""

    items: list[RegimeOut]
    total: int = Field(ge=0)


class StageDeadline(Out):
    """One stage's due time for the anchor."""

    id: str
    title: str
    due_at: UTCTime | None
    no_fixed_deadline: bool
    rule: str
    anchor: str
    source: str


class DeadlinesOut(Out):
    """Every stage's due time for an anchor."""

    regime: str
    anchor: UTCTime
    timezone: str
    verified: bool
    stages: list[StageDeadline]


class AuditEventOut(Out):
    """One audit event."""

    id: int
    at: UTCTime
    actor: str
    action: str
    target: str
    ip: str | None
    details: dict[str, Any]


class AuditPage(PageMeta):
    """Audit events, newest first."""

    items: list[AuditEventOut]


class IntakeOut(Out):
    """The incident the alert opened or joined."""

    ref: str
    created: bool
