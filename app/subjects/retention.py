"""Retention: what personal data the tracker stops keeping, and when; a dry run computes the same plan.

What it touches (defaults in app.config.Defaults):
- subject contact addresses: nulled SUBJECT_CONTACT_GRACE_DAYS after the Art. 34 communication was
  delivered, and at the latest RETENTION_SUBJECT_CONTACT_DAYS after the incident closed (their
  outbox rows and delivery attempts are scrubbed too);
- closed incidents older than RETENTION_FREE_TEXT_DAYS: timeline events carrying personal data
  are marked (shown redacted; the hashed rows are never rewritten), emails / phones / IPs are
  redacted from the incident summary and the notice facts, acknowledgement contacts are nulled,
  and the subject pseudonyms are erased.
What it never touches: the incident's facts and dates, risk decisions, obligations, notifications
as sent, timeline rows and hashes, impact snapshots: the breach register (Art. 33(5)).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from app.core.redaction import Redactor
from app.core.time import require_aware
from app.incidents.models import Incident, IncidentStatus
from app.notifications.models import Acknowledgement, NoticeFacts, Notification
from app.subjects import service
from app.subjects.models import AffectedSubject, RetentionRun, SubjectStatus
from app.timeline.models import TimelineEvent
from app.timeline.redaction import FREE_TEXT_KINDS, TimelineRedaction


@dataclass(frozen=True)
class RetentionSettings:
    """The retention periods, in days."""

    contact_grace_days: float = 7  # after delivery of the Art. 34 communication
    contact_after_close_days: float = 30
    free_text_after_close_days: float = 3 * 365
    run_every_hours: float = 24
    patterns: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, config: Mapping) -> RetentionSettings:
        """From SUBJECT_CONTACT_GRACE_DAYS, RETENTION_SUBJECT_CONTACT_DAYS, RETENTION_FREE_TEXT_DAYS, ..."""
        def number(key: str, default: float) -> float:
            raw = config.get(key)
            try:
                value = float(raw) if raw not in (None, "") else default
            except (TypeError, ValueError):
                raise ValueError(f"{key} must be a number of days (got {raw!r})") from None
            if value < 0:
                raise ValueError(f"{key} must not be negative")
            return value

        patterns = config.get("REDACT_PATTERNS") or []
        if isinstance(patterns, str):
            import json

            patterns = json.loads(patterns)
        return cls(contact_grace_days=number("SUBJECT_CONTACT_GRACE_DAYS", 7),
                   contact_after_close_days=number("RETENTION_SUBJECT_CONTACT_DAYS", 30),
                   free_text_after_close_days=number("RETENTION_FREE_TEXT_DAYS", 3 * 365),
                   run_every_hours=number("RETENTION_RUN_EVERY_HOURS", 24), patterns=tuple(patterns))


@dataclass
class RetentionPlan:
    """What a run changes (or, dry, would change): counts per kind, and the incidents concerned."""

    counts: Counter = field(default_factory=Counter)
    incidents: dict[str, list[str]] = field(default_factory=dict)  # incident ref -> what happens to it

    def note(self, ref: str, what: str, n: int = 1) -> None:
        """Count n changes of one kind for an incident."""
        if n:
            self.counts[what] += n
            self.incidents.setdefault(ref, []).append(f"{what}: {n}")

    def as_dict(self) -> dict:
        """JSON-ready."""
        return {"counts": dict(sorted(self.counts.items())), "incidents": self.incidents}


def last_run(*, session: Session) -> RetentionRun | None:
    """The latest real (not dry) run."""
    return session.exec(select(RetentionRun).where(RetentionRun.dry_run.is_(False))
                        .order_by(RetentionRun.started_at.desc()).limit(1)).first()


def due(*, session: Session, settings: RetentionSettings, now: datetime) -> bool:
    """True when no run happened within run_every_hours (the scheduler runs it at most once a day)."""
    last = last_run(session=session)
    return last is None or last.started_at <= now - timedelta(hours=settings.run_every_hours)


def run(*, session: Session, settings: RetentionSettings, now: datetime, actor: str, dry_run: bool) -> RetentionPlan:
    """Apply (or only plan) the retention rules at `now`; a real run is recorded in retention_run."""
    now = require_aware(now, "now")
    plan = RetentionPlan()
    record = None
    if not dry_run:
        record = RetentionRun(started_at=now, actor=actor, dry_run=False)
        session.add(record)
        session.flush()
    _contacts(session, settings, now, plan, dry_run)
    _free_text(session, settings, now, plan, dry_run, record)
    if record is not None:
        record.finished_at, record.counts = now, dict(sorted(plan.counts.items()))
        session.add(record)
    session.flush()
    return plan


def _refs(session: Session, ids: Iterable[int]) -> dict[int, str]:
    ids = sorted(set(ids))
    return dict(session.exec(select(Incident.id, Incident.ref).where(Incident.id.in_(ids))).all()) if ids else {}


def _contacts(session: Session, settings: RetentionSettings, now: datetime, plan: RetentionPlan, dry: bool) -> None:
    if not dry:
        service.sync_delivery(session=session)
    after_delivery = now - timedelta(days=settings.contact_grace_days)
    after_close = now - timedelta(days=settings.contact_after_close_days)
    rows = session.exec(
        select(AffectedSubject, Incident.closed_at).join(Incident, Incident.id == AffectedSubject.incident_id)
        .where(AffectedSubject.contact.is_not(None),
               sa.or_(sa.and_(AffectedSubject.status == SubjectStatus.delivered,
                              AffectedSubject.delivered_at <= after_delivery),
                      sa.and_(Incident.status == IncidentStatus.closed, Incident.closed_at <= after_close)))).all()
    refs = _refs(session, [s.incident_id for s, _ in rows])
    for subject, _ in rows:
        plan.note(refs[subject.incident_id], "subject contacts nulled")
        if not dry:
            service.erase(session=session, subject=subject, mode="pseudonymise", now=now)


def _free_text(session: Session, settings: RetentionSettings, now: datetime, plan: RetentionPlan, dry: bool,
               record: RetentionRun | None) -> None:
    cutoff = now - timedelta(days=settings.free_text_after_close_days)
    incidents = session.exec(select(Incident).where(Incident.status == IncidentStatus.closed,
                                                    Incident.closed_at <= cutoff).order_by(Incident.id)).all()
    redactor = Redactor(settings.patterns)
    for incident in incidents:
        marked = set(session.exec(select(TimelineRedaction.event_id)
                                  .where(TimelineRedaction.incident_id == incident.id)).all())
        n_events = 0
        for event in session.exec(select(TimelineEvent).where(TimelineEvent.incident_id == incident.id)
                                  .order_by(TimelineEvent.seq)).all():
            if event.id in marked:
                continue
            _, found = redactor.redact(event.summary)
            _, more = redactor.redact_value(event.details or {})
            if event.kind in FREE_TEXT_KINDS or found or more.total:
                n_events += 1
                if not dry:
                    session.add(TimelineRedaction(event_id=event.id, incident_id=incident.id, seq=event.seq,
                                                  event_hash=event.hash, redacted_at=now, reason="retention",
                                                  run_id=record.id if record else None))
        plan.note(incident.ref, "timeline events redacted", n_events)
        summary, n = redactor.redact(incident.summary or "")
        plan.note(incident.ref, "incident summary redactions", n)
        if n and not dry:
            incident.summary = summary
            session.add(incident)
        facts = session.get(NoticeFacts, incident.id)
        if facts is not None:
            total = 0
            for name in ("description", "likely_consequences"):
                text, n = redactor.redact(getattr(facts, name) or "")
                total += n
                if n and not dry:
                    setattr(facts, name, text)
            plan.note(incident.ref, "notice facts redactions", total)
            if total and not dry:
                session.add(facts)
        acks = session.exec(select(Acknowledgement).join(Notification, Notification.id == Acknowledgement.notification_id)
                            .where(Notification.incident_id == incident.id,
                                   sa.or_(Acknowledgement.contact != "", Acknowledgement.contact_name != ""))).all()
        plan.note(incident.ref, "acknowledgement contacts nulled", len(acks))
        for ack in acks if not dry else ():
            ack.contact, ack.contact_name = "", ""
            session.add(ack)
        subjects = session.exec(select(AffectedSubject).where(AffectedSubject.incident_id == incident.id,
                                                              AffectedSubject.status != SubjectStatus.erased)).all()
        plan.note(incident.ref, "subject pseudonyms erased", len(subjects))
        for subject in subjects if not dry else ():
            service.erase(session=session, subject=subject, mode="erase", now=now)
