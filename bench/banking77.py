"""BANKING77 benchmark: top-1 / top-3 of the matcher beside two baselines, in one run.

KB: one article per intent (slug = intent, title = intent in words, 10 of its train
queries as ``questions``); queries: the *eval* part of the remaining train queries (see
``bench/_common.py``: fixed seed, the tune part is used only by ``fit_ranking.py``).

Rows printed:
- ``bm25``: stemmed Okapi BM25 over title + questions (no threshold),
- ``token_set_ratio``: best rapidfuzz ``token_set_ratio`` against the questions,
- ``deskbot lexical``: ``kb.Matcher`` with its default threshold (a query with no
  suggestion counts as a miss),
- ``deskbot semantic`` (only with ``--semantic`` and the extra installed).

Run: ``python bench/banking77.py [--semantic] [--write-kb DIR]``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from _common import BM25Baseline, TokenSetBaseline, banking77_split, write_kb, write_queries

from kb.evaluate import evaluate
from kb.matcher import Matcher


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--semantic", action="store_true", help="also run the semantic reranker")
    parser.add_argument("--threshold", type=float, default=None, help="override the threshold")
    parser.add_argument(
        "--write-kb",
        type=Path,
        default=None,
        metavar="DIR",
        help="also write the KB (DIR/kb/*.md) and queries (DIR/queries.csv) for `deskbot kb eval`",
    )
    parser.add_argument("--part", default="eval", choices=["eval", "tune", "all"])
    args = parser.parse_args()

    articles, queries = banking77_split(part=args.part)
    if args.write_kb:
        write_kb(articles, args.write_kb / "kb")
        write_queries(queries, args.write_kb / "queries.csv")
    print(
        f"BANKING77 split: {len(articles)} articles x 10 questions, "
        f"{len(queries)} {args.part} queries"
    )
    kw = {} if args.threshold is None else {"threshold": args.threshold}
    systems = [
        ("bm25", lambda: BM25Baseline(articles).search),
        ("token_set_ratio", lambda: TokenSetBaseline(articles).search),
        ("deskbot lexical", lambda: Matcher(articles, **kw).search),
    ]
    if args.semantic:
        from kb.semantic import SemanticMatcher

        systems.append(("deskbot semantic", lambda: SemanticMatcher(articles, **kw).search))
    print(f"{'system':<18} {'top1':>6} {'top3':>6} {'p50_ms':>7} {'p99_ms':>7} {'build_s':>7}")
    for name, make in systems:
        t0 = time.perf_counter()
        search = make()
        build = time.perf_counter() - t0
        r = evaluate(search, queries)
        print(
            f"{name:<18} {r.top1:6.3f} {r.top3:6.3f} {r.p50_ms:7.2f} {r.p99_ms:7.2f} {build:7.1f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
