"""The ``centroid`` feature: cosine between the query and an article's mean TF-IDF vector."""

from __future__ import annotations

import math

import pytest

from kb.articles import Article
from kb.index import FEATURES, Index
from kb.normalize import stem, tokenize

CENTROID = FEATURES.index("centroid")


def _article(slug: str, title: str, *questions: str) -> Article:
    return Article(slug, title, f"{title}.", "en", (), questions)


def _centroid(index: Index, text: str) -> dict[str, float]:
    cand, feats = index.retrieve(index.analyze(text), 10)
    return {index.articles[c].slug: float(f[CENTROID]) for c, f in zip(cand, feats, strict=True)}


def _by_hand(sentences: list[list[str]], owner: list[int], doc: int, query: list[str]) -> float:
    """The same cosine computed from the definition, with plain Python."""
    n = len(sentences)
    df: dict[str, int] = {}
    for s in sentences:
        for t in set(s):
            df[t] = df.get(t, 0) + 1
    idf = {t: math.log((1 + n) / (1 + d)) + 1 for t, d in df.items()}

    def vec(words: list[str]) -> dict[str, float]:
        v = {t: (1 + math.log(words.count(t))) * idf[t] for t in set(words) if t in idf}
        norm = math.sqrt(sum(x * x for x in v.values()))
        return {t: x / norm for t, x in v.items()}

    mean: dict[str, float] = {}
    mine = [s for s, o in zip(sentences, owner, strict=True) if o == doc]
    for s in mine:
        for t, x in vec(s).items():
            mean[t] = mean.get(t, 0.0) + x / len(mine)
    norm = math.sqrt(sum(x * x for x in mean.values()))
    q = vec(query)
    return sum(q.get(t, 0.0) * x / norm for t, x in mean.items())


def test_centroid_matches_its_definition() -> None:
    articles = [
        _article("printer", "Printer jams", "the printer jams paper", "printer is offline"),
        _article("scanner", "Scanner", "scanner does not scan", "scan to email"),
    ]
    index = Index(articles)
    sentences, owner = [], []
    for i, art in enumerate(articles):
        for text in (art.title, *art.questions):
            sentences.append([stem(t) for t in tokenize(text)])
            owner.append(i)
    query = "my printer jams"
    got = _centroid(index, query)
    expected = _by_hand(sentences, owner, 0, [stem(t) for t in tokenize(query)])
    assert got["printer"] == pytest.approx(expected, rel=1e-5)
    assert 0.0 < got["printer"] < 1.0


def test_function_words_tell_close_articles_apart() -> None:
    index = Index(
        [
            _article(
                "why-verify",
                "Why identity verification",
                "why do I need to verify my identity",
                "why do you need to verify me",
            ),
            _article(
                "how-verify",
                "Identity verification steps",
                "how do I verify my identity",
                "how can I verify my account",
            ),
        ]
    )
    why = _centroid(index, "why should I verify my identity")
    how = _centroid(index, "how should I verify my identity")
    assert why["why-verify"] > why["how-verify"]
    assert how["how-verify"] > how["why-verify"]


def test_typos_count_as_the_kb_word() -> None:
    index = Index(
        [
            _article("printer", "Printer", "printer does not print", "printer jams"),
            _article("monitor", "Monitor", "monitor is black", "second monitor"),
        ]
    )
    exact = _centroid(index, "printer jams")["printer"]
    typo = _centroid(index, "pritner jams")["printer"]
    assert typo > 0.5 * exact > 0.0
