"""The JSON timeline export (schema app/timeline/schemas/timeline-export.v1.json), written incrementally."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime

from sqlmodel import Session

from app.core.time import iso
from app.exports.events import EventStream, chain_note, incident_facts
from app.exports.scoping import ExportScope
from app.timeline.models import GENESIS_HASH
from app.timeline.offline import EXPORT_FORMAT, EXPORT_VERSION
from app.timeline.service import HASHED_FIELDS
from app.timeline.redaction import marks_of  # issue 10

CANONICAL = ("JSON object of the hashed fields only; keys sorted; separators ',' and ':' without spaces; "
             "non-ASCII as UTF-8; times as ISO 8601 UTC with 'Z' as exported; SHA-256 of the UTF-8 bytes, lowercase hex")
CHUNK_EVENTS = 500  # events per yielded chunk: fewer, larger writes without holding the timeline


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def header(scope: ExportScope, *, now: datetime) -> dict:
    """Everything before the events: format, incident, scope and the chain's facts."""
    controller = scope.controller
    return {
        "format": EXPORT_FORMAT, "schema_version": EXPORT_VERSION, "generated_at": iso(now), "time_zone": scope.tz,
        "incident": incident_facts(scope),
        "scope": {"kind": "controller" if controller else "incident",
                  "controller": {"key": controller.key, "name": controller.name, "id": controller.id}
                  if controller else None,
                  "redaction": scope.redactor is not None, "note": chain_note(scope)},
        "chain": {"algorithm": "sha256", "canonical_json": CANONICAL, "hashed_fields": list(HASHED_FIELDS),
                  "genesis_hash": GENESIS_HASH, "head_seq": scope.head_seq, "head_hash": scope.head_hash,
                  "complete": not scope.per_customer and scope.redactor is None},
    }


def generate(*, session: Session, scope: ExportScope, now: datetime) -> Iterator[str]:
    """The export as text chunks: header, one event per line, then the summary."""
    top = header(scope, now=now)
    if marks_of(session=session, incident_id=scope.incident.id):  # issue 10: redacted under retention: links only
        top["chain"]["complete"] = False
    head = _dumps(top)
    yield head[:-1] + ',"events":['
    stream = EventStream(session=session, scope=scope)
    chunk: list[str] = []
    first = True
    for doc in stream:
        chunk.append(("\n" if first else ",\n") + _dumps(doc))
        first = False
        if len(chunk) >= CHUNK_EVENTS:
            yield "".join(chunk)
            chunk.clear()
    if chunk:
        yield "".join(chunk)
    yield "\n],\"summary\":" + _dumps(stream.summary()) + "}\n"
