"""Normalisation: case and ё, tokens, word forms, keyboard layout, transliteration, typos."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kb.articles import Article
from kb.index import Index
from kb.matcher import Matcher
from kb.normalize import (
    is_generic,
    fold,
    script_of,
    stem,
    switch_layout,
    terms,
    is_translit_stopword,
    tokenize,
    transliterate,
    transliterations,
)


def test_fold_case_yo_and_accents() -> None:
    assert fold("ЁЛКА Учётная") == "елка учетная"
    assert fold("Café") == "cafe"
    assert fold("й") == "й"  # the breve of й is not an accent to strip


@pytest.mark.parametrize(("text", "expected"), [
    ("printer wont print", ["printer", "will", "not", "print"]),
    ("i cant see the share", ["i", "can", "not", "see", "the", "share"]),
    ("badge didnt work, shouldnt it", ["badge", "did", "not", "work", "should", "not", "it"]),
    ("cantina wontons", ["cantina", "wontons"]),  # only whole words
])
def test_negations_typed_without_the_apostrophe(text: str, expected: list[str]) -> None:
    assert tokenize(text) == expected


def test_urgency_and_nobody_are_generic_words() -> None:
    # like "не работает": in any topic's requests, so never the topic
    for word in ("urgent", "asap", "nobody", "срочно", "никто", "ктото"):  # "кто-то" tokenizes to "ктото" too
        assert is_generic(word), word


def test_tokenize_hyphens_and_contractions() -> None:
    assert tokenize("Wi-Fi") == ["wi", "fi", "wifi"]
    assert tokenize("I can't log in, it doesn't work") == [
        "i",
        "can",
        "not",
        "log",
        "in",
        "it",
        "does",
        "not",
        "work",
    ]
    assert tokenize("вай-фай!!! ...") == ["вай", "фай", "вайфай"]


@pytest.mark.parametrize(
    "forms",
    [
        ("пароль", "пароля", "паролем", "пароли"),
        ("принтер", "принтера", "принтеру", "принтеры"),
        ("отпуск", "отпуска", "отпуске"),
        ("учётная", "учетная"),
        ("password", "passwords"),
        ("printing", "prints", "printed"),
    ],
)
def test_word_forms_share_a_term(forms: tuple[str, ...]) -> None:
    assert len({stem(fold(f)) for f in forms}) == 1


def test_terms_drop_stop_words_keep_negation() -> None:
    assert terms("Привет! У меня не работает VPN") == ["не", "работа", "vpn"]
    assert "not" in terms("the vpn is not working")


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("ghbynth", "принтер"),
        ("gfhjkm", "пароль"),
        ("jngecr", "отпуск"),
        ("ddjl", "ввод"),
        ("щгедщщл", "outlook"),
        ("зфыыцщкв", "password"),
        ("j,jheljdfybt", "оборудование"),  # "," and ";" are Russian letters in that layout
    ],
)
def test_switch_layout(typed: str, meant: str) -> None:
    assert switch_layout(typed) == meant


def test_switch_layout_not_applicable() -> None:
    assert switch_layout("vpn-клиент") is None  # mixed scripts
    assert switch_layout("123") is None


# letters on keys that carry Latin letters (б, ю, ж, э, х, ъ sit on punctuation keys)
@given(st.text(alphabet="йцукенгшщзфывапролдячсмить", min_size=1, max_size=20))
def test_layout_round_trip(word: str) -> None:
    there = switch_layout(word)
    assert there is not None
    assert switch_layout(there) == word


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("впн", "vpn"),
        ("аутлук", "autluk"),
        ("parol", "парол"),
        ("otpusk", "отпуск"),
        ("zhurnal", "журнал"),
        ("123", None),
    ],
)
def test_transliterate(word: str, expected: str | None) -> None:
    assert transliterate(word) == expected


def test_script_of() -> None:
    assert script_of("не работает VPN") == "ru"
    assert script_of("vpn not working") == "en"
    assert script_of("123 !!!") is None


KB = [
    Article(
        "vpn",
        "VPN не подключается",
        "Перезапустите клиент.",
        "ru",
        ("vpn",),
        ("не работает впн", "vpn отваливается"),
    ),
    Article(
        "pwd",
        "Сброс пароля",
        "Откройте портал.",
        "ru",
        ("пароль",),
        ("забыл пароль", "как сбросить пароль"),
    ),
    Article(
        "printer",
        "Printer is not printing",
        "Check the queue.",
        "en",
        ("printer",),
        ("printer not working", "paper jam"),
    ),
    Article(
        "wifi",
        "Office Wi-Fi",
        "Join the Corp network.",
        "en",
        ("wifi",),
        ("wifi password", "no wireless connection"),
    ),
]


@pytest.fixture(scope="module")
def index() -> Index:
    return Index(KB)


def how(index: Index, text: str) -> list[tuple[str, str]]:
    return [(index.terms[t.term] if t.term >= 0 else "?", t.how) for t in index.analyze(text).terms]


def test_analyze_exact_and_word_forms(index: Index) -> None:
    assert how(index, "забыла пароля") == [("заб", "exact"), ("парол", "exact")]


def test_analyze_layout_slip(index: Index) -> None:
    assert how(index, "pf,sk gfhjkm") == [("заб", "layout"), ("парол", "layout")]
    assert index.analyze("pf,sk gfhjkm").text == "забыл пароль"


def test_analyze_transliteration(index: Index) -> None:
    assert how(index, "vpn впн")[1] == ("впн", "exact")  # both spellings are in this KB
    only_latin = Index([KB[2], Article("v", "VPN", "x", "en", (), ("vpn down",))])
    assert [(only_latin.terms[t.term], t.how) for t in only_latin.analyze("впн").terms] == [
        ("vpn", "translit")
    ]


def test_transliteration_without_the_soft_sign(index: Index) -> None:
    # "pisma" is "письма" and "bolnichniy" "больничный" with the signs left out, as most
    # people type Russian in Latin letters
    kb = Index([Article("m", "Не приходят письма", "x", "ru", (), ("больничный лист", "объявление"))])
    for word, term in (("pisma", "письм"), ("bolnichniy", "больничн"), ("obyavlenie", "объявлен")):
        found = kb.analyze(word).terms
        assert [(kb.terms[t.term], t.how) for t in found] == [(term, "translit")], word
    assert [t.how for t in kb.analyze("pismo1").terms] == ["unknown"]


def test_analyze_typos(index: Index) -> None:
    result = index.analyze("забыл пороль")
    assert [t.how for t in result.terms] == ["exact", "fuzzy"]
    typo = result.terms[1]
    assert index.terms[typo.term] == "парол"
    assert 0.3 < typo.quality < 1.0  # a typo is trusted less than the real word
    assert how(index, "pritner")[0] == ("printer", "fuzzy")
    assert how(index, "slon")[0] == ("?", "unknown")  # short and unlike anything: no guess


def test_analyze_split_word(index: Index) -> None:
    # "Wi-Fi" in the KB indexes "wi", "fi" and "wifi", so every spelling meets it
    for text in ("wifi", "wi-fi", "wi fi", "WiFi"):
        assert {t for t, _ in how(index, text)} & {"wifi", "wi"}, text
    joined_only = Index([Article("w", "Wifi", "x", "en", (), ("wifi down",))])
    assert [(joined_only.terms[t.term], t.how) for t in joined_only.analyze("wi fi").terms] == [
        ("wifi", "joined")
    ]


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("ЗАБЫЛ ПАРОЛЬ", "pwd"),
        ("забыла пароля", "pwd"),
        ("pf,sk gfhjkm", "pwd"),
        ("не работает впн", "vpn"),
        ("ne rabotaet vpn", "vpn"),
        ("pritner not printing", "printer"),
        ("wi fi password", "wifi"),
    ],
)
def test_matcher_survives_slips(text: str, slug: str) -> None:
    found = Matcher(KB).search(text)
    assert found and found[0].slug == slug


@pytest.mark.parametrize(
    "typo",
    ["pasword", "passwrod", "passsword", "passwerd", "pssword"],  # del, swap, ins, sub, del
)
def test_every_single_edit_is_found(typo: str) -> None:
    index = Index([Article("p", "Password reset", "x", "en", (), ("forgot password",))])
    [term] = index.analyze(typo).terms
    assert (index.terms[term.term], term.how) == ("password", "fuzzy")


def test_typo_lookup_ignores_far_words() -> None:
    index = Index([Article("p", "Password reset", "x", "en", (), ("forgot password",))])
    assert [t.how for t in index.analyze("passport").terms] == ["unknown"]


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("operaciya", ["операкия", "операция"]),  # a lone "c" is read both ways, "к" first
        ("stanciya", ["станкия", "станция"]),
        ("crm", ["крм", "црм"]),
        ("chek", ["чек"]),  # "ch" is "ч", not a lone "c"
        ("otpusk", ["отпуск"]),
        # usual Latin spellings of Russian endings get their own reading
        ("noviy", ["новиы", "новий"]),  # -ий / -ый: the same stem
        ("zakrylsya", ["закрылся"]),
        ("obnovlyaetsya", ["обновляеця", "обновляется"]),
        ("rabochye", ["рабоче", "рабочые"]),
        ("tvoy", ["твоы", "твой"]),
        ("впн", ["vpn"]),
        ("1234", []),
    ],
)
def test_transliterations(word: str, expected: list[str]) -> None:
    assert transliterations(word) == expected


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("dlya", True),  # для
        ("pro", True),  # про
        ("ot", True),  # от
        ("no", False),  # "но" in Latin letters, but an English negation first
        ("not", False),
        ("na", True),  # на
        ("otpusk", False),
        ("moy", True),  # мой, by its ending reading
        ("за", False),  # Cyrillic: already a stop word as typed
    ],
)
def test_is_translit_stopword(token: str, expected: bool) -> None:
    assert is_translit_stopword(token) is expected


def test_a_russian_request_typed_in_latin_letters_is_not_weighed_down_by_its_function_words() -> None:
    kb = [
        Article("lic", "Лицензия на программу", "Оформите заявку.", "ru", ("лицензия",),
                ("нужна лицензия", "продлить лицензию")),
        Article("trip", "Командировка", "Сдайте отчёт.", "ru", ("командировка",),
                ("как оформить командировку",)),
    ]
    index = Index(kb)
    # "dlya" is not an unknown word of the query (it would weigh like the rarest word)
    assert [t.text for t in index.analyze("licenziya dlya raboty").terms][:1] == ["лицензия"]
    assert all(t.text != "dlya" for t in index.analyze("licenziya dlya raboty").terms)
    found = Matcher(kb).search("nuzhna licenziya dlya programmy")
    assert found and found[0].slug == "lic"


def test_without_prefix_gives_every_rest_long_enough_longest_prefix_first() -> None:
    from kb.normalize import without_prefix

    assert without_prefix("недоплатили", 4) == ["платили"]  # "недо"; "на" does not start it
    assert without_prefix("переустановить", 4) == ["установить"]
    assert without_prefix("underpaid", 4) == ["paid", "derpaid"]  # "un" fits too; the index tries each
    assert without_prefix("repay", 4) == []  # "pay": too short a rest
    assert without_prefix("vpn", 1) == []
