"""Loading KB articles: the bundled sample KB and what a bad file reports."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from kb.articles import Article, default_kb_dir, load_articles
from kb.errors import KbError

WriteArticle = Callable[..., Path]


def test_load_good_article(write_article: WriteArticle, tmp_path: Path) -> None:
    write_article("vpn-en", tags=("VPN", "network"))
    [art] = load_articles(tmp_path)
    assert art == Article(
        slug="vpn-en",
        title="VPN does not connect",
        body="Restart the VPN client.",
        lang="en",
        tags=("vpn", "network"),
        questions=("vpn not working", "can't connect to vpn"),
    )


def test_tags_and_questions_are_optional(write_article: WriteArticle, tmp_path: Path) -> None:
    write_article("bare", tags=(), questions=())
    [art] = load_articles(tmp_path)
    assert art.tags == () and art.questions == ()


def test_articles_sorted_by_slug_and_non_md_ignored(
    write_article: WriteArticle, tmp_path: Path
) -> None:
    write_article("b-article")
    write_article("a-article")
    (tmp_path / "notes.txt").write_text("not an article", encoding="utf-8")
    assert [a.slug for a in load_articles(tmp_path)] == ["a-article", "b-article"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("no front matter here", "missing YAML front matter"),
        ("---\ntitle: [unclosed\nlang: en\n---\nbody\n", "bad YAML"),
        ("---\n- just\n- a list\n---\nbody\n", "must be a mapping"),
        ("---\nlang: en\n---\nbody\n", "'title' is missing"),
        ("---\ntitle: '  '\nlang: en\n---\nbody\n", "'title' is missing"),
        ("---\ntitle: T\n---\nbody\n", "'lang' must be one of ru, en"),
        ("---\ntitle: T\nlang: de\n---\nbody\n", "got 'de'"),
        ("---\ntitle: T\nlang: en\ntags: vpn\n---\nbody\n", "'tags' must be a list"),
        ("---\ntitle: T\nlang: en\nquestions: [ok, [nested]]\n---\nbody\n", "'questions[1]'"),
        ("---\ntitle: T\nlang: en\nquestions: ['', x]\n---\nbody\n", "'questions[0]' is empty"),
        ("---\ntitle: T\nlang: en\nquestion: [typo]\n---\nbody\n", "unknown front matter key"),
        ("---\ntitle: T\nlang: en\n---\n\n", "body (the answer) is empty"),
    ],
)
def test_bad_file_names_file_and_problem(
    write_article: WriteArticle, tmp_path: Path, text: str, expected: str
) -> None:
    write_article("good")
    write_article("broken", text=text)
    with pytest.raises(KbError) as info:
        load_articles(tmp_path)
    assert "broken.md" in str(info.value)
    assert expected in str(info.value)


def test_bad_slug_file_name(write_article: WriteArticle, tmp_path: Path) -> None:
    write_article("Has Spaces")
    with pytest.raises(KbError, match="Has Spaces.md: file name must be a slug"):
        load_articles(tmp_path)


def test_slug_keeps_case_and_punctuation(write_article: WriteArticle, tmp_path: Path) -> None:
    # BANKING77 intent names used as slugs, as they are
    write_article("Refund_not_showing_up")
    write_article("reverted_card_payment?")
    assert [a.slug for a in load_articles(tmp_path)] == [
        "Refund_not_showing_up",
        "reverted_card_payment?",
    ]


def test_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "latin1.md").write_bytes("---\ntitle: caf\xe9\n".encode("latin-1"))
    with pytest.raises(KbError, match="latin1.md: not valid UTF-8"):
        load_articles(tmp_path)


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(KbError, match="does not exist"):
        load_articles(tmp_path / "nope")


def test_bundled_sample_kb() -> None:
    articles = load_articles(default_kb_dir())
    assert len(articles) >= 24
    langs = Counter(a.lang for a in articles)
    assert abs(langs["ru"] - langs["en"]) <= len(articles) // 4
    for art in articles:
        assert 4 <= len(art.questions) <= 24, art.slug  # situations in everyday words, not a dump
    slugs = {a.slug for a in articles}
    for topic in (
        "vpn-connect",
        "password-reset",
        "wifi-connect",
        "printer",
        "email-outlook",
        "mfa-setup",
        "software-install",
        "access-request",
        "laptop-request",
    ):
        assert {f"{topic}-ru", f"{topic}-en"} <= slugs, topic
