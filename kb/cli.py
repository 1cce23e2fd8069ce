"""``deskbot kb ...`` commands: search, eval and report.

Each ``*_command`` takes already-parsed values, prints to stdout and returns an exit
code; ``add_arguments`` registers ``kb search`` and ``kb eval`` on the main CLI's
argparse subparsers (``kb report`` needs the database and is wired in ``bot/cli.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kb.articles import default_kb_dir
from kb.bm25 import BM25Baseline
from kb.errors import KbError
from kb.evaluate import SPLITS, evaluate, load_queries
from kb.feedback import FeedbackRow, build_report
from kb.matcher import Matcher
from kb.previous import PreviousMatcher

__all__ = ["LearnedRow", "add_arguments", "eval_command", "report_command", "search_command"]

EXIT_OK = 0
EXIT_ERROR = 2


def _fail(exc: Exception) -> int:
    print(f"error: {exc}", file=sys.stderr)
    return EXIT_ERROR


def _matcher(kb_dir: Path, semantic: bool, threshold: float | None = None) -> Matcher:
    kw: dict[str, Any] = {} if threshold is None else {"threshold": threshold}
    if semantic:
        from kb.semantic import SemanticMatcher

        return SemanticMatcher.from_dir(kb_dir, **kw)
    return Matcher.from_dir(kb_dir, **kw)


def search_command(
    text: str, kb_dir: Path | None, limit: int = 3, *, semantic: bool = False
) -> int:
    """Print up to ``limit`` suggestions for ``text`` (score, slug, title).

    ``semantic`` uses the optional semantic reranker (needs the ``semantic`` extra).
    """
    try:
        matcher = _matcher(kb_dir or default_kb_dir(), semantic)
    except KbError as exc:
        return _fail(exc)
    found = matcher.search(text, limit=limit)
    if not found:
        print(f"no suggestion above threshold {matcher.threshold:.2f}")
        return EXIT_OK
    for s in found:
        print(f"{s.score:.3f}  {s.slug}  {s.title}")
    return EXIT_OK


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"


def eval_command(
    kb_dir: Path | None,
    queries_csv: Path,
    as_json: bool,
    *,
    semantic: bool = False,
    split: str | None = None,
    threshold: float | None = None,
) -> int:
    """Evaluate the matcher on a ``text,slug`` CSV; print n, top1, top3, oos_rejected, latency.

    Printed in three columns from one run: ``deskbot`` (the matcher), ``previous`` (the
    matcher before issue 11, frozen in :mod:`kb.previous`) and ``bm25`` (the
    :mod:`kb.bm25` baseline, no threshold). ``--json``: the matcher's figures as the
    top-level keys (as before) plus ``compare``: ``{"previous": {...}, "bm25": {...}}``
    with the same keys.

    ``semantic`` evaluates the optional semantic reranker instead of the lexical matcher.
    ``split`` (``tune`` or ``eval``) keeps only that part of a file with a ``split`` column.
    ``kb_dir`` None means the bundled sample KB, as for ``kb search``. ``threshold``
    replaces the KB's own (its ``kb.yaml``, else the default); the one used is printed.
    """
    try:
        matcher = _matcher(kb_dir or default_kb_dir(), semantic, threshold)
        queries = load_queries(queries_csv, {a.slug for a in matcher.articles}, split)
        previous = PreviousMatcher.from_dir(kb_dir or default_kb_dir())
    except KbError as exc:
        return _fail(exc)
    bm25 = BM25Baseline(matcher.articles)
    results = {
        "deskbot": evaluate(matcher.search, queries),
        "previous": evaluate(previous.search, queries),
        "bm25": evaluate(bm25.search, queries),
    }
    if as_json:
        data: dict[str, Any] = results["deskbot"].as_dict()
        data["threshold"] = matcher.threshold
        data["compare"] = {name: r.as_dict() for name, r in results.items() if name != "deskbot"}
        print(json.dumps(data))
        return EXIT_OK
    rows = [
        ("n", lambda r: str(r.n)),
        ("top1", lambda r: _fmt(r.top1)),
        ("top3", lambda r: _fmt(r.top3)),
        ("oos_rejected", lambda r: _fmt(r.oos_rejected)),
        ("p50_ms", lambda r: _fmt(r.p50_ms, 2)),
        ("p99_ms", lambda r: _fmt(r.p99_ms, 2)),
    ]
    source = "--threshold" if threshold is not None else matcher.threshold_source
    print(f"threshold {matcher.threshold:g} (from {source}; previous: 0.2, bm25: none)")
    print(f"{'':<14}" + "".join(f"{name:<10}" for name in results).rstrip())
    for key, cell in rows:
        print(f"{key:<14}" + "".join(f"{cell(r):<10}" for r in results.values()).rstrip())
    return EXIT_OK


@dataclass(frozen=True)
class LearnedRow:
    """A question learned from a resolved ticket (mirrors the ``kb_learned`` table)."""

    slug: str
    question: str
    ticket_id: int


def report_command(
    rows: Iterable[FeedbackRow], *, max_gaps: int = 20, learned: Iterable[LearnedRow] = ()
) -> int:
    """Print per-article views, solved, not solved and solve rate, the deflections, the KB
    gaps, then the questions learned from resolved tickets per article."""
    report = build_report(rows)
    if not report.articles:
        print("no KB feedback yet")
    else:
        width = max(len("article"), *(len(a.slug) for a in report.articles))
        print(
            f"{'article':<{width}}  {'views':>5}  {'solved':>6}  {'not solved':>10}  {'solve rate':>10}"
        )
        for a in report.articles:
            rate = "-" if a.solve_rate is None else f"{a.solve_rate:.0%}"
            print(
                f"{a.slug:<{width}}  {a.opened:>5}  {a.solved:>6}  {a.not_solved:>10}  {rate:>10}"
            )
    print()
    deflected = sorted((a for a in report.articles if a.solved), key=lambda a: (-a.solved, a.slug))
    total = sum(a.solved for a in deflected)
    if not total:
        print("Deflections: none")
    else:
        print(f"Deflections (a suggestion solved it, no ticket filed): {total}")
        for a in deflected:
            print(f"{a.solved:>4}x  {a.slug}")
    print()
    if not report.gaps:
        print("KB gaps: none")
    else:
        print("KB gaps (queries with no suggestion that became tickets):")
        for gap in report.gaps[:max_gaps]:
            print(f"{gap.count:>4}x  {gap.query}")
        if len(report.gaps) > max_gaps:
            print(f"      ... and {len(report.gaps) - max_gaps} more")
    print()
    by_slug: dict[str, list[LearnedRow]] = {}
    for row in learned:
        by_slug.setdefault(row.slug, []).append(row)
    if not by_slug:
        print("Learned questions: none")
        return EXIT_OK
    print("Learned questions (from resolved tickets; used after `deskbot kb reload`):")
    for slug in sorted(by_slug, key=lambda k: (-len(by_slug[k]), k)):
        print(f"{len(by_slug[slug]):>4}x  {slug}")
        for row in by_slug[slug]:
            print(f"        #{row.ticket_id}  {' '.join(row.question.split())}")
    return EXIT_OK


def _run_search(args: argparse.Namespace) -> int:
    return search_command(" ".join(args.text), args.kb, args.limit, semantic=args.semantic)


def _run_eval(args: argparse.Namespace) -> int:
    return eval_command(
        args.kb, args.queries, args.json, semantic=args.semantic, split=args.split,
        threshold=args.threshold,
    )


def _unit_float(value: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 0.0 <= x <= 1.0:
        raise argparse.ArgumentTypeError(f"must be within 0..1, got {value}")
    return x


def _positive_int(value: str) -> int:
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return n


def add_arguments(subparsers: Any) -> Any:
    """Register the ``kb`` command group (``search``, ``eval``) on argparse subparsers.

    Returns the ``kb`` group's own subparsers so the caller can add ``report``.
    Each leaf parser sets ``func`` to a callable taking the parsed namespace and returning
    the exit code.
    """
    kb = subparsers.add_parser("kb", help="knowledge base: search, evaluate, report")
    kb_sub = kb.add_subparsers(dest="kb_command", metavar="{search,eval,report,reload,drafts}")
    kb_sub.required = True

    search = kb_sub.add_parser("search", help="show the suggestions for a text")
    search.add_argument(
        "--kb",
        type=Path,
        default=None,
        metavar="DIR",
        help="KB directory (default: the bundled sample KB)",
    )
    search.add_argument(
        "--limit",
        type=_positive_int,
        default=3,
        metavar="N",
        help="at most N suggestions (default 3)",
    )
    search.add_argument(
        "--semantic", action="store_true", help="rerank with the semantic extra (English)"
    )
    search.add_argument("text", nargs="+", metavar="TEXT", help="the request text")
    search.set_defaults(func=_run_search)

    ev = kb_sub.add_parser("eval", help="measure suggestion quality on a labelled CSV")
    ev.add_argument(
        "--kb",
        type=Path,
        default=None,
        metavar="DIR",
        help="KB directory (default: the bundled sample KB)",
    )
    ev.add_argument(
        "--queries",
        type=Path,
        required=True,
        metavar="FILE.csv",
        help="CSV with columns text,slug (empty slug = nothing should match)",
    )
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.add_argument(
        "--semantic", action="store_true", help="evaluate the semantic reranker (needs the extra)"
    )
    ev.add_argument(
        "--split",
        choices=SPLITS,
        default=None,
        help="only the rows of this part (the CSV's split column; default: all rows)",
    )
    ev.add_argument(
        "--threshold",
        type=_unit_float,
        default=None,
        help="the threshold to evaluate at, 0..1 (default: the KB's kb.yaml, else 0.2)",
    )
    ev.set_defaults(func=_run_eval)
    return kb_sub
