"""Appending to and verifying the hash-chained timeline of an incident."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Iterator, Sequence

import sqlalchemy as sa
import sqlalchemy as sa
from sqlalchemy import insert
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session, select, update

from app.core.pagination import Page, PageRequest
from app.core.time import iso, require_aware
from app.timeline.models import GENESIS_HASH, TimelineEvent, TimelineHead

HASHED_FIELDS = ("seq", "occurred_at", "recorded_at", "kind", "actor", "summary", "details", "controller_id",
                 "prev_hash")


# One encoder for every event (json.dumps with options builds a new one per call); same output.
_canonical_json = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode


def canonical_event(fields: dict) -> bytes:
    """The canonical JSON (sorted keys, no spaces, UTC 'Z' times) that an event's hash covers."""
    payload = {name: fields[name] for name in HASHED_FIELDS}
    for name in ("occurred_at", "recorded_at"):
        if isinstance(payload[name], datetime):
            payload[name] = iso(payload[name])
    return _canonical_json(payload).encode()


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


def _bump_head(session: Session, incident_id: int, by: int = 1) -> int:
    # No session synchronisation: the head is re-read with populate_existing right after, and
    # "evaluate" would scan the whole identity map on every append (quadratic in a long flow).
    return session.exec(update(TimelineHead).where(TimelineHead.incident_id == incident_id)
                        .values(seq=TimelineHead.seq + by)
                        .execution_options(synchronize_session=False)).rowcount


@dataclass
class NewEvent:
    """One event for `append_many`: what `append` takes, less the incident and the recording time."""

    kind: str
    summary: str
    actor: str
    occurred_at: datetime | None = None  # None: the recording time
    details: dict | None = None
    controller_id: int | None = None


def append_many(*, session: Session, incident_id: int, events: Sequence[NewEvent], recorded_at: datetime) -> int:
    """Append events in order to the incident's chain: one head update and one multi-row insert; returns the count."""
    return append_batch(session=session, events=[(incident_id, event) for event in events], recorded_at=recorded_at)


def append_batch(*, session: Session, events: Sequence[tuple[int, NewEvent]], recorded_at: datetime) -> int:
    """Append (incident id, event) pairs, in order per incident, to several chains at once; returns the count.

    One UPDATE takes every head involved (the same lock `append` takes, so chains stay serialised),
    one executemany inserts the events and one sets the new head hashes: the statement count does
    not grow with the events or the incidents.
    """
    if not events:
        return 0
    recorded_at = require_aware(recorded_at, "recorded_at")
    counts = Counter(incident_id for incident_id, _ in events)
    heads = _bump_heads(session, counts)
    missing = sorted(set(counts) - set(heads))
    if missing:  # first events of a chain: create the heads, tolerating a concurrent first append
        for incident_id in missing:
            session.exec(_insert_ignore(session, incident_id))
        heads.update(_bump_heads(session, {i: counts[i] for i in missing}))
    chains = {incident_id: [seq - counts[incident_id], previous] for incident_id, (seq, previous) in heads.items()}
    rows = []
    for incident_id, event in events:
        chain = chains[incident_id]
        chain[0] += 1
        fields = {"seq": chain[0], "occurred_at": require_aware(event.occurred_at or recorded_at, "occurred_at"),
                  "recorded_at": recorded_at, "kind": event.kind, "actor": event.actor, "summary": event.summary,
                  "details": _jsonable(event.details or {}), "controller_id": event.controller_id,
                  "prev_hash": chain[1]}
        chain[1] = event_hash(fields)
        rows.append({"incident_id": incident_id, "hash": chain[1], **fields})
    # Core executemany: thousands of events (one per customer obligation) without an ORM object each.
    for start in range(0, len(rows), 5000):
        session.execute(insert(TimelineEvent.__table__), rows[start:start + 5000])
    head = TimelineHead.__table__
    session.execute(sa.update(head).where(head.c.incident_id == sa.bindparam("chain"))
                    .values(hash=sa.bindparam("head_hash")),
                    [{"chain": incident_id, "head_hash": chain[1]} for incident_id, chain in chains.items()])
    for incident_id in chains:  # a head the session already holds is stale now: reload it on next use
        cached = session.identity_map.get(identity_key(TimelineHead, incident_id))
        if cached is not None:
            session.expire(cached, ["seq", "hash"])
    return len(rows)


def _bump_heads(session: Session, counts: dict[int, int]) -> dict[int, tuple[int, str]]:
    """Advance each head's seq by its count in one UPDATE; {incident id: (new seq, current hash)} of those found."""
    head = TimelineHead.__table__
    by = sa.case(counts, value=head.c.incident_id) if len(counts) > 1 else next(iter(counts.values()))
    found = session.execute(sa.update(head).where(head.c.incident_id.in_(sorted(counts)))
                            .values(seq=head.c.seq + by).returning(head.c.incident_id, head.c.seq, head.c.hash))
    return {incident_id: (seq, previous) for incident_id, seq, previous in found}


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


def page_of_events(*, session: Session, incident_id: int, page: PageRequest, kind: str | None = None,
                   since: datetime | None = None, until: datetime | None = None) -> Page[TimelineEvent]:
    """One page of the incident's events in chain order, filtered by kind (or 'prefix.') and occurred_at."""
    query = select(TimelineEvent).where(TimelineEvent.incident_id == incident_id)
    if kind:
        query = query.where(TimelineEvent.kind.startswith(kind, autoescape=True) if kind.endswith(".") else TimelineEvent.kind == kind)
    if since is not None:
        query = query.where(TimelineEvent.occurred_at >= since)
    if until is not None:
        query = query.where(TimelineEvent.occurred_at <= until)
    total = session.exec(select(sa.func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(TimelineEvent.seq).offset(page.offset).limit(page.per_page)).all()
    return Page(list(rows), total, page)


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
        # Plain rows through the session's connection: Core results, without the ORM's per-row loading.
        rows = session.connection().execute(query).all() if plain_rows else session.exec(query).all()
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
