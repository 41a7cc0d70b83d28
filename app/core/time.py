"""UTC time: the only clock reader, aware-datetime parsing, and the UTCDateTime column type."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Annotated

import sqlalchemy as sa
from pydantic import AwareDatetime, BeforeValidator, WithJsonSchema

UTC = timezone.utc


def now() -> datetime:
    """Return the current time as aware UTC; only entry points call this."""
    return datetime.now(UTC)


def require_aware(value: datetime, field: str = "datetime") -> datetime:
    """Return value converted to UTC, or raise ValueError if it is naive."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(f"{field} must carry a UTC offset (got naive {value.isoformat()})")
    return value.astimezone(UTC)


def parse_aware(text: str, field: str = "datetime") -> datetime:
    """Parse ISO 8601 text with an offset into aware UTC; naive or malformed text raises ValueError."""
    if not isinstance(text, str):
        raise ValueError(f"{field} must be an ISO 8601 string with an offset")
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"{field} is not an ISO 8601 date-time: {text!r}") from None
    return require_aware(value, field)


def iso(value: datetime | None) -> str | None:
    """Format an aware datetime as ISO 8601 UTC with a Z suffix."""
    if value is None:
        return None
    if value.tzinfo is UTC:  # what UTCDateTime returns: skip the checks (an export formats millions)
        return value.isoformat().replace("+00:00", "Z")
    return require_aware(value).isoformat().replace("+00:00", "Z")


class UTCDateTime(sa.types.TypeDecorator):
    """A timestamp column that stores UTC, returns aware UTC and rejects naive values."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"UTCDateTime expects a datetime, got {type(value).__name__}")
        value = require_aware(value)
        if dialect.name == "sqlite":
            # SQLite has no time zone type and drops offsets silently: store naive UTC text.
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# RFC 3339 with a required offset, years 1900-2099: what the API documents (format date-time plus this
# pattern) and exactly what AwareISO accepts. Digits are [0-9] (Python's \d also takes other scripts'
# digits); the year range keeps deadline arithmetic (years 1 and 9999 overflow) and the register sane.
AWARE_ISO_PATTERN = (r"^(19|20)[0-9]{2}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
                     r"([Zz]|[+-][0-9]{2}:[0-9]{2})$")
_AWARE_ISO = re.compile(AWARE_ISO_PATTERN[1:-1])
AWARE_ISO_EXAMPLE = "2026-03-28T20:00:00+01:00"


def _iso_text_only(value):
    # JSON numbers (and numeric strings) would otherwise be read as Unix timestamps, and "2026-03-28 20:00Z"
    # or "20260328T2000Z" parsed leniently; the API promises RFC 3339 text with an offset, nothing else.
    if isinstance(value, datetime) and 1900 <= value.year <= 2099:
        return value  # a web form's parsed value: the same year range, naive ones fail in AwareDatetime
    if isinstance(value, str) and _AWARE_ISO.fullmatch(value):
        return value
    raise ValueError(f"must be an RFC 3339 date-time string with a UTC offset, e.g. {AWARE_ISO_EXAMPLE}")


AwareISO = Annotated[AwareDatetime, BeforeValidator(_iso_text_only),
                     WithJsonSchema({"type": "string", "format": "date-time", "pattern": AWARE_ISO_PATTERN,
                                     "examples": [AWARE_ISO_EXAMPLE]})]
"""Pydantic type for input datetimes: RFC 3339 text with an offset; naive text and numbers are refused."""
