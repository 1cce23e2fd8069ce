"""Offline evaluation of the matcher: top-1 / top-3 accuracy, out-of-scope rejection, latency.

The queries file is a CSV with columns ``text,slug``; an empty slug means "no article
should be suggested" (an out-of-scope query). An optional ``split`` column (``tune`` or
``eval``) marks the part a row belongs to, so tuning and reporting use different queries.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from kb.errors import KbError
from kb.matcher import Suggestion

__all__ = ["SPLITS", "EvalQuery", "EvalResult", "evaluate", "load_queries"]

SPLITS = ("tune", "eval")

SearchFn = Callable[[str], Sequence[Suggestion]]


@dataclass(frozen=True)
class EvalQuery:
    """One labelled query; ``slug`` is ``None`` for an out-of-scope query.

    ``split`` is ``"tune"`` or ``"eval"`` when the file has a ``split`` column, else ``None``.
    """

    text: str
    slug: str | None
    split: str | None = None


@dataclass(frozen=True)
class EvalResult:
    """Evaluation figures; shares are in 0..1, ``None`` when there was nothing to count."""

    n: int
    top1: float | None
    top3: float | None
    oos_rejected: float | None
    p50_ms: float | None
    p99_ms: float | None

    def as_dict(self) -> dict[str, float | int | None]:
        """The figures as a plain dict (the JSON output of ``deskbot kb eval --json``)."""
        return asdict(self)


def load_queries(
    path: Path, known_slugs: set[str] | None = None, split: str | None = None
) -> list[EvalQuery]:
    """Read a ``text,slug[,split]`` CSV. Raises :class:`KbError` naming the file and row on errors.

    With ``known_slugs``, an expected slug that is not in the KB is an error too (a typo
    in the file would otherwise count as a miss forever). With ``split`` (``tune`` or
    ``eval``), only that part's rows are returned; the file must then have a ``split`` column.
    """
    if split is not None and split not in SPLITS:
        raise KbError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    try:
        with Path(path).open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            fields = reader.fieldnames or []
            missing = [c for c in ("text", "slug") if c not in fields]
            if missing:
                raise KbError(f"{path}: missing column(s) {', '.join(missing)}; need 'text,slug'")
            has_split = "split" in fields
            if split is not None and not has_split:
                raise KbError(f"{path}: no 'split' column, cannot select the {split!r} part")
            queries = [
                _row_query(path, line, row, known_slugs, has_split)
                for line, row in enumerate(reader, start=2)
            ]
    except OSError as exc:
        raise KbError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise KbError(f"{path}: not a valid UTF-8 CSV file: {exc}") from None
    return [q for q in queries if split is None or q.split == split]


def _row_query(
    path: Path, line: int, row: dict[str, str], known_slugs: set[str] | None, has_split: bool
) -> EvalQuery:
    """One CSV row as an :class:`EvalQuery`, or :class:`KbError` naming the file and line."""
    text = (row.get("text") or "").strip()
    slug = (row.get("slug") or "").strip() or None
    if not text:
        raise KbError(f"{path}: line {line}: empty text")
    if slug is not None and known_slugs is not None and slug not in known_slugs:
        raise KbError(f"{path}: line {line}: slug {slug!r} is not in the KB")
    part = (row.get("split") or "").strip() if has_split else None
    if has_split and part not in SPLITS:
        choices = ", ".join(SPLITS)
        raise KbError(f"{path}: line {line}: split must be one of {choices}, got {part!r}")
    return EvalQuery(text, slug, part)


def evaluate(search: SearchFn, queries: Sequence[EvalQuery]) -> EvalResult:
    """Run every query through ``search`` (timed one by one) and compute the figures.

    ``top1``/``top3`` count over in-scope queries (a query with no suggestion is a miss),
    ``oos_rejected`` over out-of-scope ones.
    """
    if queries:
        search(queries[0].text)  # warm-up: first-call caches are not what users see
    hits1 = hits3 = n_in = rejected = n_oos = 0
    times = []
    for q in queries:
        t0 = time.perf_counter()
        found = search(q.text)
        times.append((time.perf_counter() - t0) * 1000.0)
        slugs = [s.slug for s in found]
        if q.slug is None:
            n_oos += 1
            rejected += not slugs
        else:
            n_in += 1
            hits1 += bool(slugs) and slugs[0] == q.slug
            hits3 += q.slug in slugs[:3]
    arr = np.array(times) if times else None
    return EvalResult(
        n=len(queries),
        top1=hits1 / n_in if n_in else None,
        top3=hits3 / n_in if n_in else None,
        oos_rejected=rejected / n_oos if n_oos else None,
        p50_ms=float(np.percentile(arr, 50)) if arr is not None else None,
        p99_ms=float(np.percentile(arr, 99)) if arr is not None else None,
    )
