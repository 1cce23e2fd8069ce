"""Questions learned from resolved tickets (``extra_questions``) are example questions of
their article: merged before the index is built, rebuilt by ``reload``, kept on file change;
they count less than authored questions as evidence of the topic."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from kb.matcher import Matcher
from tests.kb.conftest import WriteArticle

# A request the two articles below do not answer by their words: learning makes it theirs.
REQUEST = "the big copier by the kitchen shows a red triangle"
PARAPHRASE = "red triangle on the copier near the kitchn"  # typo on purpose


def _kb(write_article: WriteArticle) -> None:
    write_article("printer-en", title="Printer jammed", questions=("paper jam", "printer stuck"),
                  tags=("printer",), body="Open the tray.")
    write_article("vpn-en")


def first(matcher: Matcher, text: str) -> str | None:
    found = matcher.search(text, limit=1)
    return found[0].slug if found else None


def test_extra_questions_are_example_questions(write_article: WriteArticle, tmp_path: Path) -> None:
    _kb(write_article)
    plain = Matcher.from_dir(tmp_path)
    assert first(plain, REQUEST) is None
    learned = Matcher.from_dir(tmp_path, extra_questions={"printer-en": [REQUEST]})
    assert first(learned, REQUEST) == "printer-en"
    assert first(learned, PARAPHRASE) == "printer-en"
    article = learned.article("printer-en")
    assert article is not None and article.questions == ("paper jam", "printer stuck")
    assert article.learned == (REQUEST,)  # kept apart: weaker evidence of the topic (kb.index)


def test_repeats_and_existing_questions_are_not_added_twice(write_article: WriteArticle, tmp_path: Path) -> None:
    _kb(write_article)
    matcher = Matcher.from_dir(tmp_path, extra_questions={"printer-en": ["Paper  jam", REQUEST, REQUEST.upper(), " "]})
    assert matcher.article("printer-en").learned == (REQUEST,)  # type: ignore[union-attr]


def test_unknown_slugs_are_ignored_with_a_log_line(
    write_article: WriteArticle, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _kb(write_article)
    with caplog.at_level(logging.WARNING, logger="kb.matcher"):
        matcher = Matcher.from_dir(tmp_path, extra_questions={"gone-article": [REQUEST]})
    assert "gone-article" in caplog.text
    assert first(matcher, REQUEST) is None
    assert sorted(a.slug for a in matcher.articles) == ["printer-en", "vpn-en"]


def test_reload_takes_new_learned_questions(write_article: WriteArticle, tmp_path: Path) -> None:
    _kb(write_article)
    matcher = Matcher.from_dir(tmp_path)
    assert first(matcher, REQUEST) is None
    assert matcher.reload({"printer-en": [REQUEST]}) is True
    assert first(matcher, REQUEST) == "printer-en"
    assert matcher.extra_questions == {"printer-en": (REQUEST,)}
    # None keeps what it has, and a file change keeps the learned questions too
    assert matcher.reload() is True
    assert first(matcher, REQUEST) == "printer-en"
    write_article("wifi-en", title="Wi-Fi drops", questions=("wifi keeps dropping",), tags=("wifi",), body="Forget the network.")
    assert matcher.reload_if_changed() is True
    assert first(matcher, "wifi keeps dropping") == "wifi-en"
    assert first(matcher, REQUEST) == "printer-en"


def test_reload_with_a_broken_file_keeps_the_index(
    write_article: WriteArticle, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _kb(write_article)
    matcher = Matcher.from_dir(tmp_path, extra_questions={"printer-en": [REQUEST]})
    write_article("broken", text="---\ntitle: x\n---\n")
    assert matcher.reload({}) is False
    assert "broken.md" in caplog.text
    assert first(matcher, REQUEST) == "printer-en"  # old index and old learned questions
    assert matcher.extra_questions == {"printer-en": (REQUEST,)}


def test_reload_on_an_edited_file(write_article: WriteArticle, tmp_path: Path) -> None:
    _kb(write_article)
    matcher = Matcher.from_dir(tmp_path)
    path = write_article("printer-en", title="Printer jammed", questions=("paper jam", REQUEST),
                         tags=("printer",), body="Open the tray.")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    assert matcher.reload_if_changed() is True
    assert first(matcher, REQUEST) == "printer-en"


def test_min_score_replaces_the_threshold_for_one_call(write_article: WriteArticle, tmp_path: Path) -> None:
    _kb(write_article)
    matcher = Matcher.from_dir(tmp_path)
    weak = "the printer on floor two"
    below = matcher.search(weak, min_score=0.0)
    assert below and below[0].slug == "printer-en"
    assert all(s.score >= 0.0 for s in below)
    strict = matcher.search(weak, min_score=1.0)
    assert strict == [] or all(s.score >= 1.0 for s in strict)
    assert [s for s in matcher.search(weak) if s.score < matcher.threshold] == []


def test_a_learned_question_counts_less_than_an_authored_one_as_topic_evidence() -> None:
    from kb.articles import Article
    from kb.index import FieldWeights, Index

    text = "red triangle on the big copier"
    authored = Index([Article("p", "Printer", "x", "en", (), (text,))])
    learned = Index([Article("p", "Printer", "x", "en", (), (), learned=(text,))])
    assert FieldWeights().learned_cov < FieldWeights().questions_cov
    for index in (authored, learned):
        assert index.retrieve(index.analyze("triangle"), 5)[0].tolist() == [0]  # found either way
    cov = [ix.specific_coverage(ix.analyze("triangle"), ix.retrieve(ix.analyze("triangle"), 5)[0])[0]
           for ix in (authored, learned)]
    assert cov[1] < cov[0]
