"""The CSV timeline export: Timesketch's import columns first, then ours; formula injection neutralised.

Timesketch needs `message`, `datetime` (ISO 8601 with offset) and `timestamp_desc`, and reads
`timestamp` (microseconds since the epoch) when present; any further column becomes an attribute.
Every cell that a spreadsheet would evaluate — starting with = + - @, a tab or a carriage return —
gets a leading apostrophe (OWASP, CSV injection), so opening the file cannot run a formula.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import datetime

from sqlmodel import Session, select

from app.datamap.models import Controller
from app.exports.events import EventStream, chain_note, local_iso
from app.exports.scoping import ExportScope

COLUMNS = ("message", "datetime", "timestamp", "timestamp_desc", "seq", "kind", "actor", "recorded_at",
           "controller", "details", "hash", "prev_hash", "incident", "withheld", "redacted")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
ROWS_PER_CHUNK = 500


def neutralise(value) -> str:
    """A cell a spreadsheet will show as text: formula starters get a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _micros(value: datetime) -> int:
    return int(value.timestamp()) * 1_000_000 + value.microsecond


def _rows(writer_buffer: io.StringIO, writer, rows: Iterable[Iterable]) -> str:
    for row in rows:
        writer.writerow([neutralise(v) for v in row])
    text = writer_buffer.getvalue()
    writer_buffer.seek(0)
    writer_buffer.truncate()
    return text


def generate(*, session: Session, scope: ExportScope, now: datetime) -> Iterator[str]:
    """The export as CSV text chunks; the last row summarises the export (head hash, gaps, redactions)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    yield _rows(buffer, writer, [COLUMNS])
    controller_label = scope.controller.key if scope.controller else ""
    # Staff exports name each event's customer; a customer's own export only ever holds its own key.
    keys = {} if scope.per_customer else dict(session.exec(select(Controller.id, Controller.key)).all())
    stream = EventStream(session=session, scope=scope, with_local=False)
    ref = scope.incident.ref
    pending: list[list] = []
    for doc in stream:
        occurred = datetime.fromisoformat(doc["occurred_at"].replace("Z", "+00:00"))
        pending.append([
            doc["summary"], local_iso(scope, occurred), _micros(occurred), "Occurred", doc["seq"], doc["kind"],
            doc["actor"], local_iso(scope, datetime.fromisoformat(doc["recorded_at"].replace("Z", "+00:00"))),
            (controller_label or keys.get(doc["controller_id"], "")) if doc["controller_id"] is not None else "",
            json.dumps(doc["details"], ensure_ascii=False, sort_keys=True, separators=(",", ":")),
            doc["hash"], doc["prev_hash"], ref, "yes" if doc.get("withheld") else "", doc.get("redacted") or ""])
        if len(pending) >= ROWS_PER_CHUNK:
            yield _rows(buffer, writer, pending)
            pending.clear()
    summary = stream.summary()
    redactions = summary["redactions"]
    message = (f"Export of {ref} generated: {summary['events']} events; {summary['verification']['message']}; "
               f"redactions: {redactions['total']}"
               + (f" ({', '.join(f'{k} {v}' for k, v in redactions['by_kind'].items())})" if redactions["total"] else "")
               + f". {chain_note(scope)}")
    pending.append([message, local_iso(scope, now), _micros(now), "Export generated", "", "export.summary", "breachline",
                    local_iso(scope, now), controller_label, json.dumps(summary, sort_keys=True, separators=(",", ":")),
                    scope.head_hash, "", ref, summary["withheld"] or "", redactions["total"] or ""])
    yield _rows(buffer, writer, pending)
