"""Deadline arithmetic: exact hours in UTC, Reg. 1182/71 day counting, business days, reminders."""

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from app.clock.deadlines import (
    DeadlineKind,
    DeadlineRule,
    ReminderPlan,
    add_business_days,
    add_months,
    compute_due,
    earliest,
    end_of_local_day,
    holiday_calendar,
    internal_target,
    reminder_times,
    resolve_contract,
)
from app.core.time import UTC

H72 = DeadlineRule(hours=72)
aware_datetimes = st.datetimes(min_value=datetime(1980, 1, 1), max_value=datetime(2100, 12, 31),
                               timezones=st.timezones())


def z(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@settings(max_examples=300)
@given(anchor=aware_datetimes)
def test_72_hours_are_72_real_hours_in_any_zone(anchor):
    due = compute_due(anchor, H72)
    assert due.tzinfo is UTC
    assert due - anchor == timedelta(hours=72)
    assert due.timestamp() - anchor.timestamp() == 72 * 3600


@settings(max_examples=200, deadline=None)
@given(anchor=aware_datetimes, n=st.integers(1, 25), country=st.sampled_from(["BR", "US", "DE", "GB", "JP"]),
       tz=st.sampled_from(["UTC", "America/Sao_Paulo", "America/New_York", "Europe/Berlin", "Asia/Tokyo",
                           "Pacific/Kiritimati", "Pacific/Pago_Pago"]))
def test_business_day_due_is_a_working_day_after_the_anchor(anchor, n, country, tz):
    due = compute_due(anchor, DeadlineRule(business_days=n, holiday_country=country), tz=tz)
    local = due.astimezone(ZoneInfo(tz))
    assert due > anchor
    assert local.weekday() < 5
    assert local.date() not in holiday_calendar(country)
    assert local.time() == time(23, 59, 59)
    assert local.date() > anchor.astimezone(ZoneInfo(tz)).date()


def test_gdpr_72h_across_the_start_of_summer_time_in_berlin():
    # Berlin moves from +01:00 to +02:00 on 2026-03-29; wall-clock arithmetic would say 20:00+02:00
    # on 31 March (18:00Z), one hour short.
    anchor = datetime(2026, 3, 28, 20, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert anchor.utcoffset() == timedelta(hours=1)
    assert compute_due(anchor, H72, tz="Europe/Berlin") == z("2026-03-31T19:00:00Z")


def test_lgpd_three_business_days_skip_good_friday_and_the_weekend():
    # Wed 1 Apr 2026 is not counted; Thu 2 Apr = 1; Fri 3 Apr Good Friday, Sat, Sun skipped;
    # Mon 6 Apr = 2; Tue 7 Apr = 3 -> 23:59:59 in Sao Paulo (-03:00, no DST since 2019).
    anchor = datetime(2026, 4, 1, 10, 0, tzinfo=timezone(timedelta(hours=-3)))
    rule = DeadlineRule(business_days=3, holiday_country="BR")
    due = compute_due(anchor, rule, tz="America/Sao_Paulo")
    assert due == z("2026-04-08T02:59:59Z")
    assert due.astimezone(ZoneInfo("America/Sao_Paulo")).isoformat() == "2026-04-07T23:59:59-03:00"


def test_sec_four_business_days_skip_thanksgiving():
    # Determination Wed 25 Nov 2026; Thu 26 Nov is Thanksgiving; Fri 27 = 1, Mon 30 = 2,
    # Tue 1 Dec = 3, Wed 2 Dec = 4 -> 23:59:59 EST.
    anchor = datetime(2026, 11, 25, 15, 0, tzinfo=ZoneInfo("America/New_York"))
    rule = DeadlineRule(business_days=4, holiday_country="US")
    assert compute_due(anchor, rule, tz="America/New_York") == z("2026-12-03T04:59:59Z")


def test_business_days_from_recipient_use_the_callers_country():
    rule = DeadlineRule(business_days=1, holiday_country="from_recipient")
    anchor = z("2026-04-02T12:00:00Z")  # Thursday; Germany also rests on Good Friday and Easter Monday
    assert compute_due(anchor, rule, country="DE") == z("2026-04-07T23:59:59Z")
    assert compute_due(anchor, rule, country="US") == z("2026-04-03T23:59:59Z")
    with pytest.raises(ValueError, match="holiday country"):
        compute_due(anchor, rule)


def test_a_concrete_holiday_country_in_the_rule_wins_over_the_caller():
    rule = DeadlineRule(business_days=1, holiday_country="BR")
    assert compute_due(z("2026-04-02T12:00:00Z"), rule, country="US") == z("2026-04-06T23:59:59Z")


def test_subdivision_holidays_count():
    # 9 July is a state holiday in Sao Paulo only.
    start = date(2026, 7, 8)
    assert add_business_days(start, 1, country="BR") == date(2026, 7, 9)
    assert add_business_days(start, 1, country="BR", subdivision="SP") == date(2026, 7, 10)


def test_month_end_is_clamped():
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert add_months(date(2026, 12, 15), 1) == date(2027, 1, 15)
    assert add_months(date(2026, 3, 31), 13) == date(2027, 4, 30)
    assert compute_due(z("2026-01-31T10:00:00Z"), DeadlineRule(months=1)) == z("2026-02-28T23:59:59Z")


def test_months_end_of_day_in_the_recipients_zone():
    # 31 Jan 23:30 UTC is already 1 Feb in Berlin: the period runs from 1 Feb to 1 Mar.
    due = compute_due(z("2026-01-31T23:30:00Z"), DeadlineRule(months=1), tz="Europe/Berlin")
    assert due == z("2026-03-01T22:59:59Z")


def test_calendar_days_across_the_end_of_summer_time():
    # Anchor day (Sat 24 Oct, +02:00) is not counted; 3 days later is Tue 27 Oct, by then +01:00.
    anchor = datetime(2026, 10, 24, 12, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    due = compute_due(anchor, DeadlineRule(calendar_days=3), tz="Europe/Berlin")
    assert due == z("2026-10-27T22:59:59Z")
    assert due.astimezone(ZoneInfo("Europe/Berlin")).isoformat() == "2026-10-27T23:59:59+01:00"


def test_calendar_days_count_from_the_local_date_of_the_anchor():
    # 02:00Z on 1 March is still 28 Feb in New York.
    due = compute_due(z("2026-03-01T02:00:00Z"), DeadlineRule(calendar_days=30), tz="America/New_York")
    assert due == z("2026-03-31T03:59:59Z")  # 30 March 23:59:59 EDT


def test_end_of_day_takes_the_later_instant_when_midnight_repeats():
    # Sao Paulo ended DST at midnight on 18 Feb 2018: 17 Feb 23:00-23:59 happened twice.
    assert end_of_local_day(date(2018, 2, 17), "America/Sao_Paulo") == z("2018-02-18T02:59:59Z")


def test_no_fixed_deadline_has_no_due_but_an_internal_target():
    rule = DeadlineRule(no_fixed_deadline=True, internal_target_hours=24)
    anchor = z("2026-05-01T08:00:00Z")
    assert compute_due(anchor, rule) is None
    assert internal_target(anchor, rule, default_hours=48) == z("2026-05-02T08:00:00Z")
    assert internal_target(anchor, rule, default_hours=48, override_hours=6) == z("2026-05-01T14:00:00Z")
    bare = DeadlineRule(no_fixed_deadline=True)
    assert internal_target(anchor, bare, default_hours=48) == z("2026-05-03T08:00:00Z")
    assert internal_target(anchor, H72, default_hours=48) is None


def test_contract_rule_resolves_to_the_contract_or_to_no_fixed_deadline():
    rule = DeadlineRule(contract=True, internal_target_hours=24)
    anchor = z("2026-05-01T08:00:00Z")
    with pytest.raises(ValueError, match="resolve_contract"):
        compute_due(anchor, rule)
    assert resolve_contract(rule, DeadlineRule(hours=48)) == DeadlineRule(hours=48)
    fallback = resolve_contract(rule, None)
    assert fallback.kind is DeadlineKind.NO_FIXED_DEADLINE
    assert compute_due(anchor, fallback) is None
    assert internal_target(anchor, fallback, default_hours=72) == z("2026-05-02T08:00:00Z")
    assert resolve_contract(H72, None) is H72


def test_naive_anchor_is_rejected():
    with pytest.raises(ValueError, match="naive"):
        compute_due(datetime(2026, 1, 1, 12, 0), H72)


def test_unknown_time_zone_and_country_are_named():
    with pytest.raises(ValueError, match="Mars/Olympus"):
        compute_due(z("2026-01-01T00:00:00Z"), H72, tz="Mars/Olympus")
    with pytest.raises(ValueError, match="'XX'"):
        add_business_days(date(2026, 1, 1), 1, country="XX")
    with pytest.raises(ValueError, match="'XX'"):
        compute_due(z("2026-01-01T00:00:00Z"), DeadlineRule(business_days=1, holiday_country="from_recipient"),
                    country="XX")


@pytest.mark.parametrize("data, message", [
    ({}, "exactly one"),
    ({"hours": 72, "calendar_days": 3}, "exactly one"),
    ({"weeks": 2}, "Extra inputs"),
    ({"hours": "72"}, "valid integer"),
    ({"hours": 0}, "greater than or equal to 1"),
    ({"business_days": 3}, "needs holiday_country"),
    ({"business_days": 3, "holiday_country": "XX"}, "unknown holiday country 'XX'"),
    ({"business_days": 3, "holiday_country": "BR", "holiday_subdivision": "ZZ"}, "subdivision 'ZZ'"),
    ({"hours": 4, "holiday_country": "BR"}, "only applies to business_days"),
    ({"contract": False}, "Input should be True"),
])
def test_invalid_rules_are_rejected(data, message):
    with pytest.raises(ValidationError, match=message):
        DeadlineRule.model_validate(data)


def test_reminders_at_fractions_due_and_overdue():
    anchor, due = z("2026-03-01T00:00:00Z"), z("2026-03-04T00:00:00Z")  # 72 h window
    times = reminder_times(anchor, due, ReminderPlan())
    assert times == [z("2026-03-02T12:00:00Z"), z("2026-03-03T06:00:00Z"), z("2026-03-03T16:48:00Z"),
                     due, due + timedelta(hours=1), due + timedelta(hours=6), due + timedelta(hours=24)]


def test_reminders_round_down_and_reject_a_window_that_ends_before_it_starts():
    anchor = z("2026-03-01T00:00:00Z")
    times = reminder_times(anchor, anchor + timedelta(seconds=3), ReminderPlan(fractions=(0.5,), overdue_hours=()))
    assert times == [anchor + timedelta(seconds=1)]
    with pytest.raises(ValueError, match="before anchor"):
        reminder_times(anchor, anchor - timedelta(hours=1))


def test_earliest_picks_the_first_known_due():
    a, b = z("2026-03-01T04:00:00Z"), z("2026-03-01T02:00:00Z")
    assert earliest(a, None, b) == b
    assert earliest(None, None) is None
