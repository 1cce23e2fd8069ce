"""Regression guard: the sample KB's figures on the desk set's eval split and the IT set.

The floors are what the matcher reached when issue 11 was done (docs/kb.md, "Measured"),
minus a small margin; a change that loses more fails here. Runs in a few seconds (about
420 queries). Nothing here tunes anything: it only reads the CSVs and counts.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kb import Matcher, default_kb_dir
from kb.evaluate import evaluate, load_queries

DATA = Path(__file__).resolve().parents[2] / "bench" / "data"
MARGIN = 0.02
# (file, split): achieved top1, top3, out-of-scope rejected
ACHIEVED = {
    ("desk_queries.csv", "eval"): (0.934, 0.978, 0.946),
    ("it_queries.csv", None): (0.995, 1.000, 0.917),
}


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher.from_dir(default_kb_dir())


@pytest.mark.parametrize(("name", "split"), list(ACHIEVED))
def test_figures_do_not_drop(matcher: Matcher, name: str, split: str | None) -> None:
    queries = load_queries(DATA / name, {a.slug for a in matcher.articles}, split)
    result = evaluate(matcher.search, queries)
    top1, top3, oos = ACHIEVED[(name, split)]
    assert result.top1 is not None and result.top1 >= top1 - MARGIN
    assert result.top3 is not None and result.top3 >= top3 - MARGIN
    assert result.oos_rejected is not None and result.oos_rejected >= oos - MARGIN
