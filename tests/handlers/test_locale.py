"""Every card and message is written in its reader's language (issue 7, section 3)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.config import Config
from tests.support.clock import FakeClock
from tests.support.desk import Desk, Received
from tests.support.scenarios import make_config, open_desk, open_ticket

PRINTER = "принтер не печатает"


def cards(msgs: list[Received], number: int) -> list[Received]:
    return [m for m in msgs if m.ticket_id == number]


def boris_speaks(locale: str) -> Any:
    def change(data: dict[str, Any]) -> None:
        data["people"]["boris"]["locale"] = locale

    return change


@pytest.mark.parametrize(("locale", "claim", "escalate", "word"), [
    ("ru", "Взять", "Эскалировать", "Статус"),
    ("en", "Claim", "Escalate", "Status"),
])
async def test_card_edits_stay_in_the_agents_language(
    db_url: str, clock: FakeClock, locale: str, claim: str, escalate: str, word: str
) -> None:
    config: Config = make_config(boris_speaks(locale))
    async with open_desk(config, db_url, clock) as desk:
        number = await open_ticket(desk, "anna", PRINTER)
        first = cards(desk.new("boris"), number)
        assert len(first) == 1 and word in first[0].text
        await desk.press("boris", claim)
        claimed = [m for m in cards(desk.new("boris"), number) if m.edited]
        assert claimed and all(word in m.text for m in claimed)
        await desk.press("boris", escalate)
        edited = [m for m in cards(desk.new("boris"), number) if m.edited]
        assert edited, "boris's card was not edited after the escalation"
        assert all(word in m.text for m in edited), [m.text for m in edited]
        # vera (en) reads the L2 card in English whatever boris speaks
        l2 = cards(desk.new("vera"), number)
        assert l2 and all("Status" in m.text for m in l2)


# --- Babel: times, durations, plural forms, usage lines ---------------------------------

from datetime import UTC, datetime  # noqa: E402

from handlers.cards import format_time  # noqa: E402
from handlers.lead import human_duration  # noqa: E402
from handlers.texts import localize_usage, plural  # noqa: E402


def test_times_are_in_the_readers_locale_and_the_team_time_zone(config: Config) -> None:
    moment = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    assert format_time(moment, config, "ru", team="it") == "2 дек. 13:00 MSK"
    assert format_time(moment, config, "en", team="it") == "Dec 2 1:00\u202fPM MSK"


def test_team_calendar_time_zone_wins_over_the_desk_default() -> None:
    def berlin(data: dict[str, Any]) -> None:
        data["calendars"]["berlin"] = {"timezone": "Europe/Berlin"}
        data["teams"]["hr"]["calendar"] = "berlin"

    config = make_config(berlin)
    moment = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    assert format_time(moment, config, "en", team="hr").endswith("11:00\u202fAM CET")
    assert format_time(moment, config, "en", team="it").endswith("1:00\u202fPM MSK")


@pytest.mark.parametrize(("seconds", "ru", "en"), [
    (0, "0 мин", "0m"), (600, "10 мин", "10m"), (7500, "2 ч 5 мин", "2h 5m"), (3 * 86400 + 3600, "3 д. 1 ч", "3d 1h"),
])
def test_durations_use_the_readers_units(seconds: int, ru: str, en: str) -> None:
    assert human_duration(seconds, "ru") == ru
    assert human_duration(seconds, "en") == en


@pytest.mark.parametrize(("n", "ru", "en"), [
    (1, "1 день", "1 day"), (2, "2 дня", "2 days"), (5, "5 дней", "5 days"), (21, "21 день", "21 days"),
])
def test_plural_forms_follow_cldr_rules(n: int, ru: str, en: str) -> None:
    assert plural("n_days", n, "ru") == ru
    assert plural("n_days", n, "en") == en


def test_usage_lines_name_arguments_in_the_readers_language() -> None:
    assert localize_usage("/reply N text", "ru") == "/reply N текст"
    assert localize_usage("/stats [days 1..366]", "ru") == "/stats [дней 1..366]"
    assert localize_usage("/reply N text", "en") == "/reply N text"
