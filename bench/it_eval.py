"""IT help-desk benchmark: the bundled sample KB against bench/data/it_queries.csv.

The queries (Russian and English, with typos, colloquial phrasing, keyboard-layout and
transliteration slips, plus out-of-scope ones) were written for this benchmark and are
not the KB's own example questions. Prints, per language and overall: n, top1, top3,
oos_rejected and latency, for the matcher and for a plain rapidfuzz baseline
(``token_set_ratio`` against the questions, with a 0.6 cut-off as its "threshold").

Run: ``python bench/it_eval.py [--semantic] [--threshold T] [--misses]``
"""

from __future__ import annotations

import argparse
import sys

from _common import ROOT, TokenSetBaseline

from kb.articles import default_kb_dir, load_articles
from kb.evaluate import EvalQuery, evaluate, load_queries
from kb.matcher import Matcher, Suggestion
from kb.normalize import script_of

QUERIES = ROOT / "bench" / "data" / "it_queries.csv"


def lang_of(q: EvalQuery) -> str:
    if q.slug:
        return q.slug.rsplit("-", 1)[-1]
    return script_of(q.text) or "en"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threshold", type=float, default=None)
    parser.add_argument("--misses", action="store_true", help="list the queries it got wrong")
    parser.add_argument("--semantic", action="store_true", help="also run the semantic reranker")
    args = parser.parse_args()
    articles = load_articles(default_kb_dir())
    queries = load_queries(QUERIES, {a.slug for a in articles})
    kw = {} if args.threshold is None else {"threshold": args.threshold}
    matcher = Matcher(articles, **kw)
    baseline = TokenSetBaseline(articles)

    def baseline_search(text: str) -> list[Suggestion]:
        return [s for s in baseline.search(text) if s.score >= 0.6]

    systems = [("token_set_ratio", baseline_search), ("deskbot lexical", matcher.search)]
    if args.semantic:
        from kb.semantic import SemanticMatcher

        systems.append(("deskbot semantic", SemanticMatcher(articles, **kw).search))
    n_oos = sum(1 for q in queries if q.slug is None)
    print(f"IT set: {len(articles)} articles, {len(queries)} queries ({n_oos} out of scope)")
    print(
        f"{'system':<18} {'lang':<4} {'n':>4} {'top1':>6} {'top3':>6} {'oos_rej':>7} "
        f"{'p50_ms':>7} {'p99_ms':>7}"
    )
    for name, search in systems:
        for lang in ("ru", "en", "all"):
            subset = [q for q in queries if lang == "all" or lang_of(q) == lang]
            r = evaluate(search, subset)
            oos = "-" if r.oos_rejected is None else f"{r.oos_rejected:.3f}"
            print(
                f"{name:<18} {lang:<4} {r.n:>4} {r.top1:6.3f} {r.top3:6.3f} {oos:>7} "
                f"{r.p50_ms:7.2f} {r.p99_ms:7.2f}"
            )
    if args.misses:
        print("\nmisses of deskbot lexical (expected -> got):")
        for q in queries:
            got = matcher.search(q.text)
            slugs = [s.slug for s in got]
            if (q.slug is None and got) or (q.slug is not None and q.slug not in slugs):
                shown = ", ".join(f"{s.slug} {s.score:.2f}" for s in got) or "nothing"
                print(f"  {q.text!r}: {q.slug or '(none)'} -> {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
