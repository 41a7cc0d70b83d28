"""Answers about affected data subjects: imports, lists, the Art. 34 communication, access, erasure, retention."""

from __future__ import annotations

from pydantic import Field

from app.api.schemas.common import Out, PageMeta, UTCTime
from app.notifications.models import NotificationStatus
from app.subjects.models import SubjectStatus


class ImportOut(Out):
    """What an import did: counts only, never identifiers."""

    incident: str
    controller: str
    added: int = Field(ge=0)
    updated: int = Field(ge=0)
    rekeyed: int = Field(ge=0)
    unchanged: int = Field(ge=0)
    without_contact: int = Field(ge=0)


class SubjectRow(Out):
    """One listed subject: pseudonym and masked contact."""

    row_id: int
    controller_id: int
    key_id: str
    pseudonym: str
    contact: str | None
    status: SubjectStatus
    delivered_at: UTCTime | None


class SubjectList(PageMeta):
    """One page of the incident's subject rows with delivery status, and the counts of all of them."""

    incident: str
    counts: dict[str, dict[str, int]] = Field(description="controller id -> status -> rows")
    items: list[SubjectRow]


class CommunicationOut(Out):
    """The drafted Art. 34 communication (approve it with the notification endpoints)."""

    notification_id: int
    uid: str
    status: NotificationStatus
    locale: str


class SendOut(Out):
    """How many subjects the communication was queued for."""

    notification_id: int
    queued: int = Field(ge=0)
    without_contact: int = Field(ge=0)


class PseudonymOut(Out):
    """How the identifier is held."""

    key_id: str
    value: str
    method: str


class SubjectAttempt(Out):
    """One delivery attempt of the communication to this subject."""

    at: UTCTime
    channel: str
    ok: bool
    outcome: str
    status_code: int | None


class SubjectCommunication(Out):
    """The communication sent to this subject."""

    notification_id: int
    attempts: list[SubjectAttempt]


class SubjectRecord(Out):
    """Everything held about one subject row (Art. 15 and 20)."""

    incident: str
    controller: str
    row_id: int
    pseudonym: PseudonymOut
    contact: str | None
    contact_purged_at: UTCTime | None
    status: SubjectStatus
    delivered_at: UTCTime | None
    imported_at: UTCTime
    erased_at: UTCTime | None
    communication: SubjectCommunication | None


class AccessOut(Out):
    """Everything held about an identifier."""

    generated_at: UTCTime
    found: int = Field(ge=0)
    rekeyed: int = Field(ge=0)
    note: str
    records: list[SubjectRecord]


class EraseOut(Out):
    """How many rows were erased or pseudonymised."""

    rows: int = Field(ge=0)
    mode: str


class RetentionOut(Out):
    """What a retention run changed (or, dry, would change)."""

    dry_run: bool
    counts: dict[str, int]
    incidents: dict[str, list[str]] = Field(description="incident ref -> what happens to it")
