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

Speed: each day's windows, and per UTC year the working windows laid end to end with
their running total, are computed once per calendar and kept. ``between`` is then two
bisections and the year totals in between (no walk over days), ``add`` one bisection per
year it crosses. The cache does not change any result: the functions stay pure.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
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
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
Window = tuple[datetime, datetime]


def _us(instant: datetime) -> int:
    """Microseconds since the epoch (any aware datetime)."""
    return (instant - EPOCH) // MICRO


def _utc_year(instant: datetime) -> int:
    return instant.year if instant.tzinfo is UTC else instant.astimezone(UTC).year


@dataclass(frozen=True)
class _Year:
    """The working windows of one UTC year, clipped to it, as microseconds since the epoch,
    with ``done[i]`` = working microseconds of the year before window ``i`` starts."""

    starts: list[int]
    ends: list[int]
    done: list[int]  # one longer than starts: done[-1] is the year's total

    @property
    def total(self) -> int:
        return self.done[-1]

    def before(self, at: int) -> int:
        """Working microseconds of this year before the instant ``at`` (inside the year)."""
        i = bisect_right(self.starts, at) - 1
        if i < 0:
            return 0
        return self.done[i] + min(at, self.ends[i]) - self.starts[i]

    def instant_after(self, worked: int) -> int:
        """The first instant by which ``worked`` (0 < worked ≤ total) microseconds are worked."""
        i = bisect_left(self.done, worked) - 1  # the window in which the total reaches it
        return self.starts[i] + worked - self.done[i]


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
    _years: dict[int, _Year] = field(default_factory=dict, init=False, repr=False, compare=False)
    _day_minutes: list[float] = field(default_factory=list, init=False, repr=False, compare=False)

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

    def _year(self, year: int) -> _Year:
        found = self._years.get(year)
        if found is None:
            found = self._years[year] = self._build_year(year)
        return found

    def _build_year(self, year: int) -> _Year:
        lo, hi = _us(datetime(year, 1, 1, tzinfo=UTC)), _us(datetime(year + 1, 1, 1, tzinfo=UTC))
        starts: list[int] = []
        ends: list[int] = []
        done = [0]
        day = date(year, 1, 1) - timedelta(days=2)  # local days whose windows may reach into the year
        while day <= date(year + 1, 1, 1):
            for a, b in self.windows(day):
                s, e = max(_us(a), lo), min(_us(b), hi)
                if e > s:
                    starts.append(s)
                    ends.append(e)
                    done.append(done[-1] + e - s)
            day += timedelta(days=1)
        return _Year(starts, ends, done)

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
        year = at.year
        target = self._year(year).before(_us(at)) + timedelta(minutes=minutes) // MICRO
        for _ in range(MAX_YEARS + 1):
            table = self._year(year)
            if target <= table.total:
                return EPOCH + table.instant_after(target) * MICRO
            target -= table.total
            year += 1
        raise NoWorkingTime("the calendar has no working time to add to")

    def between(self, a: datetime, b: datetime) -> float:
        """Business minutes from ``a`` to ``b`` (0 when ``b`` is not after ``a``)."""
        if b <= a:
            return 0.0
        ya, yb = _utc_year(a), _utc_year(b)
        worked = self._year(yb).before(_us(b)) - self._year(ya).before(_us(a))
        worked += sum((self._year(y).total for y in range(ya, yb)), 0)
        return worked / 60_000_000


ALWAYS = BusinessCalendar()  # 24/7 in UTC: wall-clock time

_DAY_SAMPLE = datetime(2026, 6, 8, tzinfo=UTC)  # a plain fortnight (no DST change) to measure a working day


def day_minutes(calendar: BusinessCalendar) -> float:
    """The business minutes of a full working day of ``calendar`` (1440 around the clock):
    what a "day" in a business-time span (``2d``) stands for. Computed once per calendar
    (14 ``between`` calls) and memoised on it: it sits on the filing path."""
    if not calendar._day_minutes:
        calendar._day_minutes.append(
            max(calendar.between(_DAY_SAMPLE + timedelta(days=k), _DAY_SAMPLE + timedelta(days=k + 1))
                for k in range(14)) or 24 * 60.0)
    return calendar._day_minutes[0]


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
