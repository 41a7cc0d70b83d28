"""Affected data subjects (pseudonymised), retention runs and retention marks on timeline events."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

import sqlalchemy as sa
from sqlmodel import JSON, Field, SQLModel

from app.core.time import UTCDateTime
from app.timeline.redaction import TimelineRedaction  # noqa: F401  registers the table with the metadata


class SubjectStatus(StrEnum):
    """Where the Art. 34 communication to one subject stands."""

    imported = "imported"  # on the list, nothing sent yet
    queued = "queued"  # an outbox row waits for the dispatcher
    delivered = "delivered"
    failed = "failed"
    no_contact = "no_contact"  # imported without a usable address, or the address was purged before sending
    erased = "erased"  # erased on request: only the row's existence (and no identifier) remains


class AffectedSubject(SQLModel, table=True):
    """One affected person of one controller in one incident; the identifier is kept only as an HMAC pseudonym."""

    __tablename__ = "affected_subject"
    __table_args__ = (sa.UniqueConstraint("incident_id", "controller_id", "key_id", "pseudonym",
                                          name="uq_affected_subject_pseudonym"),
                      sa.Index("ix_affected_subject_lookup", "key_id", "pseudonym"))

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    controller_id: int = Field(foreign_key="controller.id", index=True)
    key_id: str = Field(max_length=40)  # which key of SUBJECT_PSEUDONYM_KEYS made the pseudonym
    pseudonym: str = Field(max_length=64)  # hex HMAC-SHA256 of the normalised identifier; "" once erased
    contact: str | None = Field(default=None, max_length=254)  # email address; None once purged
    status: SubjectStatus = Field(default=SubjectStatus.imported, sa_type=sa.String(12), index=True)
    notification_id: int | None = Field(default=None, foreign_key="notification.id", index=True)
    outbox_id: int | None = Field(default=None, foreign_key="notification_outbox.id", index=True)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    contact_purged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    imported_at: datetime = Field(sa_type=UTCDateTime)
    imported_by: str = Field(max_length=254)
    erased_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class RetentionRun(SQLModel, table=True):
    """One run of the retention job (scheduled, or by command), with what it changed or would change."""

    __tablename__ = "retention_run"

    id: int | None = Field(default=None, primary_key=True)
    started_at: datetime = Field(sa_type=UTCDateTime, index=True)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    dry_run: bool = False
    actor: str = Field(max_length=254)  # "scheduler" or the user who ran the command
    counts: dict = Field(default_factory=dict, sa_type=JSON)  # what changed, per kind
    error: str = Field(default="", max_length=2000)


class SubjectImportRow(SQLModel):
    """One CSV row as validated: the identifier (never stored) and an optional email address."""

    identifier: str = Field(min_length=1, max_length=500)
    contact: str | None = Field(default=None, max_length=254)


class LookupIn(SQLModel):
    """An access or erasure request: the identifier as the controller gave it."""

    model_config = {"extra": "forbid"}
    identifier: str = Field(min_length=1, max_length=500)
    controller: str | None = Field(default=None, max_length=100)  # controller key: only its lists


class EraseIn(LookupIn):
    """Erase (delete the row's pseudonym and contact) or pseudonymise (keep the pseudonym, drop the contact)."""

    mode: Literal["erase", "pseudonymise"] = "erase"  # an enum, so the API document lists both
    reason: str = Field(default="", max_length=500)  # e.g. the controller's ticket number; no personal data


class SendIn(SQLModel):
    """Send the approved Art. 34 communication to the controller's listed subjects."""

    model_config = {"extra": "forbid"}
    controller: str = Field(min_length=1, max_length=100)
