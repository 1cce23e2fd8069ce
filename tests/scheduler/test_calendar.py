"""is_working_time: days, hours and holidays in the calendar's own time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime

from bot.config import CalendarConfig
from scheduler.calendar import is_working_time

MSK = CalendarConfig(timezone="Europe/Moscow", working_days=["mon", "tue", "wed", "thu", "fri"],
                     hours="09:00-18:00", holidays=[date(2026, 1, 1)])


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_inside_working_hours_in_the_calendars_zone() -> None:
    assert is_working_time(MSK, utc(2026, 12, 1, 7, 0))  # Tue 10:00 MSK


def test_hours_are_local_not_utc() -> None:
    assert not is_working_time(MSK, utc(2026, 12, 1, 5, 59))  # 08:59 MSK
    assert is_working_time(MSK, utc(2026, 12, 1, 6, 0))  # 09:00 MSK
    assert not is_working_time(MSK, utc(2026, 12, 1, 15, 0))  # 18:00 MSK: end is exclusive


def test_weekend_is_off() -> None:
    assert not is_working_time(MSK, utc(2026, 12, 5, 7, 0))  # Saturday


def test_day_boundary_uses_local_date() -> None:
    # Sunday 22:00 UTC is Monday 01:00 MSK: a working day, but outside the hours
    assert not is_working_time(MSK, utc(2026, 12, 6, 22, 0))
    night = CalendarConfig(timezone="Europe/Moscow", working_days=["mon"], hours="00:00-23:59")
    assert is_working_time(night, utc(2026, 12, 6, 22, 0))


def test_holiday_is_off() -> None:
    assert not is_working_time(MSK, utc(2026, 1, 1, 8, 0))  # Thursday, but a holiday
