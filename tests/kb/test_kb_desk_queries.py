"""The RU/EN desk evaluation set (bench/data/desk_queries.csv) and the ``split`` column."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from rapidfuzz import fuzz, process

from kb.articles import Article, default_kb_dir, load_articles
from kb.errors import KbError
from kb.evaluate import SPLITS, EvalQuery, load_queries

DATA = Path(__file__).resolve().parents[2] / "bench" / "data"
DESK = DATA / "desk_queries.csv"
IT = DATA / "it_queries.csv"


def _norm(text: str) -> str:
    """Case, ``ё`` and punctuation folded, whitespace collapsed: what "the same text" means here."""
    text = text.casefold().replace("ё", "е")
    return " ".join(re.sub(r"[^\w\s]", " ", text).split())


@pytest.fixture(scope="module")
def articles() -> list[Article]:
    return load_articles(default_kb_dir())


@pytest.fixture(scope="module")
def desk(articles: list[Article]) -> list[EvalQuery]:
    # known_slugs makes load_queries reject any slug that is not a sample KB article.
    return load_queries(DESK, {a.slug for a in articles})


def test_size_languages_and_out_of_scope_share(desk: list[EvalQuery]) -> None:
    assert len(desk) >= 330
    oos = [q for q in desk if q.slug is None]
    assert len(oos) / len(desk) >= 0.15
    langs = Counter(q.slug.rsplit("-", 1)[-1] for q in desk if q.slug)
    assert set(langs) == {"ru", "en"}
    assert 0.4 <= langs["ru"] / (langs["ru"] + langs["en"]) <= 0.6
    cyrillic = sum(1 for q in oos if re.search("[а-яё]", q.text, re.IGNORECASE))
    assert 0.3 <= cyrillic / len(oos) <= 0.7


def test_every_article_is_asked_about(desk: list[EvalQuery], articles: list[Article]) -> None:
    assert {q.slug for q in desk if q.slug} == {a.slug for a in articles}


def test_both_splits_cover_every_article_and_out_of_scope(desk: list[EvalQuery]) -> None:
    by_split = {s: [q for q in desk if q.split == s] for s in SPLITS}
    assert sum(len(v) for v in by_split.values()) == len(desk)
    labelled = {q.slug for q in desk}  # None (out of scope) included
    for part in by_split.values():
        assert {q.slug for q in part} == labelled
        assert 0.4 <= len(part) / len(desk) <= 0.6
        oos = [q for q in part if q.slug is None]
        assert len(oos) / len(part) >= 0.15
        scripts = {bool(re.search("[а-яё]", q.text, re.IGNORECASE)) for q in oos}
        assert scripts == {True, False}  # out-of-scope rows in both languages in each part


def test_split_is_stratified_per_slug(desk: list[EvalQuery]) -> None:
    per_slug: dict[str | None, Counter[str]] = {}
    for q in desk:
        per_slug.setdefault(q.slug, Counter())[q.split or ""] += 1
    for slug, counts in per_slug.items():
        assert abs(counts["tune"] - counts["eval"]) <= 1, (slug, counts)


def test_no_duplicate_texts(desk: list[EvalQuery]) -> None:
    dups = [t for t, n in Counter(_norm(q.text) or q.text for q in desk).items() if n > 1]
    assert dups == []


def test_no_query_copied_from_the_articles_or_the_it_set(
    desk: list[EvalQuery], articles: list[Article]
) -> None:
    taken = {_norm(q) for a in articles for q in (a.title, *a.questions)}
    taken |= {_norm(q.text) for q in load_queries(IT)}
    copied = [q.text for q in desk if _norm(q.text) in taken]
    assert copied == []


def test_no_query_is_a_near_copy_of_an_example_question(
    desk: list[EvalQuery], articles: list[Article]
) -> None:
    # Verbatim copies are caught above; this catches "copy and change one word" too.
    examples = [_norm(q) for a in articles for q in a.questions]
    near = []
    for q in desk:
        best = process.extractOne(_norm(q.text), examples, scorer=fuzz.ratio)
        if best is not None and best[1] >= 90:
            near.append((q.text, best[0]))
    assert near == []


def test_select_one_split() -> None:
    tune = load_queries(DESK, split="tune")
    evals = load_queries(DESK, split="eval")
    assert tune and evals
    assert {q.split for q in tune} == {"tune"} and {q.split for q in evals} == {"eval"}
    assert {q.text for q in tune}.isdisjoint(q.text for q in evals)


def test_files_without_split_still_load() -> None:
    it = load_queries(IT)
    assert it and all(q.split is None for q in it)
    with pytest.raises(KbError, match="no 'split' column"):
        load_queries(IT, split="eval")


def test_bad_split_values_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text("text,slug,split\nvpn down,vpn,tune\nok thanks,,test\n", encoding="utf-8")
    with pytest.raises(KbError, match=r"line 3: split must be one of tune, eval, got 'test'"):
        load_queries(path)
    with pytest.raises(KbError, match="unknown split 'train'"):
        load_queries(path, split="train")


@pytest.mark.parametrize("name", ["desk_extra_tune.csv", "desk_probe_tune.csv", "desk_probe2_tune.csv"])
def test_the_extra_probe_sets_are_tune_only_and_new(name: str, desk: list[EvalQuery], articles: list[Article]) -> None:
    # Rows written later to probe the matcher: tune only, and never a copy of an eval-split
    # row, an IT-set row or an article's title (a bare emoji is compared as typed).
    def key(text: str) -> str:
        return _norm(text) or text

    rows = load_queries(DATA / name, {a.slug for a in articles})
    assert rows and {q.split for q in rows} == {"tune"}
    assert any(q.slug is None for q in rows)
    seen = {key(q.text) for q in desk if q.split == "eval"} | {key(q.text) for q in load_queries(IT)}
    seen |= {key(a.title) for a in articles}
    assert [q.text for q in rows if key(q.text) in seen] == []
    assert len({key(q.text) for q in rows}) == len(rows)
