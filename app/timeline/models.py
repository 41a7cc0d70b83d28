"""Append-only, hash-chained timeline events, one chain per incident."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from sqlmodel import JSON, Field, SQLModel

from app.core.time import AwareISO, UTCDateTime

GENESIS_HASH = "0" * 64  # prev_hash of the first event of a chain


class TimelineEvent(SQLModel, table=True):
    """One thing that happened, chained to the event before it by SHA-256."""

    __tablename__ = "timeline_event"
    __table_args__ = (sa.UniqueConstraint("incident_id", "seq", name="uq_timeline_incident_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    seq: int  # 1, 2, 3 ... within the incident
    occurred_at: datetime = Field(sa_type=UTCDateTime)  # when it happened (may be earlier than recorded)
    recorded_at: datetime = Field(sa_type=UTCDateTime)  # when Breachline recorded it
    kind: str = Field(max_length=60, index=True)  # e.g. incident.created, obligation.met, note
    actor: str = Field(max_length=254)  # user email, "scheduler", "api:<email>", "intake:<source>"
    summary: str = Field(max_length=2000)
    details: dict = Field(default_factory=dict, sa_type=JSON)
    controller_id: int | None = Field(default=None, foreign_key="controller.id", index=True)  # None: whole incident
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class TimelineHead(SQLModel, table=True):
    """The latest link of each incident's chain; updating it serialises concurrent appends."""

    __tablename__ = "timeline_head"

    incident_id: int = Field(foreign_key="incident.id", primary_key=True)
    seq: int = 0
    hash: str = Field(default=GENESIS_HASH, max_length=64)


class NoteIn(SQLModel):
    """A manual timeline entry."""

    model_config = {"extra": "forbid"}
    summary: str = Field(min_length=1, max_length=2000)  # the summary column's width (PostgreSQL enforces it)
    occurred_at: AwareISO | None = None

