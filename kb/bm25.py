"""Okapi BM25 baseline (k1=1.5, b=0.75) over stemmed article text, without a threshold.

The plain search-engine ranking that ``deskbot kb eval`` and ``bench/banking77.py`` print
beside the matcher: title, questions, tags and body as one bag of stemmed words (the same
normalisation as the matcher, :func:`kb.normalize.terms`), rare words counting more. It
suggests every article sharing a word with the query, best first, so it has no notion of
"out of scope": its out-of-scope rejection is the share of queries that share no word
with any article.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from kb.articles import Article
from kb.matcher import Suggestion
from kb.normalize import terms

__all__ = ["BM25Baseline"]


class BM25Baseline:
    """Okapi BM25 (k1=1.5, b=0.75) over stemmed title + questions + tags + body, no threshold."""

    def __init__(self, articles: Sequence[Article], k1: float = 1.5, b: float = 0.75) -> None:
        self.articles = list(articles)
        self.docs = [
            Counter(terms(" ".join([a.title, *a.questions, *a.tags, a.body])))
            for a in self.articles
        ]
        self.lengths = [sum(d.values()) for d in self.docs]
        self.avg = sum(self.lengths) / max(1, len(self.docs))
        df: Counter[str] = Counter()
        for d in self.docs:
            df.update(d.keys())
        n = len(self.docs)
        self.idf = {t: math.log1p((n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        self.k1, self.b = k1, b

    def search(self, text: str, limit: int = 3) -> list[Suggestion]:
        """Top ``limit`` articles by BM25 (articles with a zero score are left out)."""
        q = terms(text)
        scored = []
        for art, doc, length in zip(self.articles, self.docs, self.lengths, strict=True):
            s = 0.0
            for t in q:
                tf = doc.get(t, 0)
                if tf:
                    norm = self.k1 * (1 - self.b + self.b * length / self.avg)
                    s += self.idf[t] * tf * (self.k1 + 1) / (tf + norm)
            if s > 0:
                scored.append((s, art))
        scored.sort(key=lambda x: (-x[0], x[1].slug))
        return [Suggestion(a.slug, a.title, s) for s, a in scored[:limit]]
