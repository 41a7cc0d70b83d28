"""Keeping personal data (contact emails, phone numbers, configured patterns) out of every log record.

Alongside the secrets mask (app.core.redact): installed as a log-record factory, so every record is
cleaned when it is created, whatever logger, handler or test capture it later passes through.
Subject identifiers have no recognisable shape; they stay out of logs because Breachline never logs
them (lookups are POSTs, so not even the access log sees them) and REDACT_PATTERNS can name their format.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable

from app.core.redact import rewrite_record
from app.core.redaction import EMAIL, MARK, PHONE, Redactor, _is_phone

_lock = threading.Lock()
_patterns: list = []
_installed = False


# Request lines, status codes and byte counts: digit runs that look like local phone numbers
# ("200 8123"), and phone numbers never travel in URLs here (lookups are POSTs).
ACCESS_LOGGERS = frozenset({"gunicorn.access", "werkzeug"})


def clean(text: str, *, phones: bool = True) -> str:
    """The text with emails, phone numbers (unless phones=False) and configured patterns replaced by markers."""
    if not text:
        return text
    for regex in _patterns:
        text = regex.sub(MARK.format(kind="pattern"), text)
    if "@" in text:
        text = EMAIL.sub(MARK.format(kind="email"), text)
    if not phones:
        return text
    return PHONE.sub(lambda m: MARK.format(kind="phone") if _is_phone(m.group(0)) else m.group(0), text)


def _clean_access_line(text: str) -> str:
    return clean(text, phones=False)


def _clean_record(record: logging.LogRecord) -> None:
    rewrite_record(record, _clean_access_line if record.name in ACCESS_LOGGERS else clean, "_breachline_pii")


class PersonalDataLogFilter(logging.Filter):
    """A filter form of the same cleaning, for handlers configured by hand (never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        _clean_record(record)
        return True


def install_pii_log_filter(patterns: Iterable[str] | str | None = ()) -> None:
    """Clean every log record of personal data from now on; REDACT_PATTERNS add formats such as customer ids."""
    global _installed
    if isinstance(patterns, str):  # the environment gives a JSON list as text
        try:
            patterns = json.loads(patterns)
        except ValueError:
            patterns = []
    with _lock:
        _patterns[:] = Redactor(patterns or ()).patterns
        if _installed:
            return
        current = logging.getLogRecordFactory()

        def factory(*args, **kwargs):
            record = current(*args, **kwargs)
            _clean_record(record)
            return record

        factory._breachline_pii = True
        # Keep the secrets mask's marker visible, so neither factory wraps the other again per create_app.
        factory._breachline_masking = getattr(current, "_breachline_masking", False)
        logging.setLogRecordFactory(factory)
        _installed = True
