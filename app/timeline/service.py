"""Appending to and verifying the hash-chained timeline of an incident."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Iterator

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, select, update

from app.core.time import iso, require_aware
from app.timeline.models import GENESIS_HASH, TimelineEvent, TimelineHead

HASHED_FIELDS = ("seq", "occurred_at", "recorded_at", "kind", "actor", "summary", "details", "controller_id",
                 "prev_hash")


def canonical_event(fields: dict) -> bytes:
    """The canonical JSON (sorted keys, no spaces, UTC 'Z' times) that an event's hash covers."""
    payload = {name: fields[name] for name in HASHED_FIELDS}
    for name in ("occurred_at", "recorded_at"):
        if isinstance(payload[name], datetime):
            payload[name] = iso(payload[name])
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def event_hash(fields: dict) -> str:
    """SHA-256 of an event's canonical JSON."""
    return hashlib.sha256(canonical_event(fields)).hexdigest()


def event_fields(event: TimelineEvent) -> dict:
    """The hashed fields of a stored event."""
    return {name: getattr(event, name) for name in HASHED_FIELDS}


def append(*, session: Session, incident_id: int, kind: str, summary: str, actor: str, recorded_at: datetime,
           occurred_at: datetime | None = None, details: dict | None = None,
           controller_id: int | None = None) -> TimelineEvent:
    """Append one event to the incident's chain (serialised per incident by the head row)."""
    recorded_at = require_aware(recorded_at, "recorded_at")
    occurred_at = require_aware(occurred_at or recorded_at, "occurred_at")
    # Bumping the head first takes the row (PostgreSQL) or database (SQLite) write lock, so two
    # concurrent appends cannot both read the same previous hash.
    if _bump_head(session, incident_id) == 0:
        # First event: create the head, tolerating a concurrent first append that created it already.
        session.exec(_insert_ignore(session, incident_id))
        _bump_head(session, incident_id)
    head = session.exec(select(TimelineHead).where(TimelineHead.incident_id == incident_id)
                        .execution_options(populate_existing=True)).one()
    fields = {"seq": head.seq, "occurred_at": occurred_at, "recorded_at": recorded_at, "kind": kind,
              "actor": actor, "summary": summary, "details": _jsonable(details or {}),
              "controller_id": controller_id, "prev_hash": head.hash}
    event = TimelineEvent(incident_id=incident_id, hash=event_hash(fields), **fields)
    head.hash = event.hash
    session.add_all([event, head])
    session.flush()
    return event


def _bump_head(session: Session, incident_id: int) -> int:
    return session.exec(update(TimelineHead).where(TimelineHead.incident_id == incident_id)
                        .values(seq=TimelineHead.seq + 1)).rowcount


def _insert_ignore(session: Session, incident_id: int):
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    return insert(TimelineHead).values(incident_id=incident_id, seq=0, hash=GENESIS_HASH).on_conflict_do_nothing()


def _jsonable(details: dict) -> dict:
    # Round-trip through JSON so what we hash is exactly what the JSON column gives back later.
    return json.loads(json.dumps(details, default=lambda v: iso(v) if isinstance(v, datetime) else str(v)))


def events(*, session: Session, incident_id: int, controller_id: int | None = None,
           only_controller: bool = False) -> list[TimelineEvent]:
    """The incident's events in chain order; optionally those of one controller plus incident-wide ones."""
    query = select(TimelineEvent).where(TimelineEvent.incident_id == incident_id)
    if only_controller:
        query = query.where((TimelineEvent.controller_id == controller_id) | TimelineEvent.controller_id.is_(None))
    return list(session.exec(query.order_by(TimelineEvent.seq)))


def iter_events(*, session: Session, incident_id: int, batch: int = 2000, upto_seq: int | None = None,
                controller_id: int | None = None, only_controller: bool = False,
                plain_rows: bool = False) -> Iterator[TimelineEvent]:
    """Stream an incident's events in chain order in batches; optionally up to a seq, or for one controller."""
    last = 0
    # Exports (issue 6): upto_seq pins a consistent prefix while appends go on; only_controller scopes
    # a per-customer export like events() does; plain_rows yields read-only rows with the same
    # attributes, without the ORM's per-object cost (about half the time of a large export).
    extra = [] if upto_seq is None else [TimelineEvent.seq <= upto_seq]
    if only_controller:
        extra.append((TimelineEvent.controller_id == controller_id) | TimelineEvent.controller_id.is_(None))
    what = select(*TimelineEvent.__table__.columns) if plain_rows else select(TimelineEvent)
    while True:
        query = (what.where(TimelineEvent.incident_id == incident_id, TimelineEvent.seq > last, *extra)
                 .order_by(TimelineEvent.seq).limit(batch))
        rows = session.execute(query).all() if plain_rows else session.exec(query).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        if plain_rows:
            continue
        for row in rows:  # keep memory flat without detaching anything else the caller holds
            session.expunge(row)


@dataclass
class ChainCheck:
    """The result of verifying a chain."""

    ok: bool
    count: int
    head_hash: str
    broken_seq: int | None = None
    reason: str = ""


def verify_chain(chain: Iterable[dict]) -> ChainCheck:
    """Verify dicts carrying the hashed fields plus `hash`, in order; names the first broken event."""
    previous, count = GENESIS_HASH, 0
    for count, fields in enumerate(chain, start=1):
        if fields.get("seq") != count:
            return ChainCheck(False, count, previous, fields.get("seq"), f"expected seq {count}, found {fields.get('seq')}")
        if fields.get("prev_hash") != previous:
            return ChainCheck(False, count, previous, count, "prev_hash does not match the previous event's hash")
        if event_hash(fields) != fields.get("hash"):
            return ChainCheck(False, count, previous, count, "content does not match its hash (altered)")
        previous = fields["hash"]
    return ChainCheck(True, count, previous)


def verify_incident(*, session: Session, incident_id: int) -> ChainCheck:
    """Verify an incident's stored chain, and that the head row agrees with its last event."""
    check = verify_chain({**event_fields(e), "hash": e.hash} for e in iter_events(session=session,
                                                                                   incident_id=incident_id))
    head = session.get(TimelineHead, incident_id)
    if check.ok and head is not None and (head.seq != check.count or head.hash != check.head_hash):
        return ChainCheck(False, check.count, check.head_hash, check.count + 1,
                          f"chain ends at seq {check.count} but head says seq {head.seq}: events were deleted")
    return check


def event_document(event: TimelineEvent) -> dict:
    """An event as the API and JSON export show it: every hashed field plus its hash."""
    return {"seq": event.seq, "occurred_at": iso(event.occurred_at), "recorded_at": iso(event.recorded_at),
            "kind": event.kind, "actor": event.actor, "summary": event.summary, "details": event.details,
            "controller_id": event.controller_id, "prev_hash": event.prev_hash, "hash": event.hash}
