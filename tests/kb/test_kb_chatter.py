"""Chatter: one detector (kb.chatter) for the matcher and conversation routing."""

from __future__ import annotations

import pytest

from kb import Matcher, default_kb_dir
from kb.chatter import is_chatter


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher.from_dir(default_kb_dir())


CHATTER = [
    "спасибо, всё работает", "ok thanks", "👍", "ок", "понял, спасибо", "+", "🙏🙏",
    "Добрый вечер!", "hey there", "great, works now", "супер, заработало", "thanks for the help",
    # pings of the bot itself
    "hello? anybody there", "r u a robot", "бот, ты здесь?", "ау, есть кто живой", "алло",
    # sign-offs
    "ну всё, пока", "до свидания!", "bye bye", "ok goodbye",
]
REQUESTS = [
    "спасибо, но не работает vpn", "thanks, but the printer is still offline", "не работает",
    "nothing works", "help", "привет, забыл пароль", "ok how do I book a room", "2fa",
    "бот не отвечает на мои кнопки", "is anyone there who can unlock my account", "кто тут выдаёт ноутбуки",
    "пока не могу зайти в почту", "нет связи в переговорке",
]


@pytest.mark.parametrize("text", CHATTER)
def test_chatter_is_detected_and_gets_no_suggestion(matcher: Matcher, text: str) -> None:
    assert is_chatter(text)
    assert matcher.search(text) == []


@pytest.mark.parametrize("text", REQUESTS)
def test_a_request_with_polite_words_is_not_chatter(text: str) -> None:
    assert not is_chatter(text)


def test_thanks_with_a_request_still_finds_the_article(matcher: Matcher) -> None:
    assert [s.slug for s in matcher.search("спасибо, но не работает vpn")][:1] == ["vpn-connect-ru"]
