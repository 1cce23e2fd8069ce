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
        await desk.click("boris", "esc_skip", number)  # no reason: escalate now
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


# --- whole sessions: no word of the other language --------------------------------------

import re  # noqa: E402

from handlers.texts import TEXTS  # noqa: E402

_PLACEHOLDER = re.compile(r"\{[^}]*\}")
_COMMAND = re.compile(r"/[a-z]+")
_LATIN = re.compile(r"[A-Za-z]{3,}")
_CYRILLIC = re.compile(r"[А-Яа-яЁё]{3,}")
# Names, acronyms and product words that are the same in both languages.
ALLOWED = {"vpn", "csat", "sla", "kb", "anna", "ivanova", "boris", "petrov", "vera", "sokolova",
           "gleb", "orlov", "msk", "mfa", "crm", "wifi", "wi", "fi"}


def english_words() -> set[str]:
    """Latin words of the English texts (commands, placeholders and shared words excepted)."""
    words: set[str] = set()
    for entry in TEXTS.values():
        if "en" in entry:
            bare = _COMMAND.sub(" ", _PLACEHOLDER.sub(" ", entry["en"]))
            words |= {w.lower() for w in _LATIN.findall(bare)}
    return words - ALLOWED


def russian_words() -> set[str]:
    words: set[str] = set()
    for entry in TEXTS.values():
        if "ru" in entry:
            words |= {w.lower() for w in _CYRILLIC.findall(_PLACEHOLDER.sub(" ", entry["ru"]))}
    return words


def everyone(locale: str) -> Any:
    def change(data: dict[str, Any]) -> None:
        for person in data["people"].values():
            person["locale"] = locale

    return change


async def play_session(desk: Desk, subject: str) -> list[str]:
    """anna files, boris claims, replies, resolves; anna rates; then the read-only commands."""
    number = await open_ticket(desk, "anna", subject)
    claim = next(b for b in desk.last_with_buttons("boris").buttons if b.action == "claim")
    await desk.click("boris", claim.action, claim.ticket_id)
    await desk.say("boris", f"/reply {number} 1234")
    await desk.say("anna", f"/reply {number} 5678")
    await desk.say("boris", f"/note {number} 999")
    await desk.say("boris", f"/resolve {number} 42")
    rate = [b for b in desk.last_with_buttons("anna").buttons if b.action == "rate"]
    if rate:
        await desk.click("anna", "rate", number, rate[-1].value)
    for who, command in [("anna", "/my"), ("anna", f"/ticket {number}"), ("boris", "/queue"),
                         ("boris", "/mine"), ("boris", f"/ticket {number}"), ("boris", "/stats"),
                         ("boris", "/take"), ("boris", "/reply"), ("boris", "/stats x"), ("anna", "/help"),
                         ("boris", "/help"), ("anna", "/lang")]:
        await desk.say(who, command)
    return [m.text + " " + " ".join(m.labels()) for who in ("anna", "boris") for m in desk.received(who)]


async def test_a_russian_session_has_no_english_word(db_url: str, clock: FakeClock) -> None:
    async with open_desk(make_config(everyone("ru")), db_url, clock) as desk:
        seen = await play_session(desk, "принтер не печатает")
    english = english_words()
    leaks = {(w, text) for text in seen for w in _LATIN.findall(_COMMAND.sub(" ", text)) if w.lower() in english}
    assert not leaks, sorted(leaks)
    units = [text for text in seen if re.search(r"\d+[mhd]\b", text)]  # English duration units ("0m")
    assert not units, units
    assert any("статистика за последние 7 дней" in text for text in seen)
    assert any("(заметка)" in text for text in seen)


async def test_an_english_session_has_no_russian_word(db_url: str, clock: FakeClock) -> None:
    async with open_desk(make_config(everyone("en")), db_url, clock) as desk:
        seen = await play_session(desk, "printer does not print")
    russian = russian_words()
    leaks = {(w, text) for text in seen for w in _CYRILLIC.findall(text) if w.lower() in russian}
    assert not leaks, sorted(leaks)
