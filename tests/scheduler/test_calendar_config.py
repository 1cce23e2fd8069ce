"""Calendar configuration: working windows, holidays by country, team overrides, agent shifts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.config import ConfigError, parse_hours
from scheduler.calendar import for_person, for_team
from tests.support.scenarios import make_config

MOSCOW = ZoneInfo("Europe/Moscow")


def problems_of(*changes: Callable[[dict[str, Any]], None]) -> dict[str, str]:
    with pytest.raises(ConfigError) as err:
        make_config(*changes)
    return dict(err.value.problems)


def moscow(**fields: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data["calendars"]["moscow"].update(fields)

    return change


def team(key: str, **fields: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data["teams"][key].update(fields)

    return change


def person(key: str, **fields: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data["people"][key].update(fields)

    return change


def msk(*args: int) -> datetime:
    return datetime(*args, tzinfo=MOSCOW)


# --- working windows ------------------------------------------------------------------------------

def test_hours_take_several_windows_as_text_or_a_list() -> None:
    assert parse_hours("09:00-13:00, 14:00-18:00") == [(540, 780), (840, 1080)]
    listed = make_config(moscow(hours=["09:00-13:00", "14:00-18:00"]))
    assert listed.calendars["moscow"].hours == "09:00-13:00, 14:00-18:00"
    assert parse_hours("00:00-24:00") == [(0, 1440)]
    assert parse_hours("18:00-22:00, 23:00-07:00+1") == [(1080, 1320), (1380, 1860)]


@pytest.mark.parametrize(("hours", "message"), [
    ("14:00-18:00, 09:00-13:00", "must be in order and must not overlap"),
    ("09:00-14:00, 13:00-18:00", "must be in order and must not overlap"),
    ("18:00-09:00", "start must be before end"),
    ("9 to 5", "expected HH:MM-HH:MM"),
    ("09:00-25:00", "expected HH:MM-HH:MM"),
    ("22:00-06:00+1, 07:00-09:00", "only the last window may end the next day"),
    ("05:00-12:00, 22:00-06:00+1", "overlaps the next day's first window"),
    ("", "at least one working window"),
])
def test_bad_hours_are_reported_with_the_reason(hours: str, message: str) -> None:
    assert message in problems_of(moscow(hours=hours))["calendars.moscow.hours"]


def test_holidays_country_and_subdivision_are_checked() -> None:
    assert "unknown country code 'XX'" in problems_of(moscow(holidays_country="XX"))["calendars.moscow.holidays_country"]
    problem = problems_of(moscow(holidays_country=None, holidays_subdivision="ZZ"))["calendars.moscow"]
    assert "needs holidays_country" in problem
    problem = problems_of(moscow(holidays_subdivision="ZZ", holidays_country="DE"))["calendars.moscow"]
    assert "unknown subdivision 'ZZ' of DE" in problem and "BY" in problem


def test_a_date_cannot_be_both_a_holiday_and_a_working_date() -> None:
    problem = problems_of(moscow(holidays=["2027-01-11"], working_dates=["2027-01-11"]))["calendars.moscow"]
    assert "2027-01-11" in problem


def test_the_sample_moscow_calendar_uses_russian_holidays() -> None:
    cal = for_team(make_config(), "it")
    assert not cal.is_working(msk(2027, 1, 5, 10, 0))  # New Year holidays
    assert cal.is_working(msk(2027, 1, 11, 10, 0))


# --- team overrides -------------------------------------------------------------------------------

def test_a_team_overrides_fields_of_its_calendar() -> None:
    config = make_config(team("legal", calendar_overrides={"hours": "10:00-19:00", "timezone": "Asia/Yekaterinburg"}))
    legal, it = for_team(config, "legal"), for_team(config, "it")
    assert str(legal.zone) == "Asia/Yekaterinburg" and str(it.zone) == "Europe/Moscow"
    # 09:30 in Moscow is 11:30 in Yekaterinburg: legal works, the rest of Moscow too
    assert legal.is_working(msk(2026, 12, 1, 9, 30))
    # 17:30 Moscow = 19:30 Yekaterinburg: legal has gone home; IT has not
    assert not legal.is_working(msk(2026, 12, 1, 17, 30)) and it.is_working(msk(2026, 12, 1, 17, 30))
    assert not legal.is_working(msk(2027, 1, 5, 10, 0))  # the holidays are kept


def test_overrides_need_a_calendar_and_must_be_valid() -> None:
    problems = problems_of(team("it", calendar=None, calendar_overrides={"hours": "10:00-19:00"}))
    assert "set teams.it.calendar too" in problems["teams.it.calendar_overrides"]
    problems = problems_of(team("it", calendar_overrides={"hours": "19:00-10:00"}))
    assert "start must be before end" in problems["teams.it.calendar_overrides.hours"]
    problems = problems_of(team("it", calendar_overrides={"hours": "10:00-19:00", "weekends": ["sat"]}))
    assert problems["teams.it.calendar_overrides.weekends"] == "unknown key"


# --- agent shifts -------------------------------------------------------------------------------

def test_an_agent_shift_replaces_the_team_hours_for_that_agent() -> None:
    config = make_config(person("boris", shift={"hours": "14:00-23:00", "working_days": ["sat", "sun"]}))
    boris, vera = for_person(config, "boris", "it"), for_person(config, "vera", "it")
    saturday_evening = msk(2026, 12, 5, 20, 0)
    assert boris.is_working(saturday_evening) and not vera.is_working(saturday_evening)
    assert not boris.is_working(msk(2026, 12, 1, 10, 0))  # a Tuesday morning: not his days
    assert vera == for_team(config, "it")  # no shift: the team's calendar
    assert not boris.is_working(msk(2027, 1, 2, 20, 0))  # a Saturday in the New Year holidays


def test_an_agent_shift_may_be_in_another_zone() -> None:
    config = make_config(person("vera", shift={"timezone": "Europe/London", "hours": "09:00-17:00"}))
    vera = for_person(config, "vera", "it")
    london_nine = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # 12:00 in Moscow
    assert vera.is_working(london_nine)
    assert not vera.is_working(london_nine - datetime.resolution)


def test_a_bad_shift_is_reported_under_the_person() -> None:
    problems = problems_of(person("boris", shift={"hours": "09:00-13:00, 12:00-18:00"}))
    assert "must not overlap" in problems["people.boris.shift.hours"]
    problems = problems_of(person("boris", shift={"holidays_subdivision": "ZZ"}))
    assert "unknown subdivision 'ZZ' of RU" in problems["people.boris.shift"]  # checked over the team's calendar


def test_times_are_shown_in_the_overridden_zone_of_a_team() -> None:
    from handlers.cards import format_time

    config = make_config(team("legal", calendar_overrides={"timezone": "Asia/Yekaterinburg"}))
    due = msk(2026, 12, 2, 13, 0)
    assert format_time(due, config, "en", team="legal").startswith("Dec 2 3:00")  # UTC+5
    assert format_time(due, config, "en", team="it").startswith("Dec 2 1:00")
