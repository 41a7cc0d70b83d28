"""Query-string models of the API: views validate request.args with them, and the OpenAPI document lists them.

One model per view keeps the document and the behaviour the same: a value the model refuses is a 422 problem
naming the parameter, whatever the view would have made of it. Unknown parameters are ignored, as OpenAPI
leaves them undefined.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from app.core.pagination import PageRequest
from app.core.time import AwareISO
from app.incidents.models import IncidentStatus, Severity
from app.notifications.models import NotificationStatus
from app.subjects.models import SubjectStatus

Q = TypeVar("Q", bound=BaseModel)
CONFIG_MAXIMUM = "x-config-maximum"  # the builder replaces it with `maximum` from this app.config key
TRUE = frozenset({"1", "true"})
Flag = Literal["0", "1", "true", "false"]  # exactly these: "yes" or "on" are refused, not read as false


def _digits(value):
    # Only plain decimal digits: int() alone would also take " 5", "+5" and "5_0".
    if isinstance(value, str) and not re.fullmatch(r"[0-9]{1,9}", value):
        raise ValueError("must be a whole number written with the digits 0-9")
    return value


def _iso_date(value):
    # date.fromisoformat and pydantic also take "20260301" and Unix timestamps; the API documents YYYY-MM-DD.
    if isinstance(value, str) and not re.fullmatch(r"(19|20)[0-9]{2}-[0-9]{2}-[0-9]{2}", value):
        raise ValueError("must be a date written YYYY-MM-DD")
    return value


Whole = Annotated[int, BeforeValidator(_digits)]
DateParam = Annotated[date, BeforeValidator(_iso_date),
                      Field(json_schema_extra={"pattern": r"^(19|20)[0-9]{2}-[0-9]{2}-[0-9]{2}$"})]
# The deadline calculator's anchor: ISO 8601 with an offset, seconds optional (typed by hand at 3 a.m.).
ANCHOR_PATTERN = r"^(19|20)[0-9]{2}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"


class Query(BaseModel):
    """Base of query models."""

    model_config = ConfigDict(extra="ignore")


class PageQuery(Query):
    """Which page of a list."""

    page: Whole = Field(default=1, ge=1, le=999_999_999)
    per_page: Whole = Field(default=50, ge=1, description="rows per page (default PAGE_SIZE)",
                            json_schema_extra={CONFIG_MAXIMUM: "MAX_PAGE_SIZE"})


class IncidentListQuery(PageQuery):
    """?open=1: open incidents only; ?status=, ?type= (incident type id), ?severity=, ?drill=, ?q= (ref or title)."""

    open: Flag = "0"
    status: IncidentStatus | None = None
    type: str | None = Field(default=None, max_length=60, description="incident type id, e.g. ransomware")
    severity: Severity | None = None
    drill: Flag | None = Field(default=None, description="1: drills only, 0: real incidents only")
    q: str = Field(default="", max_length=200, description="text in the reference or the title")


class ControllerListQuery(PageQuery):
    """Controller filters: free text, country, sector and jurisdiction."""

    q: str = Field(default="", max_length=200)
    country: str = Field(default="", max_length=2)
    sector: str = Field(default="", max_length=100)
    jurisdiction: str = Field(default="", max_length=20)


class SystemListQuery(PageQuery):
    """System filter: free text."""

    q: str = Field(default="", max_length=200)


class AuditQuery(PageQuery):
    """?action= (exact, or a prefix ending in '.') and ?actor=."""

    action: str = Field(default="", max_length=60)
    actor: str = Field(default="", max_length=254)


class NotificationListQuery(PageQuery):
    """Notification filters: status, channel (manual: authority reports and letters; drill) and kind."""

    status: NotificationStatus | None = None
    channel: Literal["email", "webhook", "manual", "drill"] | None = None
    kind: str | None = Field(default=None, max_length=40, description="e.g. processor_to_controller, authority_report")


class TimelineQuery(PageQuery):
    """Without format: one page of the events (?kind=, ?since=, ?until=); with it, an export in that format."""

    kind: str | None = Field(default=None, max_length=60, description="exact kind, or a prefix ending in '.'")
    since: AwareISO | None = Field(default=None, description="events that happened at or after (ISO 8601, offset)")
    until: AwareISO | None = Field(default=None, description="events that happened at or before (ISO 8601, offset)")

    format: Literal["json", "csv", "html", "pdf"] | None = None
    tz: str = Field(default="UTC", max_length=64, description="IANA time zone for local times in exports")
    controller: str | None = Field(default=None, max_length=100, description="export for one customer only")
    redact: Literal["0", "1", "true", "false", "yes", "no", "on", "off"] | None = Field(
        default=None, description="default: on for one customer, off otherwise; off for a customer needs a lead")


class TimelineExportQuery(Query):
    """An incident's timeline export, as the web's Export panel asks for it."""

    format: Literal["json", "csv", "html", "pdf"] = "json"
    tz: str = Field(default="UTC", max_length=64, description="IANA time zone for local times")
    controller: str | None = Field(default=None, max_length=100, description="export for one customer only")
    redact: Literal["0", "1", "true", "false", "yes", "no", "on", "off"] | None = Field(
        default=None, description="default: on for one customer, off otherwise; off for a customer needs a lead")


class PeriodQuery(Query):
    """A register period by awareness date (UTC days), drills left out unless asked for."""

    from_: DateParam | None = Field(default=None, alias="from")
    to: DateParam | None = None
    drills: Flag = "0"


class RegisterExportQuery(PeriodQuery):
    """The register as a file."""

    format: Literal["csv", "pdf"] = "csv"


class DeadlineQuery(Query):
    """The deadline calculator's anchor and calendar."""

    anchor: str = Field(pattern=ANCHOR_PATTERN, description="ISO 8601 date-time with a UTC offset",
                        examples=["2026-03-28T20:00+01:00"])
    country: str | None = Field(default=None, max_length=10, description="holiday calendar, e.g. DE")
    subdivision: str | None = Field(default=None, max_length=10)
    timezone: str | None = Field(default=None, max_length=64, description="IANA time zone of the recipient")


class SubjectListQuery(PageQuery):
    """Subject rows by ?status= and ?controller= (key)."""

    status: SubjectStatus | None = None
    controller: str | None = Field(default=None, max_length=120)


class DatamapImportQuery(Query):
    """For a raw body: the file name, whose extension says the format (else the Content-Type does)."""

    filename: str | None = Field(default=None, max_length=200, pattern=r"^[^/\\]+\.(yaml|yml|json|csv)$",
                                 description="e.g. customers.csv; recorded as the version's source")


class DatamapExportQuery(Query):
    """The data map's format: canonical YAML, CSV (one row per processing record) or canonical JSON."""

    format: Literal["yaml", "csv", "json"] = "yaml"


class RetentionQuery(Query):
    """?dry_run=1: only show what would change."""

    dry_run: Flag = "0"


def parse_query(model: type[Q]) -> Q:
    """The request's query string validated by the model (a ValidationError becomes a 422 problem)."""
    from flask import request

    return model.model_validate(request.args.to_dict(flat=True))


def parse_page_query(model: type[Q]) -> tuple[Q, PageRequest]:
    """A list's filters and its page; page and per_page keep PageRequest's messages and MAX_PAGE_SIZE bound."""
    from flask import current_app, request

    # PageRequest first, for its messages ("must be a whole number, got 'abc'") and the MAX_PAGE_SIZE bound; then
    # the documented types on the raw values: "?page=" is no page number here (a web form's empty field means
    # the default, which PageRequest.parse allows).
    page = PageRequest.parse(request.args, default_size=current_app.config["PAGE_SIZE"],
                             max_size=current_app.config["MAX_PAGE_SIZE"])
    query = model.model_validate(request.args.to_dict(flat=True))
    return query.model_copy(update={"page": page.page, "per_page": page.per_page}), page
