"""Rendering helpers for times and durations (local time zones appear only here)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.core.time import UTC


def in_zone(value: datetime | None, tz: str = "UTC") -> datetime | None:
    """An aware datetime converted to the named zone (UTC when unknown)."""
    if value is None:
        return None
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file path
        zone = UTC
    return value.astimezone(zone)


def format_time(value: datetime | None, tz: str = "UTC") -> str:
    """'2026-03-31 21:00 +02:00' style: local wall time with its offset always printed."""
    local = in_zone(value, tz)
    if local is None:
        return "—"
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M} {offset[:3]}:{offset[3:]}" if offset else f"{local:%Y-%m-%d %H:%M}"


def format_duration(delta: timedelta) -> str:
    """'2 d 4 h', '5 h 12 min', '8 min' (sign dropped; callers say 'in' or 'ago')."""
    seconds = abs(int(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


def urgency(due: datetime | None, now: datetime, warn_hours: float = 6) -> str:
    """'overdue', 'soon' (within warn_hours), 'ok' or 'none' for styling countdowns."""
    if due is None:
        return "none"
    left = (due - now).total_seconds()
    if left < 0:
        return "overdue"
    return "soon" if left <= warn_hours * 3600 else "ok"
