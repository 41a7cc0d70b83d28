"""Masking secrets (passwords, API tokens, webhook secrets, SMTP password) in text bound for logs."""

from __future__ import annotations

import logging
import re
import threading

MASK = "***"
# Key names whose values are credentials wherever they appear as key=value, key: value or "key": "value".
_SECRET_KEYS = r"(?:password|passwd|pwd|secret|webhook_secret|smtp_password|api_key|token|csrf_token|secret_key)"
_PATTERNS = [
    (re.compile(r"(?i)(\bBearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1" + MASK),
    (re.compile(r"whsec_[A-Za-z0-9+/=_-]+"), "whsec_" + MASK),  # Standard Webhooks secrets
    (re.compile(r"\bbl_[A-Za-z0-9_-]{8,}"), "bl_" + MASK),  # Breachline API tokens
    (re.compile(r"(?i)(\bBasic\s+)[A-Za-z0-9+/=]{6,}"), r"\1" + MASK),
    # "password": "x", password='x', {'password': 'x'} (JSON, Python reprs, quoted assignments)
    (re.compile(r"""(?i)(["']?\b\w*""" + _SECRET_KEYS + r"""\b["']?\s*[=:]\s*)("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')"""),
     lambda m: m.group(1) + m.group(2)[0] + MASK + m.group(2)[0]),
    # password=x, password: x (query strings, form bodies, log lines)
    (re.compile(r"(?i)(\b\w*" + _SECRET_KEYS + r"\b\s*[=:]\s*)(?![\"'*])[^\s&,;)}\]\"']+"), r"\1" + MASK),
    # URLs with credentials: scheme://user:password@host
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)[^@\s/]+@"), r"\1" + MASK + "@"),
]
_literals: set[str] = set()
_lock = threading.Lock()


def add_literal_secrets(*values: str | None) -> None:
    """Also mask these exact values (configured secrets such as SMTP_PASSWORD) wherever they appear."""
    with _lock:
        _literals.update(v for v in values if isinstance(v, str) and len(v) >= 6)


def mask(text: str) -> str:
    """The text with every recognisable secret replaced by ***."""
    if not text:
        return text
    for literal in sorted(_literals, key=len, reverse=True):
        if literal in text:
            text = text.replace(literal, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


_SECRET_KEY_NAME = re.compile(r"(?i)^\w*" + _SECRET_KEYS + r"$")


def mask_data(value):
    """A copy of JSON-like data with secret-named keys blanked and every string masked."""
    if isinstance(value, dict):
        return {k: MASK if isinstance(k, str) and _SECRET_KEY_NAME.match(k) and v else mask_data(v)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_data(v) for v in value]
    return mask(value) if isinstance(value, str) else value


def rewrite_record(record: logging.LogRecord, clean, done_flag: str) -> None:
    """Apply clean() to a record's message, traceback and stack once (done_flag marks it), keeping the record."""
    if getattr(record, done_flag, False):
        return
    try:
        message = record.getMessage()
    except Exception:  # a broken format string must not lose the log line
        message = str(record.msg)
    record.msg, record.args = clean(message), None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = clean(record.exc_text)
    if record.stack_info:
        record.stack_info = clean(record.stack_info)
    setattr(record, done_flag, True)


class SecretMaskingFilter(logging.Filter):
    """A logging filter that masks secrets in a record's message and traceback (never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        rewrite_record(record, mask, "_breachline_masked")
        return True


_FILTER = SecretMaskingFilter()


def install_log_masking() -> None:
    """Mask every log record when it is created, whatever logger or handler it later passes through."""
    # A record factory rather than handler filters: handlers added later (gunicorn, basicConfig,
    # pytest's caplog) would not carry a filter, but every record comes from the factory.
    with _lock:
        current = logging.getLogRecordFactory()
        if getattr(current, "_breachline_masking", False):
            return

        def factory(*args, **kwargs):
            record = current(*args, **kwargs)
            _FILTER.filter(record)
            return record

        factory._breachline_masking = True
        logging.setLogRecordFactory(factory)
