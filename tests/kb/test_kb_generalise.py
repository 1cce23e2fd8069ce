"""Matching that generalises: each kind of miss, on small KBs written here.

Kinds: a common phrase ("не работает", "won't turn on") carrying the match; names,
acronyms and synonyms (front matter ``aliases``, the KB's ``synonyms.yaml``); second and
third suggestions a little below the threshold. Chatter is in test_kb_chatter.py.
"""

from __future__ import annotations

import pytest

from kb.articles import Article
from kb.matcher import Matcher


def art(slug: str, title: str, questions: tuple[str, ...], lang: str = "en", tags: tuple[str, ...] = (),
        body: str = "Do this and that.", aliases: tuple[str, ...] = ()) -> Article:
    return Article(slug=slug, title=title, body=body, lang=lang, tags=tags, questions=questions,
                   aliases=aliases)


def slugs(matcher: Matcher, text: str) -> list[str]:
    return [s.slug for s in matcher.search(text)]


# --- a common phrase must not carry the match ---------------------------------------------------------

HELPDESK = [
    art("notebook", "Notebook broken or needs replacing", (
        "my notebook is broken", "the notebook screen cracked", "need a new notebook",
    ), tags=("notebook", "hardware")),
    art("wireless", "Office wireless network", (
        "wireless doesn't work", "can't turn on wireless", "wireless keeps dropping",
    ), tags=("wireless",), body="Turn the wireless on and off on your notebook or phone."),
    art("tunnel", "Remote tunnel client doesn't work", (
        "tunnel doesn't work", "the tunnel won't start", "can't open the tunnel from home",
    ), tags=("tunnel",)),
    art("tunnel-ru", "Не работает туннель", (
        "не работает туннель", "туннель не запускается", "не могу подключить туннель из дома",
    ), lang="ru", tags=("туннель",)),
    art("network-ru", "Нет сети в офисе", (
        "не работает сеть", "пропала сеть на этаже", "сеть не работает в переговорке",
    ), lang="ru", tags=("сеть",)),
]


@pytest.fixture(scope="module")
def helpdesk() -> Matcher:
    return Matcher(HELPDESK)


@pytest.mark.parametrize("text", [
    "spreadsheet app doesn't work", "the fridge won't start", "can't open the blinds",
    "не работает кулер", "не могу работать, не запускается калькулятор", "не работает",
    "nothing works at all", "всё сломалось",
])
def test_an_unknown_thing_plus_a_common_phrase_gets_nothing(helpdesk: Matcher, text: str) -> None:
    assert slugs(helpdesk, text) == []


@pytest.mark.parametrize(("text", "slug"), [
    ("my notebook won't turn on", "notebook"),
    ("у всех в отделе не работает сеть", "network-ru"),
    ("с утра не запускается туннель", "tunnel-ru"),
    ("wireless doesn't work again", "wireless"),
])
def test_the_specific_word_decides(helpdesk: Matcher, text: str, slug: str) -> None:
    assert slugs(helpdesk, text)[:1] == [slug]


def test_the_common_phrase_still_helps_to_rank(helpdesk: Matcher) -> None:
    # both mention the notebook; the one about it not working comes first
    assert slugs(helpdesk, "notebook broken")[:1] == ["notebook"]
