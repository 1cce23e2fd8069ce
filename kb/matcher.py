"""KB suggestions for a free-text request: :class:`Matcher` and :class:`Suggestion`.

``Matcher.search`` is pure CPU over a prebuilt index (no I/O), cheap enough to call
straight from async code. Scores are 0..1 and mean the same for any KB (see
``docs/kb.md``); nothing below the threshold is ever suggested.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from kb.articles import Article, article_files
from kb.cache import IndexCache, KbSource, cached_index
from kb.chatter import is_chatter
from kb.dictionary import common_words
from kb.errors import KbError
from kb.feedback import FeedbackMemory
from kb.index import Analysis, FieldWeights, Index, QueryTerm
from kb.normalize import is_cyrillic, is_latin, stem
from kb.ranking import confidence, specific_gate
from kb.settings import SETTINGS_FILE, load_settings
from kb.synonyms import SYNONYMS_FILE, Synonyms, load_synonyms

__all__ = ["DEFAULT_THRESHOLD", "Matcher", "Suggestion"]

log = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.2
# Articles scored in full per query (stage 2); the rest of the KB only in stage 1.
CANDIDATES = 30
# An article in the other language than the query's keeps this share of its score, so
# when both the ru and en versions match, the one in the user's language comes first.
OTHER_LANG_FACTOR = 0.85
# Suggestions after the first need only this share of the threshold.
SECONDARY_SHARE = 0.5


# A long message in which nothing was found is also scored sentence by sentence (see
# Matcher.search); a sentence's score counts at this share.
SENTENCE_FACTOR = 0.9
SENTENCE_MIN_WORDS = 8  # messages shorter than this are scored whole only
_SENTENCE_END = re.compile(r"(?<=[.!?;…])\s+|\n+")
_CLAUSE_END = re.compile(r"(?<=[.!?;…,:])\s+|\s+[-–—]\s+|\n+")
CLAUSE_FACTOR = 0.5  # then, if still nothing, clause by clause (at commas, colons, dashes)
_SPLITS = ((_SENTENCE_END, SENTENCE_FACTOR), (_CLAUSE_END, CLAUSE_FACTOR))


def _sentences(text: str, splitter: re.Pattern[str] = _SENTENCE_END) -> list[str]:
    """The sentences (or, with ``_CLAUSE_END``, the clauses) of a long message, two or more
    words each; [] for a short message or one that does not split."""
    if len(text.split()) < SENTENCE_MIN_WORDS:
        return []
    parts = [p.strip() for p in splitter.split(text)]
    parts = [p for p in parts if len(p.split()) >= 2]
    return parts if len(parts) > 1 else []


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
    for name in (SYNONYMS_FILE, SETTINGS_FILE):
        try:
            st = (directory / name).stat()
            sig[name] = (st.st_mtime_ns, st.st_size)
        except OSError:
            pass
    return sig


def _kb_threshold(directory: Path) -> tuple[float, str]:
    """The threshold a KB directory asks for in ``kb.yaml``, else the default; and which."""
    own = load_settings(directory).threshold if directory.is_dir() else None
    return (DEFAULT_THRESHOLD, "default") if own is None else (own, SETTINGS_FILE)


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

    # The class _make_index builds (a cached index of another class is not used).
    _index_type: type[Index] = Index

    def __init__(
        self,
        articles: Sequence[Article] | KbSource,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        extra_questions: Mapping[str, Sequence[str]] | None = None,
        synonyms: Synonyms | None = None,
    ) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be within 0..1, got {threshold}")
        self.threshold = threshold
        self._cache_dir: Path | str | None = None
        # Synonym sets (kb/synonyms.py): given, or the KB directory's synonyms.yaml.
        if synonyms is None:
            synonyms = load_synonyms(articles.directory) if isinstance(articles, KbSource) else ()
        self.synonyms = tuple(tuple(words) for words in synonyms)
        # Example questions learned from resolved tickets, merged into the articles'
        # own questions before the index is built (so they are part of what the index is
        # and of its cache key).
        self._extra: dict[str, tuple[str, ...]] = _clean_extra(extra_questions)
        # The articles as given (None for a KB directory: a reload reads its files again).
        self._base: tuple[Article, ...] | None = None if isinstance(articles, KbSource) else tuple(articles)
        self._index = self._load_index(articles)
        common_words()  # loaded once per process, here rather than in the first search's time
        self._feedback = FeedbackMemory()
        self._directory: Path | None = None
        self._signature: FileSignature = {}
        self._own_threshold = False  # True: the threshold is the KB's (kb.yaml), re-read on reload
        # Where the threshold came from: "given" (by the caller), "kb.yaml" or "default".
        self.threshold_source = "given"
        self._reload_lock = threading.Lock()

    def _merged(self, articles: Sequence[Article]) -> list[Article]:
        """The articles with the learned questions added (duplicates of a question dropped);
        learned questions for a slug the KB does not have are ignored with a log line."""
        if not self._extra:
            return list(articles)
        slugs = {a.slug for a in articles}
        unknown = sorted(set(self._extra) - slugs)
        if unknown:
            log.warning("learned questions for unknown KB articles ignored: %s", ", ".join(unknown))
        out = []
        for a in articles:
            extra = self._extra.get(a.slug)
            if extra:
                seen = {q.casefold() for q in a.questions}
                added = tuple(q for q in extra if q.casefold() not in seen)
                if added:
                    a = replace(a, learned=added)
            out.append(a)
        return out

    def _make_index(self, articles: Sequence[Article], synonyms: Synonyms | None = None) -> Index:
        """Build the index for a list of articles (a subclass may add to it)."""
        return Index(articles, synonyms=self.synonyms if synonyms is None else synonyms)

    def _index_params(self) -> dict[str, Any] | None:
        """What the index is built with besides the files, for the cache key (``None``:
        this matcher's index is not cached)."""
        return {"matcher": "lexical", "weights": asdict(FieldWeights())}

    def _load_index(self, articles: Sequence[Article] | KbSource, synonyms: Synonyms | None = None) -> Index:
        """The index of a list of articles (built), or of a KB's files (from the on-disk
        cache when an entry for the same files, synonyms, learned questions, parameters and
        code exists; see kb/cache.py). Learned questions are merged in before building.
        ``synonyms`` (a reload's new sets) replaces :attr:`synonyms` for this build."""
        sets = self.synonyms if synonyms is None else tuple(tuple(words) for words in synonyms)

        def build(arts: Sequence[Article]) -> Index:
            return self._make_index(self._merged(arts), sets)

        if not isinstance(articles, KbSource):
            return build(articles)
        params = self._index_params()
        if params is None:
            return build(articles.articles())
        if sets:
            params = {**params, "synonyms": [list(words) for words in sets]}
        if self._extra:
            params = {**params, "learned": {slug: list(qs) for slug, qs in sorted(self._extra.items())}}
        index: Index = cached_index(articles, IndexCache(articles.cache_dir), params, self._index_type, build)
        return index

    def _score(
        self, index: Index, text: str, analysis: Analysis, cand: np.ndarray, feats: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated 0..1 scores of the candidates (a subclass may rerank or add some).

        An article must match the query's specific words, not only "не работает" /
        "won't open" (:meth:`Index.specific_coverage`).
        """
        return cand, confidence(feats) * specific_gate(index.specific_coverage(analysis, cand))

    @classmethod
    def from_dir(
        cls, directory: Path, *, cache_dir: Path | str | None = None, **kw: Any
    ) -> Matcher:
        """Load every article of a directory (raises :class:`KbError` on a bad file).

        The built index is cached in ``cache_dir`` (default: ``$XDG_CACHE_HOME/deskbot/kb``),
        so the next start with the same files loads it instead of rebuilding.
        """
        directory = Path(directory)
        signature = _signature(directory) if directory.is_dir() else {}
        source = KbSource.read(directory, cache_dir)
        # The KB's own threshold (kb.yaml) unless the caller gives one (desk.kb_threshold).
        own_threshold = "threshold" not in kw
        threshold_source = "given"
        if own_threshold:
            kw["threshold"], threshold_source = _kb_threshold(directory)
        matcher = cls(source, **kw)
        matcher.threshold_source = threshold_source
        matcher._cache_dir = cache_dir
        matcher._directory = directory
        matcher._signature = signature
        matcher._own_threshold = own_threshold
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

    def search(
        self, text: str, limit: int = 3, *, lang: str | None = None, min_score: float | None = None
    ) -> list[Suggestion]:
        """Up to ``limit`` articles, best first: nothing unless the best scores at least
        the threshold, then the next ones scoring at least half of it.

        ``lang`` (``"ru"``/``"en"``) is a preference: when articles in both languages
        match, the one in this language ranks first. Without it, the query's script
        decides. ``min_score`` replaces the threshold for this call (the resolved card's
        "Answered by" offer lists the closest articles even below it).
        """
        threshold = self.threshold if min_score is None else min_score
        index = self._index  # one consistent snapshot even if a reload swaps it
        if limit <= 0 or index.n_docs == 0 or is_chatter(text):
            return []  # "спасибо, всё работает", "👍": nothing to suggest
        analysis = index.analyze(text)
        cand, feats = index.retrieve(analysis, CANDIDATES)
        cand, scores = self._score(index, text, analysis, cand, feats)
        for splitter, factor in _SPLITS:
            if len(scores) and scores.max() >= threshold:
                break
            parts = _sentences(text, splitter)
            if not parts:
                continue
            # A long message ("Good morning, since yesterday's update the CRM crashes ...
            # I've restarted twice. Can someone look?") in which nothing was found: its
            # request is often one sentence, diluted by the others. Each sentence is
            # scored too (then each clause); an article keeps its best.
            best = dict(zip(cand.tolist(), scores.tolist(), strict=True))
            for part in parts:
                p_analysis = index.analyze(part)
                p_cand, p_feats = index.retrieve(p_analysis, CANDIDATES)
                p_cand, p_scores = self._score(index, part, p_analysis, p_cand, p_feats)
                for doc, score in zip(p_cand.tolist(), p_scores.tolist(), strict=True):
                    score *= factor
                    if score > best.get(doc, -1.0):
                        best[doc] = score
            cand = np.fromiter(best.keys(), dtype=np.int64, count=len(best))
            scores = np.fromiter(best.values(), dtype=np.float64, count=len(best))
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
        # The first suggestion must clear the threshold; once it does, the 2nd and 3rd may
        # be a little below it (SECONDARY_SHARE of it): whether anything is suggested at
        # all, and so out-of-scope rejection, does not change.
        floor = threshold * SECONDARY_SHARE
        ranked = sorted(
            (pos for pos in range(len(cand)) if scores[pos] >= floor),
            key=lambda pos: (-scores[pos], pos),  # ties keep the candidates' order
        )
        if not ranked or scores[ranked[0]] < threshold:
            return []
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
                synonyms = load_synonyms(self._directory)
                threshold, source = (
                    _kb_threshold(self._directory) if self._own_threshold else (self.threshold, self.threshold_source)
                )
                index = self._load_index(KbSource.read(self._directory, self._cache_dir), synonyms)
            except KbError as exc:
                log.error("kb reload failed, keeping the previous articles: %s", exc)
                return False
            self.synonyms, self._index, self.threshold = synonyms, index, threshold
            self.threshold_source = source
            return True

    @property
    def extra_questions(self) -> dict[str, tuple[str, ...]]:
        """The learned questions the current index was built with."""
        return dict(self._extra)

    def reload(self, extra_questions: Mapping[str, Sequence[str]] | None = None) -> bool:
        """Rebuild now from the current article files (for :meth:`from_dir` matchers) and
        ``extra_questions`` (``None`` keeps the current ones). The swap is atomic: searches
        see the old or the new index. If the files do not load, the error is logged, the
        current index is kept and ``False`` returned."""
        with self._reload_lock:
            previous = self._extra
            if extra_questions is not None:
                self._extra = _clean_extra(extra_questions)
            signature = self._signature
            threshold, source = self.threshold, self.threshold_source
            try:
                synonyms = self.synonyms
                if self._directory is not None:
                    signature = _signature(self._directory)
                    synonyms = load_synonyms(self._directory)
                    if self._own_threshold:
                        threshold, source = _kb_threshold(self._directory)
                    index = self._load_index(KbSource.read(self._directory, self._cache_dir), synonyms)
                else:
                    index = self._load_index(self._base or ())
            except KbError as exc:
                self._extra = previous
                log.error("kb reload failed, keeping the previous articles: %s", exc)
                return False
            except BaseException:
                self._extra = previous
                raise
            self._signature = signature
            self.synonyms, self._index, self.threshold = synonyms, index, threshold
            self.threshold_source = source
            return True


def _clean_extra(extra: Mapping[str, Sequence[str]] | None) -> dict[str, tuple[str, ...]]:
    """Learned questions as ``{slug: (question, ...)}``: stripped, empty ones and repeats dropped."""
    out: dict[str, tuple[str, ...]] = {}
    for slug, questions in (extra or {}).items():
        seen: set[str] = set()
        kept = []
        for q in questions:
            q = " ".join(str(q).split())
            if q and q.casefold() not in seen:
                seen.add(q.casefold())
                kept.append(q)
        if kept:
            out[slug] = tuple(kept)
    return out
