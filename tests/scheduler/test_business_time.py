"""Business time: add / between over weekends, holidays, lunch breaks, DST and other zones.

Expected instants are worked out by hand from the calendar rules in each test's comment
(local wall-clock times), not by calling the code under test.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import CalendarConfig
from scheduler.calendar import ALWAYS, BusinessCalendar, NoWorkingTime, from_config

MOSCOW = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")


def msk(*args: int) -> datetime:
    return datetime(*args, tzinfo=MOSCOW)


def ber(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


def calendar(**fields: object) -> BusinessCalendar:
    return from_config(CalendarConfig.model_validate(fields))


MSK_9_18 = calendar(timezone="Europe/Moscow", hours="09:00-18:00")
MSK_RU = calendar(timezone="Europe/Moscow", hours="09:00-18:00", holidays_country="RU")
MSK_LUNCH = calendar(timezone="Europe/Moscow", hours=["09:00-13:00", "14:00-18:00"], holidays_country="RU")
BERLIN_DAY = calendar(timezone="Europe/Berlin", hours="09:00-18:00")
BERLIN_NIGHT = calendar(timezone="Europe/Berlin", hours="22:00-06:00+1",
                        working_days=["mon", "tue", "wed", "thu", "fri", "sat", "sun"])


# --- the example and the weekend --------------------------------------------------------

def test_filed_tuesday_night_is_due_wednesday_1300() -> None:
    # Tue 23:15 is after hours; Wednesday 09:00 + 4h = 13:00
    assert MSK_9_18.add(msk(2026, 12, 1, 23, 15), 240) == msk(2026, 12, 2, 13, 0)
    assert MSK_9_18.between(msk(2026, 12, 1, 23, 15), msk(2026, 12, 2, 13, 0)) == 240


def test_a_weekend_does_not_count() -> None:
    # Fri 17:00 → 18:00 is one hour, Monday 09:00 → 10:00 the second
    friday = msk(2026, 12, 4, 17, 0)
    assert MSK_9_18.add(friday, 120) == msk(2026, 12, 7, 10, 0)
    assert MSK_9_18.between(friday, msk(2026, 12, 7, 10, 0)) == 120
    assert MSK_9_18.between(msk(2026, 12, 5, 10), msk(2026, 12, 6, 17)) == 0  # Saturday → Sunday
    assert not MSK_9_18.is_working(msk(2026, 12, 5, 10))


def test_adding_zero_is_the_instant_itself_even_off_hours() -> None:
    night = msk(2026, 12, 1, 23, 15)
    assert MSK_9_18.add(night, 0) == night


def test_an_end_on_a_window_end_stays_there() -> None:
    # 17:00 + 60 min lands on 18:00, not on the next morning
    assert MSK_9_18.add(msk(2026, 12, 1, 17, 0), 60) == msk(2026, 12, 1, 18, 0)


# --- holidays -----------------------------------------------------------------------------------

def test_russian_new_year_holidays_come_from_the_holidays_package() -> None:
    # Russia 2025/26: 31 Dec 2025 and 1–9 Jan 2026 are days off, 10–11 Jan a weekend.
    # Tue 30 Dec 2025 17:00 + 2h: one hour that day, the other on Mon 12 Jan 09:00–10:00.
    start = msk(2025, 12, 30, 17, 0)
    assert MSK_RU.add(start, 120) == msk(2026, 1, 12, 10, 0)
    assert MSK_RU.between(start, msk(2026, 1, 12, 10, 0)) == 120
    assert not MSK_RU.is_working(msk(2026, 1, 5, 10, 0))  # a Monday inside the holidays
    # without the country the same Wednesday 31 Dec is an ordinary working day
    assert MSK_9_18.add(start, 120) == msk(2025, 12, 31, 10, 0)


def test_a_transferred_working_saturday_counts() -> None:
    # Saturday 1 Nov 2025 was a working day in Russia (for Monday 3 Nov)
    assert MSK_RU.is_working(msk(2025, 11, 1, 10, 0))
    assert not MSK_9_18.is_working(msk(2025, 11, 1, 10, 0))
    assert not MSK_RU.is_working(msk(2025, 11, 3, 10, 0))  # the Monday it bought off


def test_listed_holidays_and_working_dates_from_config() -> None:
    cal = calendar(timezone="Europe/Moscow", holidays_country="RU",
                   holidays=["2026-12-30"], working_dates=["2026-01-09", "2026-12-26"])
    assert not cal.is_working(msk(2026, 12, 30, 10))  # an ordinary Wednesday made a day off
    assert cal.is_working(msk(2026, 1, 9, 10))  # a package holiday worked anyway
    assert cal.is_working(msk(2026, 12, 26, 10))  # a Saturday worked
    # Fri 25 Dec 17:00 + 2h: 17–18, then Saturday 26 Dec 09–10
    assert cal.add(msk(2026, 12, 25, 17), 120) == msk(2026, 12, 26, 10)


def test_holiday_years_are_looked_up_only_when_asked() -> None:
    from scheduler.calendar import _country_year

    cal = calendar(timezone="Asia/Tokyo", holidays_country="JP")
    _country_year.cache_clear()
    assert not cal.is_working(datetime(2031, 5, 5, 3, tzinfo=UTC))  # Children's Day, 12:00 in Tokyo
    assert _country_year.cache_info().currsize == 1  # 2031 only, not every year around it


# --- a lunch break ------------------------------------------------------------------------------

def test_a_lunch_break_is_skipped() -> None:
    # Mon 12:00 + 2h: 12–13, lunch, 14–15
    monday = msk(2026, 11, 30, 12, 0)
    assert MSK_LUNCH.add(monday, 120) == msk(2026, 11, 30, 15, 0)
    assert MSK_LUNCH.between(monday, msk(2026, 11, 30, 15, 0)) == 120
    assert not MSK_LUNCH.is_working(msk(2026, 11, 30, 13, 30))
    assert MSK_LUNCH.between(msk(2026, 11, 30, 13, 0), msk(2026, 11, 30, 14, 0)) == 0
    # a whole day is 8 hours, not 9
    assert MSK_LUNCH.between(msk(2026, 11, 30, 0), msk(2026, 12, 1, 0)) == 8 * 60


def test_filing_in_the_lunch_break_starts_after_it() -> None:
    assert MSK_LUNCH.add(msk(2026, 11, 30, 13, 20), 30) == msk(2026, 11, 30, 14, 30)


# --- DST (Europe/Berlin: last Sunday of March and of October) -------------------------------------

def test_day_hours_follow_the_wall_clock_over_the_spring_change() -> None:
    # Fri 27 Mar 2026 17:00 CET + 2h → Mon 30 Mar 10:00 CEST (08:00 UTC, not 09:00)
    end = BERLIN_DAY.add(ber(2026, 3, 27, 17, 0), 120)
    assert end == ber(2026, 3, 30, 10, 0)
    assert end.astimezone(UTC) == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)


def test_a_night_window_over_the_spring_change_is_an_hour_shorter() -> None:
    # Sat 28 Mar 22:00 → Sun 29 Mar 06:00 local: clocks jump 02:00 → 03:00, so 7 hours
    assert BERLIN_NIGHT.between(ber(2026, 3, 28, 21, 0), ber(2026, 3, 29, 7, 0)) == 7 * 60
    assert BERLIN_NIGHT.between(ber(2026, 3, 21, 21, 0), ber(2026, 3, 22, 7, 0)) == 8 * 60  # a week before
    # 7h from 22:00 ends at 06:00 local that morning
    assert BERLIN_NIGHT.add(ber(2026, 3, 28, 22, 0), 7 * 60) == ber(2026, 3, 29, 6, 0)


def test_a_night_window_over_the_autumn_change_is_an_hour_longer() -> None:
    # Sat 24 Oct 22:00 → Sun 25 Oct 06:00 local: clocks fall back 03:00 → 02:00, so 9 hours
    assert BERLIN_NIGHT.between(ber(2026, 10, 24, 21, 0), ber(2026, 10, 25, 7, 0)) == 9 * 60
    assert BERLIN_NIGHT.add(ber(2026, 10, 24, 22, 0), 9 * 60) == ber(2026, 10, 25, 6, 0)


def test_a_night_window_belongs_to_the_day_it_starts() -> None:
    # Friday-only nights: Friday 22:00 → Saturday 06:00 works, Saturday night does not
    fridays = calendar(timezone="Europe/Berlin", hours="22:00-06:00+1", working_days=["fri"])
    assert fridays.is_working(ber(2026, 12, 5, 3, 0))  # Saturday 03:00: Friday's night
    assert not fridays.is_working(ber(2026, 12, 5, 23, 0))
    assert fridays.between(ber(2026, 12, 4, 0), ber(2026, 12, 11, 0)) == 8 * 60


# --- another time zone --------------------------------------------------------------------------

def test_a_team_in_another_zone_works_by_its_own_clock() -> None:
    vladivostok = calendar(timezone="Asia/Vladivostok", hours="09:00-18:00")  # UTC+10, MSK+7
    filed = msk(2026, 12, 1, 23, 15)  # Wed 06:15 in Vladivostok
    assert vladivostok.add(filed, 240) == datetime(2026, 12, 2, 13, 0, tzinfo=ZoneInfo("Asia/Vladivostok"))
    assert vladivostok.is_working(msk(2026, 12, 2, 3, 0))  # 10:00 there, 03:00 in Moscow
    assert not MSK_9_18.is_working(msk(2026, 12, 2, 3, 0))


def test_results_are_utc_whatever_the_input_zone() -> None:
    end = MSK_9_18.add(ber(2026, 12, 1, 21, 15), 240)  # 23:15 MSK given in Berlin time
    assert end.tzinfo == UTC and end == msk(2026, 12, 2, 13, 0)


def test_always_is_wall_clock_time() -> None:
    a = msk(2026, 12, 5, 23, 0)
    assert ALWAYS.add(a, 90) == a + timedelta(minutes=90)
    assert ALWAYS.between(a, a + timedelta(days=3)) == 3 * 24 * 60


def test_a_calendar_without_working_time_says_so() -> None:
    never = BusinessCalendar(working_days=frozenset(), intervals=((time(9), time(18)),))
    with pytest.raises(NoWorkingTime):
        never.add(datetime(2026, 1, 1, tzinfo=UTC), 1)


# --- long spans: the fast path equals the day-by-day sum -------------------------------------------

def day_by_day(cal: BusinessCalendar, a: datetime, b: datetime) -> float:
    """Business minutes summed window by window over every local day (the slow way)."""
    total = timedelta()
    day = a.astimezone(cal.zone).date() - timedelta(days=1)
    while day <= b.astimezone(cal.zone).date():
        for s, e in cal.windows(day):
            lo, hi = max(s, a), min(e, b)
            if hi > lo:
                total += hi - lo
        day += timedelta(days=1)
    return total.total_seconds() / 60


def test_a_year_of_russian_working_time() -> None:
    # 2026 in Russia: 247 working days of 9 hours (the official production calendar)
    assert MSK_RU.between(msk(2026, 1, 1), msk(2027, 1, 1)) == 247 * 9 * 60


def test_long_spans_over_years_match_the_day_by_day_sum() -> None:
    a, b = msk(2024, 2, 29, 11, 17), msk(2028, 7, 3, 15, 41)
    for cal in (MSK_RU, MSK_LUNCH, BERLIN_NIGHT):
        assert cal.between(a, b) == pytest.approx(day_by_day(cal, a, b), abs=1e-9)


# --- properties ---------------------------------------------------------------------------------

CALENDARS = st.sampled_from([MSK_9_18, MSK_RU, MSK_LUNCH, BERLIN_DAY, BERLIN_NIGHT, ALWAYS])
INSTANTS = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31),
                        timezones=st.just(UTC))
MINUTES = st.integers(min_value=0, max_value=60 * 24 * 60)  # up to 60 days of 24h


@settings(max_examples=300, deadline=None)
@given(cal=CALENDARS, t=INSTANTS, m=MINUTES)
def test_add_then_between_round_trips(cal: BusinessCalendar, t: datetime, m: int) -> None:
    assert cal.between(t, cal.add(t, m)) == m


@settings(max_examples=300, deadline=None)
@given(cal=CALENDARS, t=INSTANTS, m1=MINUTES, m2=MINUTES)
def test_add_is_monotonic_in_minutes(cal: BusinessCalendar, t: datetime, m1: int, m2: int) -> None:
    lo, hi = sorted((m1, m2))
    assert cal.add(t, lo) <= cal.add(t, hi)


@settings(max_examples=300, deadline=None)
@given(cal=CALENDARS, t1=INSTANTS, t2=INSTANTS, m=MINUTES)
def test_add_is_monotonic_in_the_start(cal: BusinessCalendar, t1: datetime, t2: datetime, m: int) -> None:
    early, late = sorted((t1, t2))
    assert cal.add(early, m) <= cal.add(late, m)


@settings(max_examples=300, deadline=None)
@given(cal=CALENDARS, times=st.lists(INSTANTS, min_size=3, max_size=3))
def test_between_is_additive_over_a_split_point(cal: BusinessCalendar, times: list[datetime]) -> None:
    a, b, c = sorted(times)
    assert cal.between(a, c) == pytest.approx(cal.between(a, b) + cal.between(b, c), abs=1e-9)
    assert cal.between(a, c) == pytest.approx(day_by_day(cal, a, c), abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(cal=CALENDARS, t=INSTANTS, m=st.integers(min_value=1, max_value=5000))
def test_the_end_of_an_addition_is_working_time_or_a_window_end(cal: BusinessCalendar, t: datetime, m: int) -> None:
    end = cal.add(t, m)
    assert cal.is_working(end - timedelta(microseconds=1))


def test_working_day_counts_are_what_the_calendar_says() -> None:
    # January 2026 in Russia: 15 working days (12–16, 19–23, 26–30)
    first = date(2026, 1, 1)
    days = [first + timedelta(days=i) for i in range(31)]
    assert sum(MSK_RU.is_working_day(d) for d in days) == 15


def test_long_spans_do_not_walk_the_days_again() -> None:
    # Each day's windows are built once; after that a measurement over years is look-ups only.
    cal = calendar(timezone="Europe/Moscow", hours=["09:00-13:00", "14:00-18:00"], holidays_country="RU",
                   holidays=["2031-06-01"])  # a calendar no other test shares
    built: list[date] = []
    original = cal._build_windows

    def counting(day: date) -> tuple[tuple[datetime, datetime], ...]:
        built.append(day)
        return original(day)

    object.__setattr__(cal, "_build_windows", counting)
    a, b = msk(2030, 1, 1, 10), msk(2034, 12, 31, 10)
    first = cal.between(a, b)
    assert len(built) == len(set(built)) <= 5 * 366  # each day of the five years at most once
    built.clear()
    for shift in range(0, 1000, 7):
        cal.between(a + timedelta(days=shift, minutes=shift), b - timedelta(days=shift))
        cal.add(a + timedelta(days=shift), 60 * 24 * 40)
    assert built == []
    assert cal.between(a, b) == first


def test_a_night_window_over_new_year_in_utc_counts_once() -> None:
    # New Year's Eve 22:00 → 1 January 06:00 in Berlin (21:00 → 05:00 UTC): 8 hours over the UTC year end
    assert BERLIN_NIGHT.between(ber(2026, 12, 31, 20, 0), ber(2027, 1, 1, 7, 0)) == 8 * 60
    assert BERLIN_NIGHT.between(ber(2026, 12, 31, 23, 0), ber(2027, 1, 1, 2, 0)) == 3 * 60
    assert BERLIN_NIGHT.add(ber(2026, 12, 31, 22, 0), 8 * 60) == ber(2027, 1, 1, 6, 0)
    assert BERLIN_NIGHT.add(ber(2026, 12, 31, 23, 30), 90) == ber(2027, 1, 1, 1, 0)
