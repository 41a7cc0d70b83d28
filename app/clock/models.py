"""Obligations (one per incident x regime stage x recipient) and their reminders."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.time import AwareISO, UTCDateTime


class ObligationStatus(StrEnum):
    """Where an obligation stands; overdue is derived (open and past due), not stored."""

    open = "open"
    met = "met"  # met on time (or no fixed deadline)
    late = "late"  # met after due_at; late_by is frozen
    not_required = "not_required"  # a lead decided, with a rationale


class Obligation(SQLModel, table=True):
    """A duty to notify someone by some time, derived from a regime stage."""

    __table_args__ = (
        sa.UniqueConstraint("incident_id", "regime_id", "stage_id", "recipient_key",
                            name="uq_obligation_incident_stage_recipient"),
        sa.Index("ix_obligation_open_due", "status", "due_at"),
        # Issue 8: the dashboard walks open deadlines nearest first (the internal target where the law sets
        # no number); ordered by this expression, the walk reads an index range instead of sorting them all.
        sa.Index("ix_obligation_open_deadline", "status", sa.text("coalesce(due_at, internal_target_at)")),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    regime_id: str = Field(max_length=40)
    stage_id: str = Field(max_length=60)
    title: str = Field(max_length=300)
    recipient_kind: str = Field(max_length=40)  # controller, supervisory_authority, data_subjects, csirt ...
    recipient_key: str = Field(default="", max_length=120)  # controller key, or "" when one per incident
    controller_id: int | None = Field(default=None, foreign_key="controller.id", index=True)
    anchor_name: str = Field(max_length=60)
    anchor_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # None: anchor event not yet known
    due_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    no_fixed_deadline: bool = False  # the law sets no number ("without undue delay")
    internal_target_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    deadline_rule: str = Field(default="", max_length=200)  # human-readable: "72 hours", "3 business days (BR)"
    source: str = Field(default="", max_length=300)  # article the number comes from
    verified: bool = True  # false: regime row not verified against primary text
    informational: bool = False  # the customer's own duty, tracked for them
    status: ObligationStatus = Field(default=ObligationStatus.open, sa_type=sa.String(20))
    met_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    late_by_seconds: int | None = None  # frozen when first met
    delay_reasons: str = Field(default="", max_length=5000)  # Art. 33(1): reasons for a late notification
    rationale: str = Field(default="", max_length=5000)  # why not required
    decided_by: str = Field(default="", max_length=254)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)


class ObligationMetIn(SQLModel):
    """A person records an obligation as met: {"met_at", "delay_reasons" (required when met after due_at)}."""

    model_config = {"extra": "forbid"}
    met_at: AwareISO
    delay_reasons: str = Field(default="", max_length=5000)  # GDPR Art. 33(1): reasons for a late notification


class ObligationNotRequiredIn(SQLModel):
    """A lead rules an obligation not required: {"rationale"} (Art. 33(5) documentation)."""

    model_config = {"extra": "forbid"}
    rationale: str = Field(min_length=1, max_length=5000)


class ReminderKind(StrEnum):
    """Why a reminder fires."""

    progress = "progress"  # a fraction of the window has passed
    due = "due"
    overdue = "overdue"
    escalation = "escalation"  # overdue: tell the escalation channel too


class Reminder(SQLModel, table=True):
    """A reminder row; the tick claims due rows atomically, so each fires once."""

    __table_args__ = (sa.Index("ix_reminder_pending_due", "fired_at", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    obligation_id: int = Field(foreign_key="obligation.id", index=True)
    kind: ReminderKind = Field(sa_type=sa.String(20))
    label: str = Field(max_length=100)  # "50% of the window", "due", "1 h overdue"
    due_at: datetime = Field(sa_type=UTCDateTime)
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    claimed_by: str = Field(default="", max_length=100)
    fired_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancelled: bool = False  # obligation met or not required before it fired
    result: str = Field(default="", max_length=2000)  # what the sender answered
