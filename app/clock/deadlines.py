"""Deadline arithmetic for notification clocks: pure functions, aware datetimes in, aware UTC out."""

from __future__ import annotations

import calendar
import math
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from app.core.time import UTC, require_aware

FROM_RECIPIENT = "from_recipient"

# Periods in days or months end "with the expiry of the last hour of the last day"
# (Regulation (EEC, Euratom) No 1182/71, Art. 3(2)(b)-(c)). We store that instant as 23:59:59 local
# time: the last whole second that still belongs to that local date, so a due time never names the
# next day and "met on time" is simply met_at <= due_at.
END_OF_DAY = time(23, 59, 59)

Count = Annotated[int, Field(strict=True, ge=1)]
Fraction = Annotated[float, Field(gt=0, le=1)]


class DeadlineKind(StrEnum):
    HOURS = "hours"  # exact elapsed hours, counted in UTC
    CALENDAR_DAYS = "calendar_days"
    MONTHS = "months"
    BUSINESS_DAYS = "business_days"
    CONTRACT = "contract"  # the number comes from the recipient's contract (e.g. a customer's DPA)
    NO_FIXED_DEADLINE = "no_fixed_deadline"  # the law sets no number; only an internal target exists


FIXED_KINDS = frozenset({DeadlineKind.HOURS, DeadlineKind.CALENDAR_DAYS, DeadlineKind.MONTHS,
                         DeadlineKind.BUSINESS_DAYS})


class DeadlineRule(BaseModel):
    """How an anchor time becomes a due time; exactly one kind key is set.

    `{hours: 72}`, `{calendar_days: 60}`, `{months: 1}`,
    `{business_days: 3, holiday_country: BR}` (or `holiday_country: from_recipient`),
    `{contract: true}` (resolved per recipient with resolve_contract), or
    `{no_fixed_deadline: true, internal_target_hours: 24}`. `internal_target_hours` is our own
    target, never a legal deadline; it may accompany any kind.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    hours: Count | None = None
    calendar_days: Count | None = None
    months: Count | None = None
    business_days: Count | None = None
    holiday_country: str | None = None  # ISO 3166-1 alpha-2 code known to `holidays`, or from_recipient
    holiday_subdivision: str | None = None  # e.g. "SP"; only with a concrete holiday_country
    contract: Literal[True] | None = None
    no_fixed_deadline: Literal[True] | None = None
    internal_target_hours: Count | None = None

    @field_validator("holiday_country")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        if value is not None and value != FROM_RECIPIENT:
            holiday_calendar(value)
        return value

    @field_validator("holiday_subdivision")
    @classmethod
    def _known_subdivision(cls, value: str | None, info: ValidationInfo) -> str | None:
        country = info.data.get("holiday_country")
        if value is not None:
            if country in (None, FROM_RECIPIENT):
                raise ValueError("holiday_subdivision needs a concrete holiday_country")
            holiday_calendar(country, value)
        return value

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> DeadlineRule:
        kinds = [k.value for k in DeadlineKind if getattr(self, k.value) is not None]
        if len(kinds) != 1:
            raise ValueError(f"give exactly one of {', '.join(DeadlineKind)} "
                             f"(got {', '.join(kinds) or 'none'})")
        if kinds[0] == DeadlineKind.BUSINESS_DAYS and self.holiday_country is None:
            raise ValueError("business_days needs holiday_country (a country code or from_recipient)")
        if kinds[0] != DeadlineKind.BUSINESS_DAYS and self.holiday_country is not None:
            raise ValueError("holiday_country only applies to business_days")
        return self

    @property
    def kind(self) -> DeadlineKind:
        """Return which kind of rule this is."""
        return next(k for k in DeadlineKind if getattr(self, k.value) is not None)

    @property
    def is_fixed(self) -> bool:
        """Return True if the rule yields a due time without further input."""
        return self.kind in FIXED_KINDS


class ReminderPlan(BaseModel):
    """When to remind: fractions of the anchor→due window (1.0 = at due) and hours after due."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fractions: tuple[Fraction, ...] = (0.5, 0.75, 0.9, 1.0)
    overdue_hours: tuple[Count, ...] = (1, 6, 24)


def zone(tz: str) -> ZoneInfo:
    """Return the IANA time zone named tz, or raise ValueError naming it."""
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):  # OSError: a name too long for a file path
        raise ValueError(f"unknown time zone {tz!r}") from None


@lru_cache(maxsize=128)
def holiday_calendar(country: str, subdivision: str | None = None) -> holidays.HolidayBase:
    """Return the public-holiday calendar of country (and subdivision); unknown ones raise ValueError."""
    try:
        # Years are filled in lazily on lookup (expand=True), so one cached object serves any date.
        return holidays.country_holidays(country, subdiv=subdivision)
    except (NotImplementedError, KeyError, TypeError):
        where = f"{country!r}" + (f" subdivision {subdivision!r}" if subdivision else "")
        raise ValueError(f"unknown holiday country {where}") from None


def is_business_day(day: date, country: str, subdivision: str | None = None) -> bool:
    """Return True if day is neither a weekend day nor a public holiday of the calendar."""
    # is_working_day uses the country's own weekend (Sat/Sun for BR, US, EU) and its holidays.
    return holiday_calendar(country, subdivision).is_working_day(day)


def add_business_days(start: date, n: int, *, country: str, subdivision: str | None = None) -> date:
    """Return the n-th business day after start (start itself is never counted)."""
    if n < 0:
        raise ValueError(f"business days must not be negative (got {n})")
    day, counted = start, 0
    while counted < n:
        day += timedelta(days=1)
        if is_business_day(day, country, subdivision):
            counted += 1
    return day


def add_months(start: date, n: int) -> date:
    """Return the same day n months later, clamped to that month's last day (Jan 31 + 1 = Feb 28/29)."""
    year, month0 = divmod(start.month - 1 + n, 12)
    year += start.year
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(start.day, last))


def end_of_local_day(day: date, tz: str = "UTC") -> datetime:
    """Return 23:59:59 of day in time zone tz, as aware UTC."""
    # fold=1: where 23:59:59 occurs twice (a DST fall-back at midnight) the later one ends the day.
    local = datetime.combine(day, END_OF_DAY, tzinfo=zone(tz)).replace(fold=1)
    return local.astimezone(UTC)


def resolve_contract(rule: DeadlineRule, contract_rule: DeadlineRule | None) -> DeadlineRule:
    """Replace a {contract: true} rule by the recipient's contract terms, or no fixed deadline if none."""
    if rule.kind is not DeadlineKind.CONTRACT:
        return rule
    if contract_rule is None:
        return DeadlineRule(no_fixed_deadline=True, internal_target_hours=rule.internal_target_hours)
    if contract_rule.kind is DeadlineKind.CONTRACT:
        raise ValueError("contract terms must give a concrete rule, not {contract: true}")
    return contract_rule


def compute_due(anchor: datetime, rule: DeadlineRule, *, tz: str = "UTC", country: str | None = None,
                subdivision: str | None = None) -> datetime | None:
    """Return the legal due instant (aware UTC) of rule from anchor, or None if no fixed deadline."""
    # tz is the recipient's zone and matters only for day-based periods. country/subdivision serve
    # rules with holiday_country: from_recipient; a concrete country in the rule (the law's own
    # calendar, e.g. Brazil for LGPD) always wins.
    anchor = require_aware(anchor, "anchor")
    zone(tz)
    kind = rule.kind
    if kind is DeadlineKind.CONTRACT:
        raise ValueError("a {contract: true} rule must be resolved with resolve_contract() first")
    if kind is DeadlineKind.NO_FIXED_DEADLINE:
        return None
    if kind is DeadlineKind.HOURS:
        # Real elapsed hours: UTC arithmetic, so a DST change never adds or removes an hour.
        return anchor + timedelta(hours=rule.hours)
    # Reg. 1182/71 Art. 3(1): the day of the anchor event is not counted.
    start = anchor.astimezone(zone(tz)).date()
    if kind is DeadlineKind.CALENDAR_DAYS:
        last = start + timedelta(days=rule.calendar_days)
    elif kind is DeadlineKind.MONTHS:
        last = add_months(start, rule.months)
    else:
        if rule.holiday_country == FROM_RECIPIENT:
            if not country:
                raise ValueError("this rule takes its holiday country from the recipient; none was given")
        else:
            country, subdivision = rule.holiday_country, rule.holiday_subdivision
        last = add_business_days(start, rule.business_days, country=country, subdivision=subdivision)
    return end_of_local_day(last, tz)


def internal_target(anchor: datetime, rule: DeadlineRule, *, default_hours: int,
                    override_hours: int | None = None) -> datetime | None:
    """Return our internal target (anchor + hours), or None for a fixed rule without one."""
    # Precedence: override_hours (configuration), the rule's internal_target_hours, then
    # default_hours, which only fills in for rules with no fixed deadline.
    anchor = require_aware(anchor, "anchor")
    if rule.kind is DeadlineKind.CONTRACT:
        raise ValueError("a {contract: true} rule must be resolved with resolve_contract() first")
    hours = override_hours if override_hours is not None else rule.internal_target_hours
    if hours is None and rule.kind is DeadlineKind.NO_FIXED_DEADLINE:
        hours = default_hours
    if hours is None:
        return None
    if hours <= 0:
        raise ValueError(f"internal target hours must be positive (got {hours})")
    return anchor + timedelta(hours=hours)


def earliest(*dues: datetime | None) -> datetime | None:
    """Return the earliest of the given due times, ignoring None (a stage and its backstop)."""
    known = [require_aware(d, "due") for d in dues if d is not None]
    return min(known) if known else None


def reminder_times(anchor: datetime, due: datetime, plan: ReminderPlan = ReminderPlan()) -> list[datetime]:
    """Return the sorted reminder instants for the window anchor→due (internal target if no legal due)."""
    anchor, due = require_aware(anchor, "anchor"), require_aware(due, "due")
    if due < anchor:
        raise ValueError(f"due {due.isoformat()} is before anchor {anchor.isoformat()}")
    window = (due - anchor).total_seconds()
    # Fractions round down to the whole second: a reminder may come early, never late.
    times = {due if f == 1 else anchor + timedelta(seconds=math.floor(window * f)) for f in plan.fractions}
    times |= {due + timedelta(hours=h) for h in plan.overdue_hours}
    return sorted(times)
