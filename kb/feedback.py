"""KB feedback: the rows the app records, the report over them, and in-memory nudging.

``FeedbackRow`` mirrors the ``kb_feedback`` table (the store reads it; this package only
needs the values). :class:`FeedbackMemory` keeps "This solved it" / "Still need help"
answers so that later, similar queries rank the article up or down a little.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = [
    "OUTCOMES",
    "ArticleStats",
    "FeedbackMemory",
    "FeedbackReport",
    "FeedbackRow",
    "GapQuery",
    "build_report",
]

OUTCOMES = ("shown", "opened", "solved", "not_solved", "gap")


@dataclass(frozen=True)
class FeedbackRow:
    """One recorded KB event.

    ``outcome`` is ``"shown"`` (suggested), ``"opened"`` (the employee opened the article),
    ``"solved"`` / ``"not_solved"`` (the answer to "Did this help?"), or ``"gap"`` (no
    suggestion was offered and the query became a ticket; ``slug`` is then ``None``).
    """

    slug: str | None
    query: str
    outcome: str

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, got {self.outcome!r}")


@dataclass
class ArticleStats:
    """Counts for one article in a feedback report."""

    slug: str
    shown: int = 0
    opened: int = 0
    solved: int = 0
    not_solved: int = 0

    @property
    def solve_rate(self) -> float | None:
        """solved / (solved + not solved), or ``None`` when nobody answered yet."""
        answered = self.solved + self.not_solved
        return self.solved / answered if answered else None


@dataclass(frozen=True)
class GapQuery:
    """A query (as normalised for grouping) that got no suggestion and became a ticket."""

    query: str
    count: int
    last_seen: int  # position of the latest occurrence in the input (higher = more recent)


@dataclass
class FeedbackReport:
    """Per-article stats and KB gaps computed from feedback rows."""

    articles: list[ArticleStats] = field(default_factory=list)
    gaps: list[GapQuery] = field(default_factory=list)


def _gap_key(query: str) -> str:
    return " ".join(query.casefold().replace("ё", "е").split())


def build_report(rows: Iterable[FeedbackRow]) -> FeedbackReport:
    """Aggregate rows (oldest first) into per-article stats and the list of KB gaps.

    Articles are sorted by views (opened) then slug; gaps by frequency, then recency.
    """
    stats: dict[str, ArticleStats] = {}
    gap_count: Counter[str] = Counter()
    gap_last: dict[str, int] = {}
    gap_text: dict[str, str] = {}
    for pos, row in enumerate(rows):
        if row.outcome == "gap":
            key = _gap_key(row.query)
            if not key:
                continue
            gap_count[key] += 1
            gap_last[key] = pos
            gap_text[key] = " ".join(row.query.split())
            continue
        if row.slug is None:
            continue
        st = stats.setdefault(row.slug, ArticleStats(row.slug))
        setattr(st, row.outcome, getattr(st, row.outcome) + 1)
    articles = sorted(stats.values(), key=lambda s: (-s.opened, -s.shown, s.slug))
    gaps = sorted(
        (GapQuery(gap_text[k], gap_count[k], gap_last[k]) for k in gap_count),
        key=lambda g: (-g.count, -g.last_seen),
    )
    return FeedbackReport(articles=articles, gaps=gaps)


@dataclass(frozen=True)
class _Entry:
    terms: frozenset[str]
    slug: str
    sign: int  # +1 solved, -1 not solved


class FeedbackMemory:
    """In-memory "this solved it" / "still need help" answers, keyed by query terms.

    The nudge for an article is ``max_nudge * tanh(evidence / 2)`` where evidence sums
    +similarity for each similar solved query and -similarity for each similar unsolved
    one (similarity = IDF-weighted Dice overlap of the query terms, counted from
    ``min_similarity``). So one "solved" on the same question moves the score up by about
    0.09, three by about 0.18, never more than ``max_nudge``.
    """

    def __init__(self, *, max_nudge: float = 0.2, min_similarity: float = 0.5) -> None:
        self.max_nudge = max_nudge
        self.min_similarity = min_similarity
        self._entries: list[_Entry] = []
        self._by_term: dict[str, list[int]] = defaultdict(list)

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, terms: Iterable[str], slug: str, solved: bool) -> None:
        """Remember one answer for a query given as its normalised terms."""
        entry = _Entry(frozenset(terms), slug, 1 if solved else -1)
        if not entry.terms:
            return
        idx = len(self._entries)
        self._entries.append(entry)
        for term in entry.terms:
            self._by_term[term].append(idx)

    def nudges(self, terms: Mapping[str, float], default_weight: float) -> dict[str, float]:
        """Score adjustment per slug for a query given as ``{term: weight}``."""
        if not self._entries or not terms:
            return {}
        candidates: set[int] = set()
        for term in terms:
            candidates.update(self._by_term.get(term, ()))
        evidence: dict[str, float] = defaultdict(float)
        q_total = sum(terms.values())
        for idx in candidates:
            entry = self._entries[idx]
            shared = sum(terms[t] for t in entry.terms if t in terms)
            e_total = sum(terms.get(t, default_weight) for t in entry.terms)
            sim = 2.0 * shared / (q_total + e_total)
            if sim >= self.min_similarity:
                evidence[entry.slug] += entry.sign * sim
        return {
            slug: self.max_nudge * math.tanh(e / 2.0) for slug, e in evidence.items() if e != 0.0
        }
