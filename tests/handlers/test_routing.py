"""Routing rules: the category a request is about and how urgent it is (sample config)."""

from __future__ import annotations

import pytest

from bot.config import Config
from handlers.routing import guess_category, infer_priority, keyword_hits


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # exact keywords, any case
        ("не работает VPN", "network"),
        ("Outlook не открывается", "software"),
        ("нужен больничный", "leave"),
        # word forms
        ("нет принтера на третьем этаже", "hardware"),
        ("интернета нет с утра", "network"),
        ("forgot my passwords", "access"),
        ("когда отпуска?", "leave"),
        ("не могу подключиться к сетью", "network"),
        # typos
        ("printr is jammed", "hardware"),
        ("pasword expired", "access"),
        ("outlok crashes on start", "software"),
        ("зорплата не пришла", "payroll"),
        # ё and е are the same letter; hyphenated words; phrases
        ("учетка заблокирована", "access"),
        ("Учётка заблокирована", "access"),
        ("wi-fi не ловит", "network"),
        ("need a day off on Friday", "leave"),
        # several keywords of one category add up
        ("ноутбук не видит принтер", "hardware"),
    ],
)
def test_guess_category(config: Config, text: str, category: str) -> None:
    assert guess_category(text, config) == category


@pytest.mark.parametrize(
    "text",
    [
        "VPN и пароль",  # network 1 : access 1 — a tie is not a guess
        "не приходит зарплата в отпуске",  # payroll 1 : leave 1
        "привет, у меня вопрос",  # nothing matches
        "",
        "house",  # close to "mouse", but not close enough
        "vpns",  # short keywords (≤ 3 letters) match exactly only
    ],
)
def test_guess_category_none_on_tie_or_no_match(config: Config, text: str) -> None:
    assert guess_category(text, config) is None


def test_keyword_hits_counts_distinct_keywords(config: Config) -> None:
    keywords = config.categories["hardware"].keywords
    assert keyword_hits("принтер, принтер, принтер", keywords) == 1
    assert keyword_hits("монитор и клавиатура", keywords) == 2
    assert keyword_hits("кофемашина", keywords) == 0


@pytest.mark.parametrize(
    ("text", "priority"),
    [
        ("срочно", "urgent"),
        ("СРОЧНО!!! всё упало", "urgent"),
        ("срочная задача", "urgent"),  # word form
        ("Urgent: printer", "urgent"),
        ("the whole team is offline", "urgent"),  # phrase
        ("у всех не работает почта", "urgent"),
        ("авария на сервере", "urgent"),
        ("asap please", "high"),
        ("не могу работать без VPN", "high"),
        ("can't work since morning", "high"),
        ("блокирует релиз", "high"),
        # the most urgent match wins
        ("срочно, не могу работать", "urgent"),
        ("asap, outage", "urgent"),
        # nothing urgent: the configured default
        ("просто вопрос про отпуск", "normal"),
        ("", "normal"),
    ],
)
def test_infer_priority(config: Config, text: str, priority: str) -> None:
    assert infer_priority(text, config) == priority


def test_infer_priority_falls_back_to_the_configured_default(config: Config) -> None:
    priorities = {
        key: p.model_copy(update={"default": key == "low"}) for key, p in config.priorities.items()
    }
    other = config.model_copy(update={"priorities": priorities})
    assert infer_priority("просто вопрос", other) == "low"
    assert infer_priority("срочно", other) == "urgent"


@pytest.mark.parametrize("text", ["не срочно, когда будет время", "несрочно: обновить Zoom"])
def test_negated_urgency_is_not_urgent(config: Config, text: str) -> None:
    assert infer_priority(text, config) != "urgent"


def test_team_is_not_ms_teams(config: Config) -> None:
    assert guess_category("the whole team cannot log in", config) != "software"
