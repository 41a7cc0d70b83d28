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


# One encoder for every row: json.dumps with options builds a new encoder per call.
_details_json = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode


def _rows(writer_buffer: io.StringIO, writer, rows: Iterable[Iterable]) -> str:
    writer.writerows(rows)
    text = writer_buffer.getvalue()
    writer_buffer.seek(0)
    writer_buffer.truncate()
    return text


def generate(*, session: Session, scope: ExportScope, now: datetime) -> Iterator[str]:
    """The export as CSV text chunks; the last row summarises the export (head hash, gaps, redactions)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    yield _rows(buffer, writer, [COLUMNS])
    controller_label = neutralise(scope.controller.key) if scope.controller else ""
    # Staff exports name each event's customer; a customer's own export only ever holds its own key.
    keys = {} if scope.per_customer else dict(session.exec(select(Controller.id, Controller.key)).all())
    stream = EventStream(session=session, scope=scope, with_local=False)
    ref = neutralise(scope.incident.ref)
    utc = scope.tz == "UTC"
    pending: list[list] = []
    # Per event only the free-text cells can start like a formula: numbers, ISO times and hashes cannot.
    for event, doc in stream.pairs():
        occurred = event.occurred_at
        controller = event.controller_id
        micros = _micros(occurred)
        if utc:  # the document's UTC text with the offset written out: no second formatting of each time
            occurred_text, recorded_text = doc["occurred_at"][:-1] + "+00:00", doc["recorded_at"][:-1] + "+00:00"
        else:
            occurred_text, recorded_text = local_iso(scope, occurred), local_iso(scope, event.recorded_at)
        pending.append([
            neutralise(doc["summary"]), occurred_text, micros if micros >= 0 else neutralise(micros), "Occurred",
            doc["seq"], neutralise(doc["kind"]), neutralise(doc["actor"]), recorded_text,
            (controller_label or neutralise(keys.get(controller, ""))) if controller is not None else "",
            neutralise(_details_json(doc["details"])), doc["hash"], doc["prev_hash"], ref,
            "yes" if doc.get("withheld") else "", neutralise(doc.get("redacted") or "")])
        if len(pending) >= ROWS_PER_CHUNK:
            yield _rows(buffer, writer, pending)
            pending.clear()
    summary = stream.summary()
    redactions = summary["redactions"]
    message = (f"Export of {scope.incident.ref} generated: {summary['events']} events; "
               f"{summary['verification']['message']}; redactions: {redactions['total']}"
               + (f" ({', '.join(f'{k} {v}' for k, v in redactions['by_kind'].items())})" if redactions["total"] else "")
               + f". {chain_note(scope)}")
    pending.append([neutralise(v) for v in (
        message, local_iso(scope, now), _micros(now), "Export generated", "", "export.summary", "breachline",
        local_iso(scope, now), controller_label, json.dumps(summary, sort_keys=True, separators=(",", ":")),
        scope.head_hash, "", ref, summary["withheld"] or "", redactions["total"] or "")])
    yield _rows(buffer, writer, pending)
