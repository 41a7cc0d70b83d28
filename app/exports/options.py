"""What an export request asks for: format, the viewer's time zone, one customer, redaction."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.core.errors import InputError, Problem

FORMATS = ("json", "csv", "html", "pdf")
TRUE, FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}
# Quick picks for the export panel; any IANA name is accepted.
COMMON_ZONES = ("UTC", "Europe/London", "Europe/Dublin", "Europe/Berlin", "Europe/Paris", "Europe/Madrid",
                "Europe/Warsaw", "Europe/Helsinki", "America/New_York", "America/Chicago", "America/Los_Angeles",
                "America/Sao_Paulo", "Asia/Singapore", "Asia/Tokyo", "Australia/Sydney")


@dataclass(frozen=True)
class ExportOptions:
    """A parsed export request; `redact` None means the default (on for one customer, off otherwise)."""

    fmt: str = "json"
    tz: str = "UTC"
    controller_key: str | None = None
    redact: bool | None = None

    @property
    def per_customer(self) -> bool:
        """True when the export is scoped to one controller."""
        return self.controller_key is not None

    @property
    def redacting(self) -> bool:
        """Whether free text is redacted: on by default for one customer, off by default otherwise."""
        return self.per_customer if self.redact is None else self.redact


def valid_zone(name: str, field: str = "tz") -> str:
    """An IANA time zone name, or InputError naming the field."""
    name = (name or "UTC").strip() or "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file path
        raise InputError(Problem(f"unknown time zone {name!r}: use an IANA name such as Europe/Berlin",
                                 field=field)) from None
    return name


def parse_options(args: Mapping, *, default_format: str = "json") -> ExportOptions:
    """Parse ?format=&tz=&controller=&redact= ; every bad value is named by its field."""
    problems = []
    fmt = (args.get("format") or default_format).strip().lower()
    if fmt not in FORMATS:
        problems.append(Problem(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}", field="format"))
    try:
        tz = valid_zone(args.get("tz") or "UTC")
    except InputError as exc:
        problems.extend(exc.problems)
        tz = "UTC"
    redact_text = (args.get("redact") or "").strip().lower()
    redact = True if redact_text in TRUE else False if redact_text in FALSE else None
    if redact_text and redact is None:
        problems.append(Problem("use redact=1 or redact=0", field="redact"))
    controller = (args.get("controller") or "").strip() or None
    if problems:
        raise InputError(problems)
    return ExportOptions(fmt=fmt, tz=tz, controller_key=controller, redact=redact)
