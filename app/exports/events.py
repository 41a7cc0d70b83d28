"""The timeline as exports show it: events in chain order, scoped, cleaned for the recipient, checked as they pass."""

from __future__ import annotations

from collections.abc import Iterator

from sqlmodel import Session

from app.core.time import iso
from app.exports.scoping import WITHHELD_KINDS, WITHHELD_SUMMARY, ExportScope
from app.timeline import service as timeline
from app.timeline.offline import ChainWalker, ExportCheck
from app.timeline.redaction import apply_to_document, marks_of  # issue 10

BATCH = 2000  # events per query; memory stays flat in the length of the timeline


def incident_facts(scope: ExportScope) -> dict:
    """The incident's facts for an export header (free text cleaned for a customer)."""
    i = scope.incident
    return {"ref": i.ref, "title": scope.text(i.title), "incident_type": i.incident_type, "status": str(i.status),
            "severity": str(i.severity), "drill": i.drill, "breach_types": list(i.breach_types or []),
            "detected_at": iso(i.detected_at), "aware_at": iso(i.aware_at), "contained_at": iso(i.contained_at),
            "closed_at": iso(i.closed_at)}


def local_iso(scope: ExportScope, value) -> str | None:
    """ISO 8601 in the viewer's zone with its offset always written (+00:00, never Z)."""
    local = scope.local(value)
    return local.isoformat() if local is not None else None


class EventStream:
    """Iterates an export's events and remembers what it did: count, withheld, redacted, the chain check."""

    def __init__(self, *, session: Session, scope: ExportScope, with_local: bool | None = None):
        self.session, self.scope = session, scope
        self.with_local = scope.tz != "UTC" if with_local is None else with_local
        self.walker = ChainWalker()
        self.count = self.redacted_events = 0

    def __iter__(self) -> Iterator[dict]:
        for _, doc in self.pairs():
            yield doc

    def pairs(self) -> Iterator[tuple]:
        """(stored row, document) per event: the row keeps the datetimes, so a format need not parse them back."""
        scope = self.scope
        controller_id = scope.controller.id if scope.controller else None
        marks = marks_of(session=self.session, incident_id=scope.incident.id)  # issue 10: retention marks
        for event in timeline.iter_events(session=self.session, incident_id=scope.incident.id, batch=BATCH,
                                          upto_seq=scope.head_seq, controller_id=controller_id,
                                          only_controller=scope.per_customer, plain_rows=True):
            doc = timeline.event_document(event)
            if marks:
                doc = apply_to_document(doc, marks.get(event.id))  # issue 10: retention
            if scope.per_customer and event.controller_id is None and event.kind in WITHHELD_KINDS:
                doc["summary"], doc["details"], doc["withheld"] = WITHHELD_SUMMARY, {}, True
                scope.withheld += 1
            elif scope.guard is not None or scope.redactor is not None:
                summary, n = scope.clean(doc["summary"])
                details, m = scope.clean_value(doc["details"])
                if n + m:
                    doc["summary"], doc["details"], doc["redacted"] = summary, details, n + m
                    self.redacted_events += 1
            if self.with_local:
                doc["occurred_at_local"] = local_iso(scope, event.occurred_at)
            self.walker.feed(doc)
            self.count += 1
            yield event, doc

    def check(self) -> ExportCheck:
        """The chain check of what was streamed, against the head read when the export began."""
        return self.walker.finish(self.scope.head_seq, self.scope.head_hash)

    def summary(self) -> dict:
        """The trailer every format carries: counts, redactions and the chain check."""
        check = self.check()
        return {"events": self.count, "withheld": self.scope.withheld, "redacted_events": self.redacted_events,
                "redactions": self.scope.tally.as_dict(),
                "verification": {"ok": check.ok, "partial": check.partial, "message": check.message()}}


def chain_note(scope: ExportScope) -> str:
    """What a reader should know about verifying this export."""
    if scope.per_customer:
        return ("Per-customer export: only this customer's events and the incident-wide ones are included, so the "
                "chain has gaps where other customers' events were left out. Each event carries its original hash "
                "and prev_hash; present events verify individually and consecutive ones link to each other. "
                f"The head hash of the full chain when exported was {scope.head_hash} (seq {scope.head_seq}).")
    return (f"Complete chain: events 1 to {scope.head_seq}, from the genesis hash to the head hash {scope.head_hash}. "
            "Verify offline with `breachline timeline verify --file <export.json>`.")
