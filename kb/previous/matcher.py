"""KB suggestions for a free-text request: :class:`Matcher` and :class:`Suggestion`.

``Matcher.search`` is pure CPU over a prebuilt index (no I/O), cheap enough to call
straight from async code. Scores are 0..1 and mean the same for any KB (see
``docs/kb.md``); nothing below the threshold is ever suggested.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kb.articles import Article, article_files, load_articles
from kb.errors import KbError
from kb.feedback import FeedbackMemory
from kb.previous.index import Analysis, Index, QueryTerm
from kb.previous.normalize import is_cyrillic, is_latin, stem
from kb.previous.ranking import confidence

__all__ = ["DEFAULT_THRESHOLD", "Matcher", "Suggestion"]

log = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.2
# Articles scored in full per query (stage 2); the rest of the KB only in stage 1.
CANDIDATES = 30
# An article in the other language than the query's keeps this share of its score, so
# when both the ru and en versions match, the one in the user's language comes first.
OTHER_LANG_FACTOR = 0.85


@dataclass(frozen=True)
class Suggestion:
    """One suggested article; ``score`` is the calibrated confidence in 0..1."""

    slug: str
    title: str
    score: float


FileSignature = dict[str, tuple[int, int]]


def _signature(directory: Path) -> FileSignature:
    sig: FileSignature = {}
    for path in article_files(directory):
        try:
            st = path.stat()
        except OSError:
            continue
        sig[path.name] = (st.st_mtime_ns, st.st_size)
    return sig


def query_lang(query: Sequence[QueryTerm]) -> str | None:
    """Language of an analysed query (layout slips already repaired).

    Any Cyrillic word makes it Russian: Russian speakers often type Latin product names
    ("настроить microsoft authenticator"), English speakers rarely type Cyrillic.
    """
    has_latin = False
    for qt in query:
        if qt.how == "translit":
            return "ru"  # "vpn" found by transliterating "впн"
        if is_cyrillic(qt.text):
            return "ru"
        has_latin = has_latin or is_latin(qt.text)
    return "en" if has_latin else None


class Matcher:
    """Finds the KB articles that answer a request.

    Build it once at start (``Matcher(articles)`` or ``Matcher.from_dir(path)``); call
    :meth:`reload_if_changed` now and then to pick up edited article files.
    """

    def __init__(
        self, articles: Sequence[Article], *, threshold: float = DEFAULT_THRESHOLD
    ) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be within 0..1, got {threshold}")
        self.threshold = threshold
        self._index = self._make_index(articles)
        self._feedback = FeedbackMemory()
        self._directory: Path | None = None
        self._signature: FileSignature = {}
        self._reload_lock = threading.Lock()

    def _make_index(self, articles: Sequence[Article]) -> Index:
        """Build the index for a list of articles (a subclass may add to it)."""
        return Index(articles)

    def _score(
        self, index: Index, text: str, analysis: Analysis, cand: np.ndarray, feats: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated 0..1 scores of the candidates (a subclass may rerank or add some)."""
        return cand, confidence(feats)

    @classmethod
    def from_dir(cls, directory: Path, **kw: Any) -> Matcher:
        """Load every article of a directory (raises :class:`KbError` on a bad file)."""
        directory = Path(directory)
        signature = _signature(directory) if directory.is_dir() else {}
        matcher = cls(load_articles(directory), **kw)
        matcher._directory = directory
        matcher._signature = signature
        return matcher

    @property
    def articles(self) -> tuple[Article, ...]:
        """The articles currently indexed."""
        return self._index.articles

    def article(self, slug: str) -> Article | None:
        """The article with this slug, or ``None``."""
        index = self._index
        i = index.by_slug.get(slug)
        return index.articles[i] if i is not None else None

    def search(self, text: str, limit: int = 3, *, lang: str | None = None) -> list[Suggestion]:
        """Up to ``limit`` articles scoring at least the threshold, best first.

        ``lang`` (``"ru"``/``"en"``) is a preference: when articles in both languages
        match, the one in this language ranks first. Without it, the query's script
        decides.
        """
        index = self._index  # one consistent snapshot even if a reload swaps it
        if limit <= 0 or index.n_docs == 0:
            return []
        analysis = index.analyze(text)
        cand, feats = index.retrieve(analysis, CANDIDATES)
        cand, scores = self._score(index, text, analysis, cand, feats)
        if len(cand) == 0:
            return []
        preferred = lang if lang in ("ru", "en") else query_lang(analysis.terms)
        if preferred is not None:
            other = index.doc_lang[cand] != preferred
            scores = np.where(other, scores * OTHER_LANG_FACTOR, scores)
        if len(self._feedback):
            nudges = self._feedback.nudges(self._term_weights(index, analysis), index.unknown_idf)
            for pos, doc in enumerate(cand.tolist()):
                nudge = nudges.get(index.articles[doc].slug)
                if nudge:
                    scores[pos] = min(1.0, max(0.0, scores[pos] + nudge))
        ranked = sorted(
            (pos for pos in range(len(cand)) if scores[pos] >= self.threshold),
            key=lambda pos: (-scores[pos], pos),  # ties keep the candidates' order
        )
        return [
            Suggestion(
                index.articles[cand[pos]].slug,
                index.articles[cand[pos]].title,
                round(float(scores[pos]), 4),
            )
            for pos in ranked[:limit]
        ]

    @staticmethod
    def _term_weights(index: Index, analysis: Analysis) -> dict[str, float]:
        keys: dict[str, float] = {}
        for qt in analysis.terms:
            key = index.terms[qt.term] if qt.term >= 0 else stem(qt.text)
            keys[key] = qt.weight
        return keys

    def record_feedback(self, query: str, slug: str, solved: bool) -> None:
        """Remember that ``slug`` did (or did not) solve ``query``.

        Similar later queries see that article nudged up (or down) by at most 0.2. Kept in
        memory only: the app replays stored feedback after start.
        """
        index = self._index
        keys = self._term_weights(index, index.analyze(query))
        self._feedback.add(keys, slug, solved)

    def reload_if_changed(self) -> bool:
        """Rebuild the index if an article file was added, removed or changed.

        Only for matchers made with :meth:`from_dir`. Returns ``True`` if rebuilt. If the
        changed KB does not load (a bad file), the error is logged, the current index is
        kept, and the same broken state is not retried until the files change again.
        """
        if self._directory is None:
            return False
        with self._reload_lock:
            signature = _signature(self._directory)
            if signature == self._signature:
                return False
            self._signature = signature
            try:
                articles = load_articles(self._directory)
            except KbError as exc:
                log.error("kb reload failed, keeping the previous articles: %s", exc)
                return False
            self._index = self._make_index(articles)
            return True
