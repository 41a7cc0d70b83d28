"""Who an export is for: the whole incident, or one customer with everything about the others kept out.

A per-customer export carries that controller's impact slice, obligations and notifications, and
the timeline events that are its own or the incident's as a whole. Incident-wide text can still
name other customers (a note, a title), so every free text passes a guard that replaces the names
and keys of all other controllers of the data map, and incident-wide events that list customers
by construction (impact and scope changes, the assessment with its totals) are withheld.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlmodel import Session, select

from app.clock.models import Obligation
from app.core.display import in_zone
from app.core.errors import NotFound
from app.core.redaction import Redaction, Redactor, map_strings
from app.datamap.models import Controller
from app.exports.options import ExportOptions
from app.incidents import impact as impact_service
from app.incidents.models import ImpactRow, ImpactSnapshot, Incident
from app.notifications.models import Notification
from app.timeline.models import GENESIS_HASH, TimelineHead

OTHER_CUSTOMER = "[another customer]"
# Incident-wide events whose details list customers, their keys and counts by construction.
WITHHELD_KINDS = frozenset({"impact.changed", "scope.changed", "assessment.recorded"})
WITHHELD_SUMMARY = "Withheld from this customer's export: the event describes other customers too."
_TOKEN = re.compile(r"\w+")


class LeakGuard:
    """Replaces mentions of other customers (names and keys, case-insensitive) in free text."""

    def __init__(self, others: Iterable[str], own: Iterable[str] = ()):
        self.own = sorted({o.strip().lower() for o in own if o and o.strip()}, key=len, reverse=True)
        terms = {t.strip().lower() for t in others if t and len(t.strip()) >= 2} - set(self.own)
        # Indexed by first word, so a text costs one set lookup per word, not one scan per customer.
        self._index: dict[str, list[str]] = {}
        for term in terms:
            words = _TOKEN.findall(term)
            if words:
                self._index.setdefault(words[0], []).append(term)

    def scrub(self, text: str) -> tuple[str, int]:
        """The text with other customers replaced by a marker, and how many mentions were replaced."""
        if not text or not isinstance(text, str):
            return text, 0
        lower = text.lower()
        found = {term for word in set(_TOKEN.findall(lower)) for term in self._index.get(word, ()) if term in lower}
        if not found:
            return text, 0
        # Mentions of the customer itself stay, even where another customer's name is part of its own.
        own_spans = [m.span() for name in self.own for m in re.finditer(re.escape(name), lower)]
        pattern = re.compile(r"(?<!\w)(?:" + "|".join(re.escape(t) for t in sorted(found, key=len, reverse=True))
                             + r")(?!\w)", re.IGNORECASE)
        count = 0

        def replace(match: re.Match) -> str:
            nonlocal count
            start, end = match.span()
            if any(s <= start and end <= e for s, e in own_spans):
                return match.group(0)
            count += 1
            return OTHER_CUSTOMER

        return pattern.sub(replace, text), count


@dataclass
class ExportScope:
    """An export's incident, optional customer, time zone and text cleaning, with the tallies so far."""

    incident: Incident
    options: ExportOptions
    controller: Controller | None = None
    guard: LeakGuard | None = None
    redactor: Redactor | None = None
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    tally: Redaction = field(default_factory=Redaction)
    withheld: int = 0

    @property
    def per_customer(self) -> bool:
        """True when scoped to one controller."""
        return self.controller is not None

    @property
    def tz(self) -> str:
        """The viewer's time zone."""
        return self.options.tz

    def local(self, value):
        """An aware datetime in the viewer's time zone (None stays None)."""
        return in_zone(value, self.tz)

    def clean(self, text: str) -> tuple[str, int]:
        """Free text with other customers and (when redacting) personal data replaced; counts into the tally."""
        if not isinstance(text, str) or not text:
            return text, 0
        count = 0
        # Redaction first: an address like ops@<customer>.example must go whole, not just its customer part.
        if self.redactor is not None:
            text, found = self.redactor.redact_counted(text)
            self.tally.add(found)
            count += found.total
        if self.guard is not None:
            text, found = self.guard.scrub(text)
            if found:
                self.tally.counts["other_customer"] += found
                count += found
        return text, count

    def clean_value(self, value) -> tuple[object, int]:
        """clean() applied to every string inside a JSON-like value."""
        total = 0

        def clean(text: str) -> str:
            nonlocal total
            text, count = self.clean(text)
            total += count
            return text

        return map_strings(value, clean), total

    def text(self, value: str) -> str:
        """clean() without the count, for templates."""
        return self.clean(value)[0] if value else value


def _involved(session: Session, incident_id: int, controller_id: int) -> bool:
    """True if the controller appears in any impact snapshot, obligation or notification of the incident."""
    in_impact = session.exec(select(ImpactRow.id).join(ImpactSnapshot, ImpactSnapshot.id == ImpactRow.snapshot_id)
                             .where(ImpactSnapshot.incident_id == incident_id,
                                    ImpactRow.controller_id == controller_id).limit(1)).first()
    if in_impact is not None:
        return True
    for model in (Obligation, Notification):
        if session.exec(select(model.id).where(model.incident_id == incident_id,
                                               model.controller_id == controller_id).limit(1)).first() is not None:
            return True
    return False


def build_scope(*, session: Session, incident: Incident, options: ExportOptions,
                redact_patterns: Iterable[str] = ()) -> ExportScope:
    """Resolve the customer (NotFound if unknown or not involved), the guard, the redactor and the chain head."""
    scope = ExportScope(incident=incident, options=options)
    if options.controller_key:
        controller = session.exec(select(Controller).where(Controller.key == options.controller_key)).first()
        if controller is None or not _involved(session, incident.id, controller.id):
            # Same answer for "no such customer" and "not in this incident": the key alone reveals nothing.
            raise NotFound(f"customer {options.controller_key!r} is not affected by {incident.ref}")
        scope.controller = controller
        others = session.exec(select(Controller.key, Controller.name).where(Controller.id != controller.id)).all()
        scope.guard = LeakGuard([t for pair in others for t in pair], own=(controller.key, controller.name))
    if options.redacting:
        scope.redactor = Redactor(redact_patterns)
    head = session.get(TimelineHead, incident.id)
    if head is not None:
        scope.head_seq, scope.head_hash = head.seq, head.hash
    return scope


def impact_slice(*, session: Session, scope: ExportScope) -> tuple[ImpactSnapshot | None, list[ImpactRow]]:
    """The latest snapshot and its rows: all of them, or only the customer's own."""
    snapshot = impact_service.latest_snapshot(session=session, incident_id=scope.incident.id)
    if snapshot is None:
        return None, []
    rows = impact_service.impact_rows(session=session, snapshot_id=snapshot.id,
                                      controller_id=scope.controller.id if scope.controller else None)
    return snapshot, rows
