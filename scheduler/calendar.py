"""Team calendars and business time.

A :class:`BusinessCalendar` is a time zone, working weekdays, one or more working
windows a day (a lunch break splits the day; the last window may run past midnight),
holidays (listed, and a country's public holidays from the ``holidays`` package) and
extra working dates (a transferred working Saturday). Two operations are what
everything else uses:

- :meth:`BusinessCalendar.add` — the instant ``N`` business minutes after another;
- :meth:`BusinessCalendar.between` — the business minutes between two instants.

Both work on aware datetimes in any zone and answer in UTC. A day's working windows are
built in the calendar's own zone, so a DST change moves them with the wall clock (09:00
stays 09:00 local; a night window over the change is an hour shorter or longer). A
window belongs to the day it starts on: a Friday night window that ends on Saturday
morning is Friday's.

Speed: each day's windows and a per-year running total of working time are computed
once per calendar and kept; ``between`` then costs a few look-ups whatever the span
(partial days at both ends, whole days in between from the running totals), and ``add``
jumps whole years and finds the day by bisection. Results do not depend on the cache:
the functions stay pure.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from bot.config import (
    MINUTES_PER_DAY,
    WEEKDAYS,
    CalendarConfig,
    Config,
    parse_hours,
)

MAX_YEARS = 10  # a calendar with no working time in ten years is treated as broken
MICRO = timedelta(microseconds=1)
Window = tuple[datetime, datetime]


class NoWorkingTime(ValueError):
    """The calendar has no working time in reach (no working days, all holidays)."""


@lru_cache(maxsize=512)
def _country_year(country: str, subdivision: str | None, year: int) -> tuple[frozenset[date], frozenset[date]]:
    import holidays as holidays_package

    found = holidays_package.country_holidays(country, subdiv=subdivision, years=year)
    workdays = getattr(found, "weekend_workdays", set())
    return frozenset(found), frozenset(d for d in workdays if d.year == year)


@dataclass(frozen=True)
class RegionalHolidays:
    """A country's (and optionally a subdivision's) public holidays, one year at a time:
    a year is computed the first time a date in it is asked about, then kept."""

    country: str
    subdivision: str | None = None

    def is_holiday(self, day: date) -> bool:
        return day in _country_year(self.country, self.subdivision, day.year)[0]

    def is_working_weekend(self, day: date) -> bool:
        """A weekend day declared working in exchange for a holiday (Russia's working Saturdays)."""
        return day in _country_year(self.country, self.subdivision, day.year)[1]


@dataclass(frozen=True)
class BusinessCalendar:
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    working_days: frozenset[int] = frozenset(range(7))  # 0 = Monday
    # Local (start, end); end None = the next midnight; an end not after the start = the next day.
    intervals: tuple[tuple[time, time | None], ...] = ((time(0), None),)
    holidays: frozenset[date] = frozenset()
    working_dates: frozenset[date] = frozenset()  # working even on a weekend or a holiday
    regional: RegionalHolidays | None = None
    # Memo of windows per day and running totals per year (not part of the value).
    _windows: dict[date, tuple[Window, ...]] = field(default_factory=dict, init=False, repr=False, compare=False)
    _years: dict[int, list[int]] = field(default_factory=dict, init=False, repr=False, compare=False)

    # --- one day --------------------------------------------------------------------

    def is_working_day(self, day: date) -> bool:
        """Explicit working dates win, then listed holidays, then the country's holidays and
        transferred working weekends, then the weekday."""
        if day in self.working_dates:
            return True
        if day in self.holidays:
            return False
        if self.regional is not None:
            if self.regional.is_holiday(day):
                return False
            if self.regional.is_working_weekend(day):
                return True
        return day.weekday() in self.working_days

    def windows(self, day: date) -> tuple[Window, ...]:
        """The working windows that start on local ``day``, as UTC (start, end) pairs, in order."""
        found = self._windows.get(day)
        if found is None:
            found = self._windows[day] = self._build_windows(day)
        return found

    def _build_windows(self, day: date) -> tuple[Window, ...]:
        if not self.is_working_day(day):
            return ()
        out: list[Window] = []
        for start, end in self.intervals:
            a = datetime.combine(day, start, tzinfo=self.zone).astimezone(UTC)
            end_day = day + timedelta(days=1) if end is None or end <= start else day
            b = datetime.combine(end_day, end or time(0), tzinfo=self.zone).astimezone(UTC)
            if b > a:
                out.append((a, b))
        return tuple(out)

    def _year(self, year: int) -> list[int]:
        """Running totals of working microseconds: ``[k]`` = days of ``year`` before day index k."""
        table = self._years.get(year)
        if table is None:
            table, total, day = [0], 0, date(year, 1, 1)
            while day.year == year:
                total += sum(((b - a) // MICRO for a, b in self.windows(day)), 0)
                table.append(total)
                day += timedelta(days=1)
            self._years[year] = table
        return table

    def _whole_days(self, first: date, stop: date) -> int:
        """Working microseconds of the days ``first`` ≤ day < ``stop``."""
        total = 0
        while first < stop:
            table = self._year(first.year)
            end = min(stop, date(first.year + 1, 1, 1))
            jan1 = date(first.year, 1, 1)
            total += table[(end - jan1).days] - table[(first - jan1).days]
            first = end
        return total

    def _local_date(self, instant: datetime) -> date:
        return instant.astimezone(self.zone).date()

    # --- the two operations -----------------------------------------------------------

    def is_working(self, instant: datetime) -> bool:
        local_day = self._local_date(instant)
        at = instant.astimezone(UTC)
        return any(a <= at < b for d in (local_day - timedelta(days=1), local_day)
                   for a, b in self.windows(d))

    def add(self, start: datetime, minutes: float) -> datetime:
        """The instant ``minutes`` business minutes after ``start`` (UTC).

        ``add(start, 0)`` is ``start`` itself (even outside working time); otherwise an end
        that falls exactly on a window's end is that end (not the next window's start)."""
        at = start.astimezone(UTC)
        if minutes <= 0:
            return at
        left = timedelta(minutes=minutes) // MICRO
        day = self._local_date(at) - timedelta(days=1)
        for day in (day, day + timedelta(days=1)):  # the windows that may hold ``at``
            for a, b in self.windows(day):
                if b <= at:
                    continue
                s = max(a, at)
                if left <= (b - s) // MICRO:
                    return s + left * MICRO
                left -= (b - s) // MICRO
        return self._add_whole_days(day + timedelta(days=1), left)

    def _add_whole_days(self, day: date, left: int) -> datetime:
        """``left`` working microseconds from the start of local ``day``."""
        for _ in range(MAX_YEARS + 1):
            table = self._year(day.year)
            offset = (day - date(day.year, 1, 1)).days
            target = table[offset] + left
            if target > table[-1]:  # not this year: jump to the next one
                left = target - table[-1]
                day = date(day.year + 1, 1, 1)
                continue
            index = bisect_left(table, target, lo=offset + 1) - 1  # the day the end falls in
            left = target - table[index]
            for a, b in self.windows(date(day.year, 1, 1) + timedelta(days=index)):
                if left <= (b - a) // MICRO:
                    return a + left * MICRO
                left -= (b - a) // MICRO
        raise NoWorkingTime("the calendar has no working time to add to")

    def between(self, a: datetime, b: datetime) -> float:
        """Business minutes from ``a`` to ``b`` (0 when ``b`` is not after ``a``)."""
        a, b = a.astimezone(UTC), b.astimezone(UTC)
        if b <= a:
            return 0.0
        first, last = self._local_date(a), self._local_date(b)
        one = timedelta(days=1)
        if (last - first).days <= 3:
            edges = [first - one + timedelta(days=i) for i in range((last - first).days + 2)]
            whole = 0
        else:  # edge days clipped to [a, b]; the windows of the days in between lie inside it
            edges = [first - one, first, last - one, last]
            whole = self._whole_days(first + one, last - one)
        clipped = sum(
            ((min(e, b) - max(s, a)) // MICRO for d in edges for s, e in self.windows(d) if min(e, b) > max(s, a)),
            0,
        )
        return (clipped + whole) / 60_000_000


ALWAYS = BusinessCalendar()  # 24/7 in UTC: wall-clock time


def _intervals(hours: str) -> tuple[tuple[time, time | None], ...]:
    def clock(minutes: int) -> time:
        return time((minutes // 60) % 24, minutes % 60)

    return tuple((clock(start), None if end == MINUTES_PER_DAY else clock(end))
                 for start, end in parse_hours(hours))


def from_config(calendar: CalendarConfig) -> BusinessCalendar:
    return _from_config(calendar.timezone, tuple(calendar.working_days), calendar.hours,
                        frozenset(calendar.holidays), frozenset(calendar.working_dates),
                        calendar.holidays_country, calendar.holidays_subdivision)


@lru_cache(maxsize=256)
def _from_config(zone: str, days: tuple[str, ...], hours: str, holidays: frozenset[date],
                 working_dates: frozenset[date], country: str | None, subdivision: str | None) -> BusinessCalendar:
    return BusinessCalendar(zone=ZoneInfo(zone), working_days=frozenset(WEEKDAYS.index(d) for d in days),
                            intervals=_intervals(hours), holidays=holidays, working_dates=working_dates,
                            regional=RegionalHolidays(country, subdivision) if country else None)


def team_calendar_config(config: Config, team: str | None) -> CalendarConfig | None:
    """The team's named calendar with its ``calendar_overrides`` applied (None: works 24/7)."""
    conf = config.teams.get(team) if team else None
    if conf is None or conf.calendar is None or conf.calendar not in config.calendars:
        return None
    return config.calendars[conf.calendar].patched(conf.calendar_overrides)


def person_calendar_config(config: Config, person: str | None, team: str | None) -> CalendarConfig | None:
    """A person's working time in ``team``: their ``shift`` over the team's calendar (over a
    Monday–Friday calendar in the desk's time zone when the team has none); None: 24/7."""
    base = team_calendar_config(config, team)
    conf = config.people.get(person) if person else None
    if conf is None or conf.shift is None:
        return base
    return (base or CalendarConfig(timezone=config.desk.timezone)).patched(conf.shift)


class _Same:
    """A config object as a cache key by identity (configs are frozen; the cache holds the
    object, so its id is not reused while the entry lives)."""

    __slots__ = ("obj",)

    def __init__(self, obj: object) -> None:
        self.obj = obj

    def __hash__(self) -> int:
        return id(self.obj)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.obj is self.obj


@lru_cache(maxsize=1024)
def _calendar_of(config: _Same, team: str | None, person: str | None) -> BusinessCalendar:
    assert isinstance(config.obj, Config)
    conf = person_calendar_config(config.obj, person, team)
    return ALWAYS if conf is None else from_config(conf)


def for_team(config: Config, team: str | None) -> BusinessCalendar:
    """The team's business calendar; a team without one works around the clock."""
    return _calendar_of(_Same(config), team, None)


def for_person(config: Config, person: str | None, team: str | None) -> BusinessCalendar:
    """A person's working time in ``team``: their own shift when configured, else the team's."""
    return _calendar_of(_Same(config), team, person)


# --- the earlier API (kept for callers that only ask "is it working time now?") ---------

def working_hours(calendar: CalendarConfig) -> tuple[time, time]:
    """The calendar's (start, end) of a working day, as local times (first window)."""
    return calendar.start_end


def is_working_time(calendar: CalendarConfig, instant: datetime) -> bool:
    """True when ``instant`` (aware) is on a working day, not a holiday, within the hours.

    Days, holidays and hours are read in the calendar's own time zone; the end of
    the working hours is exclusive.
    """
    return from_config(calendar).is_working(instant)
