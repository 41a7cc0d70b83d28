"""UTC time: the only clock reader, aware-datetime parsing, and the UTCDateTime column type."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

import sqlalchemy as sa
from pydantic import AwareDatetime, BeforeValidator

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


def _iso_text_only(value):
    # JSON numbers would otherwise be read as Unix timestamps; the API promises ISO 8601 with an offset.
    if isinstance(value, (str, datetime)):
        return value
    raise ValueError("must be an ISO 8601 date-time string with a UTC offset, e.g. 2026-03-28T20:00:00+01:00")


AwareISO = Annotated[AwareDatetime, BeforeValidator(_iso_text_only)]
"""Pydantic type for input datetimes: ISO 8601 text with an offset; naive text and numbers are refused."""
