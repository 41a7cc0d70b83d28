"""Redacting personal data from free text: email addresses, phone numbers, IP addresses, configured patterns.

Used for what leaves the company (per-customer exports) and reusable wherever free text must not
carry contact details. The patterns aim at what responders paste into notes — addresses in log
lines, phone numbers of callers — and prefer redacting a little too much over leaking: a date such
as 2026-03-28 is never taken for a phone number, but a long digit group with separators is.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

MARK = "[redacted {kind}]"

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# Candidate IPv6: hex groups with at least two colons; validated with ipaddress before redacting.
IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{0,4}|(?:\d{1,3}\.){3}\d{1,3})(?:%\w+)?"
                  r"(?:/\d{1,3})?(?![\w:])")
IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?:/\d{1,2})?(?![\w.]|\.\d)")
# International (+49 30 5550 1234, 0049-...) or national with separators ((030) 555-01234); at least 7 digits.
# A leading "+" may follow "tel:"; a leading digit may not follow ":" "." "," (times, decimals) or "word-" (refs).
PHONE = re.compile(r"(?:(?<![\w+])\+|(?<![\w+:.,])(?<!\w-))\(?\d{1,4}\)?(?:[ ./-]?\(?\d{1,5}\)?){2,6}(?![\w])")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
IPV4_SHAPE = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")


@dataclass
class Redaction:
    """How many items of each kind were redacted."""

    counts: Counter = field(default_factory=Counter)

    @property
    def total(self) -> int:
        """All redactions."""
        return sum(self.counts.values())

    def add(self, other: "Redaction") -> None:
        """Add another tally to this one."""
        self.counts.update(other.counts)

    def as_dict(self) -> dict:
        """JSON-ready: total and per kind."""
        return {"total": self.total, "by_kind": dict(sorted(self.counts.items()))}


def _valid_ip(text: str) -> bool:
    try:
        ipaddress.ip_network(text.split("%")[0], strict=False)
    except ValueError:
        return False
    return True


def _is_phone(text: str) -> bool:
    digits = sum(ch.isdigit() for ch in text)
    if digits < 7 or digits > 15:  # E.164 allows at most 15 digits
        return False
    if IPV4_SHAPE.fullmatch(text):  # a dotted quad is an address (redacted as such where wanted), never a phone
        return False
    if ISO_DATE.match(text.lstrip("(")) or re.fullmatch(r"\d+(?:[.,]\d+)?", text):
        # Dates, bare and decimal numbers (counts, ids, seconds.micros) are not phone numbers; "+4930..." is.
        return text.startswith("+")
    return True


def map_strings(value, fn):
    """A copy of a JSON-like value with fn applied to every string in it (keys stay as they are)."""
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, list):
        return [map_strings(item, fn) for item in value]
    if isinstance(value, dict):
        return {key: map_strings(item, fn) for key, item in value.items()}
    return value


class Redactor:
    """Redacts emails, phones, IPv4/IPv6 and extra regexes (REDACT_PATTERNS) from text."""

    def __init__(self, patterns: Iterable[str] = ()):
        self.patterns = [re.compile(p) for p in patterns]

    def redact(self, text: str) -> tuple[str, int]:
        """The text with personal data replaced by markers, and how many were replaced."""
        result, tally = self.redact_counted(text)
        return result, tally.total

    def redact_counted(self, text: str) -> tuple[str, Redaction]:
        """Like redact, with the count per kind."""
        tally = Redaction()
        if not text:
            return text, tally

        def sub(regex: re.Pattern, kind: str, check=None):
            def replace(match: re.Match) -> str:
                if check is not None and not check(match.group(0)):
                    return match.group(0)
                tally.counts[kind] += 1
                return MARK.format(kind=kind)
            return replace

        # Configured patterns first: they are the most specific (customer ids, ticket formats).
        for regex in self.patterns:
            text = regex.sub(sub(regex, "pattern"), text)
        text = EMAIL.sub(sub(EMAIL, "email"), text)
        text = IPV6.sub(sub(IPV6, "ip", lambda t: ":" in t and _valid_ip(t)), text)
        text = IPV4.sub(sub(IPV4, "ip", _valid_ip), text)
        text = PHONE.sub(sub(PHONE, "phone", _is_phone), text)
        return text, tally

    def redact_value(self, value):
        """Redact every string inside a JSON-like value; returns (value, Redaction)."""
        tally = Redaction()

        def redact(text: str) -> str:
            text, found = self.redact_counted(text)
            tally.add(found)
            return text

        return map_strings(value, redact), tally


def redact(text: str, patterns: Iterable[str] = ()) -> tuple[str, int]:
    """Redact emails, phone numbers, IP addresses and the given regexes from text; returns (text, count)."""
    return Redactor(patterns).redact(text)
