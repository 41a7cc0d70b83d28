"""Subject lists: CSV parsing, pseudonymised storage, lookups, access documents, erasure, delivery status."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from app.core.errors import InputError, Problem
from app.core.pagination import Page, PageRequest
from app.core.redaction import Redactor
from app.core.time import iso, require_aware
from app.datamap.models import Controller
from app.notifications.models import OutboxItem, OutboxStatus
from app.subjects.models import AffectedSubject, SubjectImportRow, SubjectStatus
from app.subjects.pseudonym import KeyRing

EMAIL = re.compile(r"^[^@\s]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
ID_COLUMNS = ("identifier", "id", "subject_id", "customer_id")
CONTACT_COLUMNS = ("email", "contact", "contact_email")
MAX_ROWS = 200_000


def parse_csv(text: str) -> list[SubjectImportRow]:
    """Rows of a subject CSV (header with identifier and email columns); every bad row is named by its line."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    id_col = next((c for c in ID_COLUMNS if c in header), None)
    contact_col = next((c for c in CONTACT_COLUMNS if c in header), None)
    if id_col is None:
        raise InputError(Problem(f"line 1: the header needs an identifier column (one of {', '.join(ID_COLUMNS)})",
                                 field="file"))
    reader.fieldnames = header
    rows, problems, seen = [], [], set()
    for line, raw in enumerate(reader, start=2):
        identifier = (raw.get(id_col) or "").strip()
        contact = (raw.get(contact_col) or "").strip() if contact_col else ""
        if not identifier:
            problems.append(Problem(f"line {line}: the identifier is empty", field="file"))
            continue
        if len(identifier) > 500:
            problems.append(Problem(f"line {line}: the identifier is longer than 500 characters", field="file"))
            continue
        if contact and (not EMAIL.match(contact) or len(contact) > 254):
            # The value itself is not repeated: error messages end up in logs and pages.
            problems.append(Problem(f"line {line}: the {contact_col} column is not an email address", field="file"))
            continue
        if identifier.casefold() in seen:
            continue
        seen.add(identifier.casefold())
        rows.append(SubjectImportRow(identifier=identifier, contact=contact or None))
        if len(rows) > MAX_ROWS:
            raise InputError(Problem(f"more than {MAX_ROWS} subjects in one file: split it", field="file"))
    if problems:
        raise InputError(problems[:50])
    if not rows:
        raise InputError(Problem("the file has no subject rows", field="file"))
    return rows


def find(*, session: Session, ring: KeyRing, identifier: str, incident_id: int | None = None,
         controller_id: int | None = None) -> list[AffectedSubject]:
    """Every row whose pseudonym matches the identifier under any key of the ring (none without the key)."""
    conditions = [sa.and_(AffectedSubject.key_id == kid, AffectedSubject.pseudonym == p)
                  for kid, p in ring.candidates(identifier).items()]
    query = select(AffectedSubject).where(sa.or_(*conditions))
    if incident_id is not None:
        query = query.where(AffectedSubject.incident_id == incident_id)
    if controller_id is not None:
        query = query.where(AffectedSubject.controller_id == controller_id)
    return list(session.exec(query.order_by(AffectedSubject.id)))


@dataclass
class ImportResult:
    """What an import did; counts only, never identifiers."""

    added: int = 0
    updated: int = 0
    rekeyed: int = 0  # rows moved from an old key of the ring to the current one
    unchanged: int = 0
    without_contact: int = 0
    ids: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        """Counts for the API and the timeline."""
        return {k: v for k, v in self.__dict__.items() if k != "ids"}


def import_rows(*, session: Session, ring: KeyRing, incident_id: int, controller_id: int, rows: list[SubjectImportRow],
                actor: str, now: datetime) -> ImportResult:
    """Store the rows pseudonymised; a subject already listed is updated (and re-keyed to the current key)."""
    now = require_aware(now, "now")
    existing = {}
    for row in session.exec(select(AffectedSubject).where(AffectedSubject.incident_id == incident_id,
                                                          AffectedSubject.controller_id == controller_id)):
        existing[(row.key_id, row.pseudonym)] = row
    result = ImportResult()
    for item in rows:
        candidates = ring.candidates(item.identifier)
        current = (ring.current, candidates[ring.current])
        found = next((existing[(kid, p)] for kid, p in candidates.items() if (kid, p) in existing), None)
        if found is None:
            subject = AffectedSubject(incident_id=incident_id, controller_id=controller_id, key_id=current[0],
                                      pseudonym=current[1], contact=item.contact, imported_at=now, imported_by=actor,
                                      status=SubjectStatus.imported if item.contact else SubjectStatus.no_contact)
            existing[current] = subject
            session.add(subject)
            result.added += 1
        else:
            subject, changed = found, False
            if (found.key_id, found.pseudonym) != current:
                found.key_id, found.pseudonym = current
                result.rekeyed += 1
                changed = True
            if item.contact and found.contact != item.contact and found.status in (
                    SubjectStatus.imported, SubjectStatus.no_contact, SubjectStatus.failed):
                found.contact, found.status = item.contact, SubjectStatus.imported
                changed = True
            session.add(found)
            result.updated += changed
            result.unchanged += not changed
        result.without_contact += item.contact is None
    session.flush()
    result.ids = [s.id for s in existing.values()]
    return result


def rekey(*, session: Session, ring: KeyRing, identifiers: list[str]) -> int:
    """Move the rows of these identifiers to the current key; returns how many rows moved."""
    moved = 0
    for identifier in identifiers:
        current = ring.make(identifier)
        for row in find(session=session, ring=ring, identifier=identifier):
            if row.key_id != current[0]:
                row.key_id, row.pseudonym = current
                session.add(row)
                moved += 1
    session.flush()
    return moved


def rows_per_key(*, session: Session) -> dict[str, int]:
    """How many rows carry a pseudonym made with each key id (erased rows excluded)."""
    return dict(session.exec(select(AffectedSubject.key_id, sa.func.count()).where(
        AffectedSubject.status != SubjectStatus.erased).group_by(AffectedSubject.key_id)).all())


def list_for(*, session: Session, incident_id: int) -> list[AffectedSubject]:
    """The incident's subject rows, by controller then id."""
    return list(session.exec(select(AffectedSubject).where(AffectedSubject.incident_id == incident_id)
                             .order_by(AffectedSubject.controller_id, AffectedSubject.id)))


def page_for(*, session: Session, incident_id: int, page: PageRequest, status: str | None = None,
             controller_key: str | None = None) -> Page[AffectedSubject]:
    """One page of the incident's subject rows (by controller then id), optionally of one status or controller."""
    query = select(AffectedSubject).where(AffectedSubject.incident_id == incident_id)
    if status:
        query = query.where(AffectedSubject.status == status)
    if controller_key:
        of_controller = select(Controller.id).where(Controller.key == controller_key)
        query = query.where(AffectedSubject.controller_id.in_(of_controller))
    total = session.exec(select(sa.func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(AffectedSubject.controller_id, AffectedSubject.id)
                        .offset(page.offset).limit(page.per_page)).all()
    return Page(list(rows), total, page)


def counts_for(*, session: Session, incident_id: int) -> dict[int, dict[str, int]]:
    """{controller id: {status: count}} for the incident."""
    found: dict[int, dict[str, int]] = {}
    for cid, status, n in session.exec(select(AffectedSubject.controller_id, AffectedSubject.status, sa.func.count())
                                       .where(AffectedSubject.incident_id == incident_id)
                                       .group_by(AffectedSubject.controller_id, AffectedSubject.status)).all():
        found.setdefault(cid, {})[str(status)] = n
    return found


def mask_contact(contact: str | None) -> str:
    """An address as pages show it: first letter and domain only (j…@example.org)."""
    if not contact:
        return ""
    local, _, domain = contact.partition("@")
    return f"{local[:1]}…@{domain}"


def sync_delivery(*, session: Session, incident_id: int | None = None) -> int:
    """Copy outbox outcomes to the subject rows (delivered / failed); returns rows changed."""
    query = (select(AffectedSubject, OutboxItem).join(OutboxItem, OutboxItem.id == AffectedSubject.outbox_id)
             .where(AffectedSubject.status == SubjectStatus.queued,
                    OutboxItem.status.in_([OutboxStatus.delivered, OutboxStatus.failed, OutboxStatus.cancelled])))
    if incident_id is not None:
        query = query.where(AffectedSubject.incident_id == incident_id)
    changed = 0
    for subject, item in session.exec(query).all():
        if item.status == OutboxStatus.delivered:
            subject.status, subject.delivered_at = SubjectStatus.delivered, item.done_at
        else:
            subject.status = SubjectStatus.failed
        session.add(subject)
        changed += 1
    session.flush()
    return changed


def scrub_outbox(*, session: Session, subject: AffectedSubject, label: str) -> None:
    """Replace the subject's address in its outbox row and delivery attempts by a label (the pseudonym's prefix)."""
    from app.notifications.models import DeliveryAttempt

    if subject.outbox_id is None:
        return
    session.exec(sa.update(OutboxItem).where(OutboxItem.id == subject.outbox_id,
                                             OutboxItem.status == OutboxStatus.pending, OutboxItem.claimed_at.is_(None))
                 .values(status=OutboxStatus.cancelled, last_error="cancelled: the subject's contact was removed")
                 .execution_options(synchronize_session=False))
    session.exec(sa.update(OutboxItem).where(OutboxItem.id == subject.outbox_id).values(addresses=[label])
                 .execution_options(synchronize_session=False))
    redactor = Redactor()
    for attempt in session.exec(select(DeliveryAttempt).where(DeliveryAttempt.outbox_id == subject.outbox_id)).all():
        attempt.target = label
        attempt.detail, attempt.error = redactor.redact(attempt.detail)[0][:600], redactor.redact(attempt.error)[0][:600]
        session.add(attempt)
    item = session.get(OutboxItem, subject.outbox_id)
    if item is not None and item.last_error:
        item.last_error = redactor.redact(item.last_error)[0][:2000]
        session.add(item)


def label_of(subject: AffectedSubject) -> str:
    """How a subject is named where a name is needed: its row id and pseudonym prefix, never the identifier."""
    return f"subject #{subject.id} ({subject.key_id}:{subject.pseudonym[:10]})"


def subject_document(subject: AffectedSubject, *, incident_ref: str, controller_key: str,
                     attempts: list | None = None) -> dict:
    """Everything held about one subject row, JSON-ready (access and portability, Art. 15 and 20)."""
    return {"incident": incident_ref, "controller": controller_key, "row_id": subject.id,
            "pseudonym": {"key_id": subject.key_id, "value": subject.pseudonym,
                          "method": "HMAC-SHA256 of the normalised identifier; the identifier is not stored"},
            "contact": subject.contact, "contact_purged_at": iso(subject.contact_purged_at),
            "status": str(subject.status), "delivered_at": iso(subject.delivered_at),
            "imported_at": iso(subject.imported_at), "erased_at": iso(subject.erased_at),
            "communication": None if subject.notification_id is None else {
                "notification_id": subject.notification_id,
                "attempts": [{"at": iso(a.attempted_at), "channel": a.channel, "ok": a.ok, "outcome": a.outcome,
                              "status_code": a.status_code} for a in (attempts or [])]}}


def erase(*, session: Session, subject: AffectedSubject, mode: str, now: datetime) -> None:
    """Erase (pseudonym and contact gone) or pseudonymise (contact gone, pseudonym kept) one row."""
    now = require_aware(now, "now")
    label = f"subject #{subject.id} (erased)" if mode == "erase" else label_of(subject)
    scrub_outbox(session=session, subject=subject, label=label)
    subject.contact, subject.contact_purged_at = None, subject.contact_purged_at or now
    if mode == "erase":
        subject.pseudonym, subject.status, subject.erased_at = f"erased:{subject.id}", SubjectStatus.erased, now
    elif subject.status in (SubjectStatus.imported, SubjectStatus.queued):
        subject.status = SubjectStatus.no_contact
    session.add(subject)
    session.flush()
