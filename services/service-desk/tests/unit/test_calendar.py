"""Business time: properties over weekends, holidays and daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_service_desk.domain import RuleViolation, WorkingCalendar

pytestmark = pytest.mark.unit

# Madrid changes to summer time on 2026-03-29 and back on 2026-10-25.
MADRID = WorkingCalendar.weekdays(
    "Europe/Madrid", holidays=[date(2026, 1, 1), date(2026, 1, 6), date(2026, 12, 25)]
)
SPLIT_SHIFT = WorkingCalendar(
    "America/New_York",
    (((time(8), time(12)), (time(13), time(17, 30))),) * 5 + (((time(10), time(14)),), ()),
    frozenset({date(2026, 7, 3), date(2026, 11, 26)}),
)
MADRID_ZONE = ZoneInfo("Europe/Madrid")
CALENDARS = st.sampled_from([MADRID, SPLIT_SHIFT, WorkingCalendar.weekdays("UTC")])
INSTANTS = st.datetimes(
    min_value=datetime(2025, 12, 1), max_value=datetime(2027, 1, 31), timezones=st.just(UTC)
)
DURATIONS = st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=120))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_only_working_hours_count() -> None:
    friday_4pm = at("2026-03-06T16:00+01:00")
    monday_10am = at("2026-03-09T10:00+01:00")

    assert MADRID.between(friday_4pm, monday_10am) == timedelta(hours=2)
    assert MADRID.add(friday_4pm, timedelta(hours=2)) == monday_10am


def test_a_target_ending_at_closing_time_is_due_then_not_at_next_opening() -> None:
    friday_9am = at("2026-03-06T09:00+01:00")

    assert MADRID.add(friday_9am, timedelta(hours=8)) == at("2026-03-06T17:00+01:00")


def test_holidays_do_not_count() -> None:
    new_years_eve_4pm = at("2025-12-31T16:00+01:00")

    # 1 January is a holiday, 2 January a Friday.
    assert MADRID.add(new_years_eve_4pm, timedelta(hours=2)) == at("2026-01-02T10:00+01:00")


def test_working_hours_are_local_across_daylight_saving_changes() -> None:
    friday_before = at("2026-03-27T16:00+01:00")  # winter time
    monday_after = at("2026-03-30T10:00+02:00")  # summer time

    assert MADRID.between(friday_before, monday_after) == timedelta(hours=2)
    assert MADRID.add(friday_before, timedelta(hours=2)) == monday_after


def test_a_round_the_clock_calendar_ends_its_days_at_24_00() -> None:
    always = WorkingCalendar.from_dict(
        {"time_zone": "UTC", "hours": [[["00:00", "24:00"]]] * 7, "holidays": []}
    )
    saturday_23h = at("2026-03-07T23:00+00:00")

    assert always.add(saturday_23h, timedelta(minutes=30)) == at("2026-03-07T23:30+00:00")
    assert always.to_dict()["hours"][0] == [["00:00", "24:00"]]


def test_a_calendar_survives_its_json_form() -> None:
    assert WorkingCalendar.from_dict(SPLIT_SHIFT.to_dict()) == SPLIT_SHIFT


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"time_zone": "Mars/Olympus", "hours": [[]] * 6 + [[["09:00", "17:00"]]]}, "time_zone"),
        ({"time_zone": "UTC", "hours": [[]] * 7}, "hours"),
        ({"time_zone": "UTC", "hours": [[["17:00", "09:00"]]] + [[]] * 6}, "hours.0"),
        ({"time_zone": "UTC", "hours": [[["09:00", "17:00"]]] * 3}, "hours"),
        ({"time_zone": "UTC", "hours": "weekdays"}, "calendar"),
    ],
)
def test_a_broken_calendar_is_refused_naming_the_field(data: dict, field: str) -> None:
    with pytest.raises(RuleViolation) as refused:
        WorkingCalendar.from_dict(data)
    assert refused.value.field == field


def test_instants_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        MADRID.between(datetime(2026, 3, 2, 9), datetime(2026, 3, 2, 17))


@given(CALENDARS, INSTANTS, DURATIONS)
def test_add_is_the_inverse_of_between(calendar: WorkingCalendar, start, duration) -> None:
    assert calendar.between(start, calendar.add(start, duration)) == duration


@given(CALENDARS, INSTANTS, INSTANTS, INSTANTS)
def test_business_time_is_additive_over_adjacent_spans(calendar, a, b, c) -> None:
    a, b, c = sorted((a, b, c))
    assert calendar.between(a, b) + calendar.between(b, c) == calendar.between(a, c)


@given(CALENDARS, INSTANTS, INSTANTS)
def test_business_time_never_exceeds_elapsed_time_and_is_never_negative(calendar, a, b) -> None:
    assert timedelta(0) <= calendar.between(a, b) <= max(b - a, timedelta(0))


@given(CALENDARS, INSTANTS, DURATIONS, DURATIONS)
def test_a_longer_target_is_never_due_earlier(calendar, start, shorter, longer) -> None:
    shorter, longer = sorted((shorter, longer))
    assert calendar.add(start, shorter) <= calendar.add(start, longer)


@given(INSTANTS)
def test_weekends_and_holidays_add_no_business_time(start) -> None:
    zone_day = start.astimezone(MADRID_ZONE).date()
    closed = zone_day.weekday() >= 5 or zone_day in MADRID.holidays
    day_start = datetime.combine(zone_day, time.min, MADRID_ZONE)
    worked = MADRID.between(day_start, day_start + timedelta(days=1))
    assert (worked == timedelta(0)) == closed
