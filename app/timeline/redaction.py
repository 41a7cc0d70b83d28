"""Retention marks on timeline events: the hashed rows stay untouched, what is shown is redacted.

Why not rewrite the rows: every event's hash covers its summary and details, and the breach
register (GDPR Art. 33(5)) must stay verifiable for years. So retention records a mark per event
(`timeline_redaction`) and every view, API answer and export shows the redacted form: human notes
become "[redacted under retention policy]", generated events keep their wording with emails,
phone numbers, IP addresses and REDACT_PATTERNS replaced. `timeline verify` reads the rows and
still passes. A mark names the event's hash, so it cannot be moved onto another event.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlmodel import Field, Session, SQLModel, select

from app.core.redaction import Redactor
from app.core.time import UTCDateTime
from app.timeline.models import TimelineEvent

MARKER = "[redacted under retention policy]"
ERASED = "[erased on request]"
FREE_TEXT_KINDS = {"note", "incident.note"}  # written by people: shown as the marker, whole


class TimelineRedaction(SQLModel, table=True):
    """A timeline event shown redacted under the retention policy or an erasure request (the row is never rewritten)."""

    __tablename__ = "timeline_redaction"

    event_id: int = Field(foreign_key="timeline_event.id", primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    seq: int
    event_hash: str = Field(max_length=64)  # the event's hash when marked
    redacted_at: datetime = Field(sa_type=UTCDateTime)
    reason: str = Field(max_length=60)  # retention | erasure
    run_id: int | None = None  # the retention_run that marked it


def marks_of(*, session: Session, incident_id: int) -> dict[int, TimelineRedaction]:
    """{event id: mark} of an incident."""
    return {m.event_id: m for m in session.exec(select(TimelineRedaction)
                                                 .where(TimelineRedaction.incident_id == incident_id))}


def redacted_text(kind: str, summary: str, details: dict, reason: str,
                  redactor: Redactor | None = None) -> tuple[str, dict]:
    """The summary and details an event is shown with once marked."""
    if kind in FREE_TEXT_KINDS:
        return (ERASED if reason == "erasure" else MARKER), {}
    redactor = redactor or Redactor()
    text, _ = redactor.redact(summary)
    cleaned, _ = redactor.redact_value(details)
    return text, cleaned


def apply_to_document(doc: dict, mark: TimelineRedaction | None, redactor: Redactor | None = None) -> dict:
    """An event document (timeline.service.event_document) as shown once marked; hash fields are kept."""
    if mark is None or mark.event_hash != doc.get("hash"):
        return doc
    summary, details = redacted_text(doc["kind"], doc["summary"], doc["details"], mark.reason, redactor)
    # "redacted" makes offline verification check this event's links, not its content (app.timeline.offline).
    return {**doc, "summary": summary, "details": details, "redacted": doc.get("redacted") or mark.reason,
            "retention_redacted": mark.reason}


class ShownEvent:
    """A read-only view of a TimelineEvent with the redacted summary and details (the ORM row is not touched)."""

    def __init__(self, event: TimelineEvent, summary: str, details: dict, reason: str):
        self._event, self.summary, self.details, self.retention_redacted = event, summary, details, reason

    def __getattr__(self, name):
        return getattr(self._event, name)


def shown(*, session: Session, incident_id: int, events: Sequence[TimelineEvent],
          patterns: Iterable[str] = ()) -> list:
    """Events as pages show them: marked ones wrapped with their redacted text, the others as they are."""
    marks = marks_of(session=session, incident_id=incident_id)
    if not marks:
        return list(events)
    redactor = Redactor(patterns)
    out = []
    for event in events:
        mark = marks.get(event.id)
        if mark is None or mark.event_hash != event.hash:
            out.append(event)
            continue
        summary, details = redacted_text(event.kind, event.summary, event.details or {}, mark.reason, redactor)
        out.append(ShownEvent(event, summary, details, mark.reason))
    return out
