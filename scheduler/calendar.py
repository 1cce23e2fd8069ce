"""Team calendars and business time.

A :class:`BusinessCalendar` is a time zone, working weekdays, one or more working
intervals a day (a lunch break splits the day) and holidays. Two operations are what
everything else uses:

- :meth:`BusinessCalendar.add` — the instant ``N`` business minutes after another;
- :meth:`BusinessCalendar.between` — the business minutes between two instants.

Both work on aware datetimes in any zone and answer in UTC. A day's working windows are
built in the calendar's own zone, so a DST change moves them with the wall clock (09:00
stays 09:00 local). Pure functions, no I/O: the SLA clock, the sweep, the digest and
shift-aware assignment all ask here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from bot.config import WEEKDAYS, CalendarConfig, Config

MAX_DAYS = 3660  # a calendar with no working time in ten years is treated as broken


class NoWorkingTime(ValueError):
    """The calendar has no working time in reach (no working days, all holidays)."""


@dataclass(frozen=True)
class BusinessCalendar:
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    working_days: frozenset[int] = frozenset(range(7))  # 0 = Monday
    intervals: tuple[tuple[time, time | None], ...] = ((time(0), None),)  # end None = midnight
    holidays: frozenset[date] = frozenset()

    # --- one day --------------------------------------------------------------------

    def is_working_day(self, day: date) -> bool:
        return day.weekday() in self.working_days and day not in self.holidays

    def windows(self, day: date) -> list[tuple[datetime, datetime]]:
        """The working windows of local ``day`` as UTC (start, end) pairs, in order."""
        if not self.is_working_day(day):
            return []
        out: list[tuple[datetime, datetime]] = []
        for start, end in self.intervals:
            a = datetime.combine(day, start, tzinfo=self.zone).astimezone(UTC)
            if end is None:
                b = datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.zone).astimezone(UTC)
            else:
                b = datetime.combine(day, end, tzinfo=self.zone).astimezone(UTC)
            if b > a:
                out.append((a, b))
        return out

    def _days_from(self, instant: datetime) -> Iterator[date]:
        day = instant.astimezone(self.zone).date() - timedelta(days=1)
        for _ in range(MAX_DAYS):
            yield day
            day += timedelta(days=1)

    # --- the two operations -----------------------------------------------------------

    def is_working(self, instant: datetime) -> bool:
        local_day = instant.astimezone(self.zone).date()
        at = instant.astimezone(UTC)
        return any(a <= at < b for d in (local_day - timedelta(days=1), local_day)
                   for a, b in self.windows(d))

    def add(self, start: datetime, minutes: float) -> datetime:
        """The instant ``minutes`` business minutes after ``start`` (UTC).

        ``add(start, 0)`` is ``start`` itself (even outside working time)."""
        if minutes <= 0:
            return start.astimezone(UTC)
        left = timedelta(minutes=minutes)
        at = start.astimezone(UTC)
        for day in self._days_from(at):
            for a, b in self.windows(day):
                if b <= at:
                    continue
                s = max(a, at)
                if left <= b - s:
                    return s + left
                left -= b - s
        raise NoWorkingTime("the calendar has no working time to add to")

    def between(self, a: datetime, b: datetime) -> float:
        """Business minutes from ``a`` to ``b`` (0 when ``b`` is not after ``a``)."""
        a, b = a.astimezone(UTC), b.astimezone(UTC)
        if b <= a:
            return 0.0
        total = timedelta()
        last = b.astimezone(self.zone).date()
        for day in self._days_from(a):
            if day > last:
                break
            for s, e in self.windows(day):
                lo, hi = max(s, a), min(e, b)
                if hi > lo:
                    total += hi - lo
        return total.total_seconds() / 60


ALWAYS = BusinessCalendar()  # 24/7 in UTC: wall-clock time


def _parse_hours(spec: str) -> tuple[tuple[time, time | None], ...]:
    out: list[tuple[time, time | None]] = []
    for part in spec.split(","):
        start_s, end_s = (p.strip() for p in part.split("-"))
        end: time | None = None if end_s in ("24:00", "00:00") else time.fromisoformat(end_s)
        out.append((time.fromisoformat(start_s), end))
    return tuple(out)


def from_config(calendar: CalendarConfig) -> BusinessCalendar:
    return _from_config(calendar.timezone, tuple(calendar.working_days), calendar.hours,
                        frozenset(calendar.holidays))


@lru_cache(maxsize=256)
def _from_config(zone: str, days: tuple[str, ...], hours: str, holidays: frozenset[date]) -> BusinessCalendar:
    return BusinessCalendar(zone=ZoneInfo(zone), working_days=frozenset(WEEKDAYS.index(d) for d in days),
                            intervals=_parse_hours(hours), holidays=holidays)


def for_team(config: Config, team: str | None) -> BusinessCalendar:
    """The team's business calendar; a team without one works around the clock."""
    conf = config.teams.get(team) if team else None
    if conf is None or conf.calendar is None or conf.calendar not in config.calendars:
        return ALWAYS
    return from_config(config.calendars[conf.calendar])


def for_person(config: Config, person: str | None, team: str | None) -> BusinessCalendar:
    """A person's working time in ``team``: their own shift when configured, else the team's."""
    return for_team(config, team)


# --- the earlier API (kept for callers that only ask "is it working time now?") ---------

def working_hours(calendar: CalendarConfig) -> tuple[time, time]:
    """The calendar's (start, end) of a working day, as local times (first interval)."""
    start, end = _parse_hours(calendar.hours)[0]
    return start, end or time(23, 59, 59, 999999)


def is_working_time(calendar: CalendarConfig, instant: datetime) -> bool:
    """True when ``instant`` (aware) is on a working day, not a holiday, within the hours.

    Days, holidays and hours are read in the calendar's own time zone; the end of
    the working hours is exclusive.
    """
    return from_config(calendar).is_working(instant)
