"""Team calendars: is an instant inside the team's working time?

Pure functions over :class:`bot.config.CalendarConfig`; the SLA clock and
shift-aware auto-assignment both ask here.
"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from bot.config import WEEKDAYS, CalendarConfig


def working_hours(calendar: CalendarConfig) -> tuple[time, time]:
    """The calendar's (start, end) of a working day, as local times."""
    start, end = (time.fromisoformat(p.strip()) for p in calendar.hours.split("-"))
    return start, end


def is_working_time(calendar: CalendarConfig, instant: datetime) -> bool:
    """True when ``instant`` (aware) is on a working day, not a holiday, within the hours.

    Days, holidays and hours are read in the calendar's own time zone; the end of
    the working hours is exclusive.
    """
    local = instant.astimezone(ZoneInfo(calendar.timezone))
    if WEEKDAYS[local.weekday()] not in calendar.working_days:
        return False
    if local.date() in calendar.holidays:
        return False
    start, end = working_hours(calendar)
    return start <= local.time().replace(tzinfo=None) < end
