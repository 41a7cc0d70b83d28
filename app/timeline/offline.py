"""Verifying an exported timeline without the database: whole chains, and per-customer exports with gaps.

A full export must be the whole chain from the genesis hash to the head hash it states. A
per-customer export leaves out other customers' events, so its chain has gaps: every event that
is present is checked on its own (its content against its hash), consecutive events are checked
link by link (prev_hash against the previous hash), and the gaps are named. Events whose content
was withheld or redacted for the customer keep their original hashes; their links are checked,
their content cannot be. The layout is app/timeline/schemas/timeline-export.v1.json.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from app.timeline.models import GENESIS_HASH
from app.timeline.service import event_hash

EXPORT_FORMAT = "breachline.timeline-export"
EXPORT_VERSION = 1
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class ExportCheck:
    """The result of verifying an export; `partial` exports are valid with gaps."""

    ok: bool
    count: int
    head_hash: str  # the hash of the last event checked
    partial: bool = False
    broken_seq: int | None = None
    reason: str = ""
    gaps: list[tuple[int, int]] = field(default_factory=list)  # (first, last) missing seq
    unchecked: list[int] = field(default_factory=list)  # withheld or redacted: links checked, content not

    def gap_text(self) -> str:
        """'3-7, 12' style list of the missing seqs."""
        return ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in self.gaps)

    def message(self) -> str:
        """One line for people: intact, partial with its gaps, or broken at an event."""
        if not self.ok:
            return f"chain BROKEN at event {self.broken_seq}: {self.reason}"
        if not self.partial:
            return f"chain intact, {self.count} events, head {self.head_hash}"
        text = f"partial export: {self.count} events, hashes individually valid"
        text += f", chain has gaps at {self.gap_text()}" if self.gaps else ", no gaps"
        if self.unchecked:
            text += (f"; {len(self.unchecked)} event(s) withheld or redacted for the recipient "
                     "(their links checked, their content cannot be)")
        return text


class ChainWalker:
    """Checks events one at a time, in order, so a streamed export can be verified as it is written."""

    def __init__(self) -> None:
        self.previous_seq, self.previous_hash, self.count = 0, GENESIS_HASH, 0
        self.gaps: list[tuple[int, int]] = []
        self.unchecked: list[int] = []
        self.broken_seq: int | None = None
        self.reason = ""

    def _break(self, seq, reason: str) -> bool:
        self.broken_seq, self.reason = seq, reason
        return False

    def feed(self, event: dict) -> bool:
        """Check the next event; False (and the reason kept) from the first broken one on."""
        if self.broken_seq is not None:
            return False
        seq = event.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq <= self.previous_seq:
            return self._break(seq, f"seq {seq!r} is not after {self.previous_seq} (events out of order or repeated)")
        if not isinstance(event.get("hash"), str) or not _HEX64.match(event["hash"]):
            return self._break(seq, "hash is not 64 lowercase hex digits")
        if seq == self.previous_seq + 1:
            if event.get("prev_hash") != self.previous_hash:
                return self._break(seq, "prev_hash does not match the previous event's hash")
        else:
            self.gaps.append((self.previous_seq + 1, seq - 1))
        if event.get("withheld") or event.get("redacted"):
            self.unchecked.append(seq)
        else:
            try:
                intact = event_hash(event) == event["hash"]
            except (KeyError, TypeError, ValueError):
                intact = False
            if not intact:
                return self._break(seq, "content does not match its hash (altered)")
        self.previous_seq, self.previous_hash = seq, event["hash"]
        self.count += 1
        return True

    def finish(self, head_seq: int | None = None, head_hash: str | None = None) -> ExportCheck:
        """The verdict, comparing the end of the chain with the head the export states (if any)."""
        check = ExportCheck(self.broken_seq is None, self.count, self.previous_hash, broken_seq=self.broken_seq,
                            reason=self.reason, gaps=list(self.gaps), unchecked=list(self.unchecked))
        if not check.ok:
            return check
        if head_seq is not None and self.previous_seq < head_seq:
            check.gaps.append((self.previous_seq + 1, head_seq))
        elif head_seq is not None and self.previous_seq > head_seq:
            return self._fail(check, self.previous_seq, f"events go beyond the stated head seq {head_seq}")
        if head_hash is not None and self.previous_seq == head_seq and self.previous_hash != head_hash:
            return self._fail(check, self.previous_seq, "the last event's hash is not the stated head hash")
        check.partial = bool(check.gaps or check.unchecked)
        return check

    @staticmethod
    def _fail(check: ExportCheck, seq: int, reason: str) -> ExportCheck:
        check.ok, check.broken_seq, check.reason = False, seq, reason
        return check


def verify_export(document: dict) -> ExportCheck:
    """Verify a JSON timeline export (or the API's plain timeline document) offline."""
    if not isinstance(document, dict) or not isinstance(document.get("events"), list):
        raise ValueError("no 'events' list")
    chain = document.get("chain") if isinstance(document.get("chain"), dict) else {}
    head_hash = chain.get("head_hash", document.get("head_hash"))
    head_seq = chain.get("head_seq")
    complete = chain.get("complete", True)
    walker = ChainWalker()
    for event in document["events"]:
        if not isinstance(event, dict):
            raise ValueError("an event is not a JSON object")
        if not walker.feed(event):
            break
    if head_seq is None and head_hash is not None and complete:
        head_seq = walker.previous_seq  # older documents state the head hash only
    check = walker.finish(head_seq, head_hash)
    if check.ok and complete and check.partial:
        # A document that claims to be the whole chain may not have gaps or altered content.
        first = check.gaps[0][0] if check.gaps else check.unchecked[0]
        return ChainWalker._fail(check, first, "the export says it is complete, but events are missing or altered")
    return check
