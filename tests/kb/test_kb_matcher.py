"""Matcher behaviour: ranking, language preference, threshold, feedback, reload."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from kb.articles import Article
from kb.matcher import DEFAULT_THRESHOLD, Matcher, Suggestion

WriteArticle = Callable[..., Path]


def first(matcher: Matcher, text: str, **kw: object) -> str | None:
    found = matcher.search(text, **kw)  # type: ignore[arg-type]
    return found[0].slug if found else None


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("не работает VPN", "vpn-connect-ru"),
        ("vpn not working", "vpn-connect-en"),
        ("забыл пароль", "password-reset-ru"),
        ("forgot my password", "password-reset-en"),
        ("как оформить отпуск", "vacation-request-ru"),
        ("where is my payslip", "payslip-en"),
        ("принтер не печатает", "printer-ru"),
        ("I lost my badge", "office-pass-en"),
        ("забронировать переговорку", "meeting-room-booking-ru"),
    ],
)
def test_finds_the_right_article(sample_matcher: Matcher, text: str, slug: str) -> None:
    assert first(sample_matcher, text) == slug


@pytest.mark.parametrize(
    "text",
    ["what is the capital of France", "купить слона", "", "   ", "!!!", "asdkjh qwpoeiru"],
)
def test_nonsense_gets_no_suggestion(sample_matcher: Matcher, text: str) -> None:
    assert sample_matcher.search(text) == []


def test_results_are_sorted_limited_and_above_threshold(sample_matcher: Matcher) -> None:
    found = sample_matcher.search("пароль от wifi", limit=2)
    assert 1 <= len(found) <= 2
    assert all(isinstance(s, Suggestion) for s in found)
    assert [s.score for s in found] == sorted((s.score for s in found), reverse=True)
    assert all(DEFAULT_THRESHOLD <= s.score <= 1.0 for s in found)
    assert sample_matcher.search("vpn", limit=0) == []


def test_lang_hint_prefers_same_language(sample_matcher: Matcher) -> None:
    assert first(sample_matcher, "VPN", lang="ru") == "vpn-connect-ru"
    assert first(sample_matcher, "VPN", lang="en") == "vpn-connect-en"
    # a hint is a preference, not a filter: an English-only match is still found
    assert first(sample_matcher, "GlobalProtect connection failed", lang="ru") == "vpn-connect-en"


def test_threshold_filters(sample_matcher: Matcher) -> None:
    articles = sample_matcher.articles
    strict = Matcher(articles, threshold=0.99)
    lax = Matcher(articles, threshold=0.0)
    text = "vpn keeps disconnecting at home"
    assert all(s.score >= 0.99 for s in strict.search(text))
    assert len(lax.search(text, limit=10)) >= len(sample_matcher.search(text, limit=10))
    with pytest.raises(ValueError):
        Matcher(articles, threshold=1.5)


def test_article_lookup(sample_matcher: Matcher) -> None:
    art = sample_matcher.article("vpn-connect-en")
    assert art is not None and art.lang == "en"
    assert sample_matcher.article("nope") is None


def test_empty_kb() -> None:
    matcher = Matcher([])
    assert matcher.search("vpn") == []
    assert matcher.article("x") is None


def _two_close_articles() -> list[Article]:
    return [
        Article(
            "monitor",
            "External monitor is not detected",
            "Check the cable.",
            "en",
            ("monitor", "display"),
            ("second screen not working", "monitor shows no signal"),
        ),
        Article(
            "docking",
            "Docking station problems",
            "Re-plug the dock.",
            "en",
            ("dock", "usb"),
            ("dock not working", "usb ports on the dock dead"),
        ),
    ]


def test_feedback_solved_nudges_up_for_similar_queries() -> None:
    matcher = Matcher(_two_close_articles(), threshold=0.0)
    query = "screen on the dock not working"
    before = {s.slug: s.score for s in matcher.search(query, limit=5)}
    matcher.record_feedback("screen on the dock is not working", "monitor", solved=True)
    after = {s.slug: s.score for s in matcher.search(query, limit=5)}
    assert after["monitor"] > before["monitor"]
    assert after["docking"] == before["docking"]
    # an unrelated query is unaffected
    unrelated = "usb ports dead"
    assert matcher.search(unrelated) == Matcher(_two_close_articles(), threshold=0.0).search(
        unrelated
    )


def test_feedback_not_solved_nudges_down_and_is_bounded() -> None:
    matcher = Matcher(_two_close_articles(), threshold=0.0)
    query = "dock not working"
    base = {s.slug: s.score for s in matcher.search(query, limit=5)}
    for _ in range(50):
        matcher.record_feedback(query, "docking", solved=False)
    after = {s.slug: s.score for s in matcher.search(query, limit=5)}
    assert after["docking"] < base["docking"]
    assert base["docking"] - after["docking"] <= 0.2 + 1e-9


def test_feedback_can_change_the_order() -> None:
    matcher = Matcher(_two_close_articles(), threshold=0.0)
    query = "second screen on dock not working"
    assert first(matcher, query) is not None
    loser = matcher.search(query, limit=2)[-1].slug
    for _ in range(5):
        matcher.record_feedback(query, loser, solved=True)
    assert first(matcher, query) == loser


def test_reload_if_changed(write_article: WriteArticle, tmp_path: Path) -> None:
    path = write_article("vpn-en")
    matcher = Matcher.from_dir(tmp_path)
    assert matcher.reload_if_changed() is False
    assert first(matcher, "printer jammed") is None

    write_article(
        "printer-en",
        title="Printer jammed",
        questions=("paper jam", "printer stuck"),
        tags=("printer",),
        body="Open the tray.",
    )
    assert matcher.reload_if_changed() is True
    assert first(matcher, "printer jammed") == "printer-en"
    assert matcher.reload_if_changed() is False

    # an edit of an existing file (same size, new mtime) is picked up too
    path.write_text(
        path.read_text(encoding="utf-8").replace("VPN does", "VPN won't"), encoding="utf-8"
    )
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    assert matcher.reload_if_changed() is True
    assert matcher.article("vpn-en").title == "VPN won't not connect"  # type: ignore[union-attr]

    path.unlink()
    assert matcher.reload_if_changed() is True
    assert matcher.article("vpn-en") is None


def test_reload_keeps_old_index_on_bad_file(
    write_article: WriteArticle, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_article("vpn-en")
    matcher = Matcher.from_dir(tmp_path)
    write_article("broken", text="---\ntitle: x\n---\n")
    assert matcher.reload_if_changed() is False
    assert "broken.md" in caplog.text
    assert first(matcher, "vpn not working") == "vpn-en"
    # the same broken state is not retried
    caplog.clear()
    assert matcher.reload_if_changed() is False
    assert caplog.text == ""


def test_reload_keeps_feedback(write_article: WriteArticle, tmp_path: Path) -> None:
    write_article("a", title="Monitor flickers", questions=("screen flickering", "display blinks"))
    write_article("b", title="Monitor is blank", questions=("screen black", "display no signal"))
    matcher = Matcher.from_dir(tmp_path, threshold=0.0)
    query = "monitor screen problem"
    before = {s.slug: s.score for s in matcher.search(query)}
    matcher.record_feedback(query, "b", solved=True)
    write_article("c", title="Keyboard broken", questions=("keys stuck", "keyboard dead"))
    assert matcher.reload_if_changed() is True
    after = {s.slug: s.score for s in matcher.search(query)}
    assert after["b"] > before["b"]


def test_matcher_from_articles_never_reloads(sample_matcher: Matcher) -> None:
    assert Matcher(sample_matcher.articles).reload_if_changed() is False
