"""The lexical index of a KB: vocabulary, term weights, postings, and query analysis.

Built once from a list of articles (pure CPU, no I/O) and immutable afterwards; the
matcher swaps in a new index when the KB changes. Search runs in two stages:

1. **Retrieval** over the whole KB with precomputed postings (numpy, no Python loop over
   articles): a BM25F score (title, tags, questions and body weighted differently,
   rare words counting more) and an IDF-weighted *coverage* (the share of the query's
   information found in the article). The best ``candidates`` articles go on.
2. **Features** for those candidates only, with rapidfuzz: word-order-aware similarity
   to the closest example question, token-set similarity to the best few questions,
   and a typo-tolerant coverage of the query words by the article's words; and the
   cosine between the query and the article's *centroid* (the mean TF-IDF vector of its
   title and questions, function words included: "why", "not", "my" tell close
   requests apart once the topic words agree).

:mod:`kb.ranking` turns the features into a calibrated 0..1 score.
"""

from __future__ import annotations

import math
import re
import zlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from kb.articles import Article
from kb.dictionary import is_common_word
from kb.normalize import (
    GENERIC_STEMS,
    STOPWORDS,
    WEAK_FACTOR,
    WEAK_STEMS,
    is_cyrillic,
    is_generic,
    is_translit_function_word,
    is_translit_stopword,
    is_weak,
    stem,
    switch_layout,
    tokenize,
    transliterate,
    transliterations,
    without_prefix,
)

__all__ = ["FEATURES", "Analysis", "FieldWeights", "Index", "QueryTerm"]

_UNSIGN = re.compile("[ьъ]")

# How a query word found its KB word by a guess rather than as typed (QueryTerm.how).
_REPAIRS = frozenset({"fuzzy", "prefix"})

FEATURES = ("bm25", "coverage", "headline", "order", "tokenset", "fuzzy", "centroid")


@dataclass(frozen=True)
class FieldWeights:
    """Per-field weights.

    ``*_tf`` multiply term frequencies in BM25F (a title word counts as three question
    words); ``*_cov`` is how much finding a query word in that field counts for coverage.
    """

    title_tf: float = 3.0
    tags_tf: float = 2.0
    questions_tf: float = 1.0
    body_tf: float = 0.3
    title_cov: float = 1.0
    tags_cov: float = 0.9
    questions_cov: float = 1.0
    body_cov: float = 0.55
    learned_cov: float = 0.75


@dataclass(frozen=True)
class QueryTerm:
    """One analysed query word.

    ``term`` is the vocabulary id (``-1`` if the KB does not know the word), ``quality`` how
    sure we are the user meant that term (1 exact; less for a layout slip or a typo), and
    ``weight`` its information weight (IDF; unknown words weigh like the rarest word).
    ``text`` is the word as typed, or as repaired for a layout slip, a transliteration or
    two joined words (a typo keeps the typed form: string similarity handles it).
    """

    text: str
    term: int
    quality: float
    weight: float
    how: str  # "exact" | "layout" | "translit" | "joined" | "fuzzy" | "prefix" | "unknown"


@dataclass(frozen=True)
class Analysis:
    """A query mapped onto the KB: its content terms and its repaired text."""

    terms: tuple[QueryTerm, ...]
    text: str  # folded, layout-repaired text with stop words, for string similarity


# Quality of a term found through a variant rather than as typed.
_LAYOUT_QUALITY = 0.97
_TRANSLIT_QUALITY = 0.95
_JOINED_QUALITY = 0.97
_FUZZY_MIN_LEN = 4
_ACRONYM_QUALITY = 0.6
_SHORT_I = re.compile(r"([аое])и(?![аеиоуыэюя])")
# Word-form backoff for what the stemmer misses ("отвалился" / "отваливается"): a KB word
# sharing a prefix of at least this many letters and 60% of the query word.
_PREFIX_MIN = 5
# An unknown word that is a word-formation prefix plus a KB word, or plus the root of a
# prefixed KB word, is read as that word ("underpaid" -> "paid", "переустановить" ->
# "установить", "недоплатили" -> the KB's "заплатили", both "плат"; Index._affixed,
# kb.normalize.without_prefix).
_AFFIX_MIN_REST = 4
_AFFIX_QUALITY = 0.8
_PREFIX_SHARE = 0.6
FUZZY_POWER = 3.0
# Weight of a generic word ("работает", "won't open", kb.normalize.GENERIC_WORDS) as a
# share of its IDF: it helps to rank, but is not what the query is about.
GENERIC_FACTOR = 0.5
# BM25 parameters (tuned on our BANKING77 tuning split, see bench/).
K1 = 4.0
B = 0.75


def _fuzzy_cutoff(length: int) -> float:
    """Similarity a word of this length needs to be taken for a KB word (≈1 edit per 5)."""
    if length <= 4:
        return 0.75
    if length <= 6:
        return 0.8
    return 0.78


def _key(variant: str) -> int:
    """Stable hash of a typo-index key (``hash()`` differs per process; the index is cached)."""
    return zlib.crc32(variant.encode("utf-8"))


def _deletions(word: str) -> set[str]:
    """The word and every string made by deleting one of its letters."""
    return {word, *(word[:i] + word[i + 1 :] for i in range(len(word)))}


def _ranges(starts: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(start, start + len)`` for each pair (CSR rows' positions)."""
    offsets = np.cumsum(np.concatenate([[0], lens[:-1]])).astype(np.int64)
    flat: np.ndarray = np.repeat(starts - offsets, lens) + np.arange(lens.sum())
    return flat


def _content(tokens: list[str]) -> list[str]:
    return [t for t in tokens if t not in STOPWORDS]


class Index:
    """Immutable lexical index over a list of articles."""

    def __init__(
        self,
        articles: Sequence[Article],
        weights: FieldWeights | None = None,
        *,
        synonyms: Sequence[Sequence[str]] = (),
    ) -> None:
        self.articles: tuple[Article, ...] = tuple(articles)
        self.synonyms = tuple(tuple(words) for words in synonyms)
        # Synonym sets (kb/synonyms.py): all stems of a set share one term id; in the
        # strings compared by rapidfuzz each word becomes the set's first word of the same
        # script ("mfa" -> "2fa", "двухфакторку" -> "двухфакторка"), so the typed script and
        # with it the query's language are kept.
        self._syn_group: dict[str, tuple[str, ...]] = {}  # stem -> stems of its set
        self._syn_head: dict[str, str] = {}  # stem -> the word strings use instead
        for words in self.synonyms:
            stems = tuple(dict.fromkeys(stem(w) for w in words))
            for word in words:
                same = [w for w in words if is_cyrillic(w) == is_cyrillic(word)]
                self._syn_group[stem(word)] = stems
                self._syn_head[stem(word)] = same[0]
        self.weights = w = weights or FieldWeights()
        self.by_slug = {a.slug: i for i, a in enumerate(self.articles)}
        self.n_docs = n_docs = len(self.articles)
        self.doc_lang = np.array([a.lang for a in self.articles], dtype="<U2")

        vocab: dict[str, int] = {}
        surface: dict[str, int] = {}
        head_words: set[str] = set()

        def term_id(token: str) -> int:
            key = stem(token)
            tid = vocab.get(key)
            if tid is None:
                tid = vocab[key] = len(vocab)  # a fresh id: ids only grow
                for other in self._syn_group.get(key, ()):
                    vocab.setdefault(other, tid)
            surface.setdefault(token, tid)
            return tid

        def centroid_id(token: str) -> int:
            key = stem(token)
            cid = cvocab.get(key)
            if cid is None:
                cid = cvocab[key] = len(cvocab)
                for other in self._syn_group.get(key, ()):
                    cvocab.setdefault(other, cid)
            return cid

        # Centroid vocabulary: stems of every word, function words included.
        cvocab: dict[str, int] = {}
        sentences: list[list[int]] = []  # title and each question, as centroid term ids
        sent_owner: list[int] = []
        tf_rows: list[dict[int, float]] = []  # BM25F pseudo term frequency per article
        cov_rows: list[dict[int, float]] = []  # coverage strength per article
        head_rows: list[set[int]] = []  # terms in the title or tags
        q_text: list[str] = []  # title + questions as folded strings, for rapidfuzz
        q_ptr = [0]
        words: list[str] = []  # distinct content words of title, tags, questions
        w_ptr = [0]
        for art in self.articles:
            tf: dict[int, float] = defaultdict(float)
            cov: dict[int, float] = {}

            def bump(tid: int, value: float, cov: dict[int, float] = cov) -> None:
                if value > cov.get(tid, 0.0):
                    cov[tid] = value

            def add_sentence(tokens: list[str]) -> None:
                if tokens:
                    sentences.append([centroid_id(t) for t in tokens])
                    sent_owner.append(len(tf_rows))

            title_tokens = self._tokens(art.title)
            add_sentence(title_tokens)
            head: set[int] = set()
            head_words.update(_content(title_tokens))
            for tid in map(term_id, _content(title_tokens)):
                tf[tid] += w.title_tf
                bump(tid, w.title_cov)
                head.add(tid)
            tag_tokens = [t for tag in art.tags for t in self._tokens(tag)]
            head_words.update(_content(tag_tokens))
            for tid in map(term_id, _content(tag_tokens)):
                tf[tid] += w.tags_tf
                bump(tid, w.tags_cov)
                head.add(tid)
            # aliases: other names of the subject, weighted like tags, compared like the title
            alias_strings = [self._tokens(alias) for alias in art.aliases]
            alias_tokens = [t for tokens in alias_strings for t in tokens]
            head_words.update(_content(alias_tokens))
            for tid in map(term_id, _content(alias_tokens)):
                tf[tid] += w.tags_tf
                bump(tid, w.tags_cov)
                head.add(tid)
            doc_words = dict.fromkeys(
                _content(title_tokens) + _content(tag_tokens) + _content(alias_tokens)
            )
            strings = [" ".join(title_tokens)]
            for tokens in alias_strings:
                if tokens:
                    add_sentence(tokens)
                    strings.append(" ".join(tokens))
            # Learned questions (a requester's own words, kept when an agent chose this
            # article) rank like questions, but count as evidence of the topic only at
            # learned_cov, so their chance words do not pull in unrelated requests.
            for questions, cov_weight in ((art.questions, w.questions_cov), (art.learned, w.learned_cov)):
                in_questions: dict[int, int] = defaultdict(int)
                for question in questions:
                    tokens = self._tokens(question)
                    add_sentence(tokens)
                    strings.append(" ".join(tokens))
                    content = _content(tokens)
                    doc_words.update(dict.fromkeys(content))
                    ids = [term_id(t) for t in content]
                    for tid in ids:
                        tf[tid] += w.questions_tf
                    for tid in set(ids):
                        in_questions[tid] += 1
                for tid, n in in_questions.items():
                    # saturating: one question mentions it → 3/4 of the field weight, 3+ → all
                    bump(tid, cov_weight * min(1.0, 0.625 + 0.125 * n))
            in_body: dict[int, int] = defaultdict(int)
            for tid in map(term_id, _content(self._tokens(art.body))):
                tf[tid] += w.body_tf
                in_body[tid] += 1
            for tid, n in in_body.items():
                bump(tid, w.body_cov * min(1.0, 0.8 + 0.1 * n))
            tf_rows.append(tf)
            cov_rows.append(cov)
            head_rows.append(head)
            q_text.extend(strings)
            q_ptr.append(len(q_text))
            words.extend(doc_words or ["\x00"])
            w_ptr.append(len(words))

        # Cross-script spellings of the same word ("VPN" / "впн", "outlook" / "аутлук" when
        # both occur in the KB): an article containing one also counts as containing the other.
        alias: dict[int, int] = {}
        for word, tid in surface.items():
            if len(word) >= 3 and word not in STOPWORDS:
                other = transliterate(word)
                if other and other in surface and surface[other] != tid:
                    alias[tid] = surface[other]
        if alias:
            for tf, cov, head in zip(tf_rows, cov_rows, head_rows, strict=True):
                for tid in [t for t in tf if t in alias]:
                    twin = alias[tid]
                    tf[twin] = max(tf.get(twin, 0.0), tf[tid])
                    cov[twin] = max(cov.get(twin, 0.0), cov[tid])
                    if tid in head:
                        head.add(twin)

        # every word of a synonym set is a KB word (typo repair finds "двухфакторку" too)
        for syn_set in self.synonyms:
            for word in syn_set:
                tid = vocab.get(stem(word))
                if tid is not None:
                    surface.setdefault(word, tid)
        self.vocab = vocab
        self.terms: list[str] = [""] * len(vocab)
        for term, tid in vocab.items():
            self.terms[tid] = term
        self.q_text = q_text
        self.q_ptr = np.array(q_ptr, dtype=np.int64)
        self.words = words
        self.w_ptr = np.array(w_ptr, dtype=np.int64)

        n_terms = len(vocab)
        df = np.zeros(n_terms, dtype=np.float64)
        for row in tf_rows:
            for tid in row:
                df[tid] += 1
        self.idf = np.log1p((n_docs - df + 0.5) / (df + 0.5))
        self.unknown_idf = math.log1p((n_docs + 0.5) / 0.5)
        lengths = np.array([sum(row.values()) for row in tf_rows], dtype=np.float64)
        avg_len = float(lengths.mean()) if n_docs else 1.0

        # Postings, CSR by term id: doc ids, BM25F weight, coverage strength, headline flag.
        docs_l, terms_l, bm_l, cov_l, head_l = [], [], [], [], []
        for doc, (tf, cov, head) in enumerate(zip(tf_rows, cov_rows, head_rows, strict=True)):
            norm = K1 * (1.0 - B + B * lengths[doc] / avg_len)
            for tid, f in tf.items():
                docs_l.append(doc)
                terms_l.append(tid)
                bm_l.append(self.idf[tid] * f * (K1 + 1.0) / (f + norm))
                cov_l.append(cov[tid])
                head_l.append(1.0 if tid in head else 0.0)
        order = np.argsort(np.array(terms_l, dtype=np.int64), kind="stable")
        self.post_doc = np.array(docs_l, dtype=np.int32)[order]
        self.post_bm25 = np.array(bm_l, dtype=np.float64)[order]
        self.post_cov = np.array(cov_l, dtype=np.float64)[order]
        self.post_head = np.array(head_l, dtype=np.float64)[order]
        counts = np.bincount(np.array(terms_l, dtype=np.int64), minlength=n_terms)
        self.post_ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

        self._build_centroids(cvocab, sentences, sent_owner)

        # Typo lookup, flat in the vocabulary size: every KB word is filed under the hashes
        # of itself and of its one-letter deletions (the "symmetric delete" trick); a
        # query word one edit away shares at least one of them. Sorted numpy arrays keep
        # it compact (about 10 entries of 12 bytes per word).
        self._surface = surface
        # Russian typed in Latin letters drops the soft and hard signs ("pisma" for
        # "письма", "bolnichniy" for "больничный"): the KB words that have one, filed under
        # the stem of the word without it, for transliterated query words.
        self._unsigned: dict[str, int] = {}
        for word, tid in surface.items():
            if "ь" in word or "ъ" in word:
                self._unsigned.setdefault(stem(_UNSIGN.sub("", word)), tid)
        # KB words filed under their stems without a word-formation prefix ("заплатили"
        # under "плат"), so "недоплатили" and "платить" find it through the root (_affixed).
        self._roots: dict[str, int] = {}
        for word, tid in surface.items():
            for rest in without_prefix(word, _AFFIX_MIN_REST):
                self._roots.setdefault(stem(rest), tid)
        self._fuzzy_words = [w for w in surface if len(w) >= _FUZZY_MIN_LEN - 1]
        # 3-letter names in titles, tags and aliases ("crm", "vpn", "мфу"), for _acronym
        self._acronyms = sorted(
            w for w in head_words if len(w) == 3 and w in surface and not w.isdigit()
        )
        keys: list[int] = []
        owners: list[int] = []
        for i, word in enumerate(self._fuzzy_words):
            for variant in _deletions(word):
                keys.append(_key(variant))
                owners.append(i)
        key_arr = np.array(keys, dtype=np.int64)
        order = np.argsort(key_arr, kind="stable")
        self._del_hash = key_arr[order]
        self._del_word = np.array(owners, dtype=np.int32)[order]
        # Word-form backoff: KB words by their first letters.
        self._by_prefix: dict[str, list[str]] = defaultdict(list)
        for word in surface:
            if len(word) >= _PREFIX_MIN:
                self._by_prefix[word[:_PREFIX_MIN]].append(word)

    def _build_centroids(
        self, cvocab: dict[str, int], sentences: list[list[int]], owner: list[int]
    ) -> None:
        """Per-article centroid of the TF-IDF vectors of its title and questions (CSR).

        Each sentence is a vector of ``(1 + ln tf) * idf`` (idf over sentences, smoothed:
        ``ln((1 + n) / (1 + df)) + 1``), scaled to unit length; an article's centroid is
        the mean of its sentences' vectors, scaled to unit length. Stored as float32 CSR
        rows, so memory grows with the KB's distinct words per article, not its vocabulary.
        """
        self.cvocab = cvocab
        n_terms = max(len(cvocab), 1)
        lengths = np.fromiter(map(len, sentences), dtype=np.int64, count=len(sentences))
        sent = np.repeat(np.arange(len(sentences), dtype=np.int64), lengths)
        flat = np.fromiter(
            (t for sentence in sentences for t in sentence), dtype=np.int64, count=len(sent)
        )
        # (sentence, term) pairs with their counts, sorted by sentence then term
        pairs, tf = np.unique(sent * n_terms + flat, return_counts=True)
        p_sent, p_term = pairs // n_terms, pairs % n_terms
        df = np.bincount(p_term, minlength=len(cvocab)).astype(np.float64)
        self.cidf = np.log((1.0 + len(sentences)) / (1.0 + df)) + 1.0
        weight = (1.0 + np.log(tf)) * self.cidf[p_term]
        weight /= np.sqrt(np.bincount(p_sent, weights=weight**2))[p_sent]
        # mean over each article's sentences, then unit length
        art_of_sent = np.array(owner, dtype=np.int64)
        n_sent_of = np.bincount(art_of_sent, minlength=self.n_docs)
        p_art = art_of_sent[p_sent]
        keys, inverse = np.unique(p_art * n_terms + p_term, return_inverse=True)
        value = np.bincount(inverse, weights=weight / n_sent_of[p_art]).astype(np.float64)
        k_art = keys // n_terms
        value /= np.sqrt(np.bincount(k_art, weights=value**2))[k_art]
        self.cent_ptr = np.concatenate([[0], np.cumsum(np.bincount(k_art, minlength=self.n_docs))])
        self.cent_term = (keys % n_terms).astype(np.int32)
        self.cent_w = value.astype(np.float32)

    def _centroid_cosine(self, analysis: Analysis, cand: np.ndarray) -> np.ndarray:
        """Cosine between the query's TF-IDF vector and each candidate's centroid."""
        out = np.zeros(len(cand))
        counts: dict[int, float] = defaultdict(float)
        for qt in analysis.terms:  # content words, repaired (typos map to the KB's word)
            if qt.term >= 0:
                cid = self.cvocab.get(self.terms[qt.term])
                if cid is not None:
                    counts[cid] += qt.quality
        for token in analysis.text.split():  # function words, as typed
            if token in STOPWORDS:
                cid = self.cvocab.get(stem(token))
                if cid is not None:
                    counts[cid] += 1.0
        if not counts or len(cand) == 0:
            return out
        q_ids = np.fromiter(sorted(counts), dtype=np.int64, count=len(counts))
        q_tf = np.array([counts[i] for i in q_ids.tolist()])
        # 1 + ln tf as for the KB's sentences; a repaired word (tf < 1) counts linearly
        q_w = np.where(q_tf >= 1.0, 1.0 + np.log(np.maximum(q_tf, 1.0)), q_tf) * self.cidf[q_ids]
        q_w /= np.linalg.norm(q_w)
        starts, ends = self.cent_ptr[cand], self.cent_ptr[cand + 1]
        lens = ends - starts
        if lens.sum() == 0:
            return out
        idx = _ranges(starts, lens)
        terms = self.cent_term[idx]
        pos = np.minimum(np.searchsorted(q_ids, terms), len(q_ids) - 1)
        hit = q_ids[pos] == terms
        contrib = np.where(hit, q_w[pos] * self.cent_w[idx], 0.0)
        owner = np.repeat(np.arange(len(cand)), lens)
        cosine: np.ndarray = np.bincount(owner, weights=contrib, minlength=len(cand))
        return cosine

    # ------------------------------------------------------------------ query analysis

    def _tokens(self, text: str) -> list[str]:
        """:func:`tokenize`, with each synonym replaced by its set's head word (same script)."""
        tokens = tokenize(text)
        if not self._syn_head:
            return tokens
        return [self._syn_head.get(stem(t), t) for t in tokens]

    def _known(self, token: str) -> int:
        return self.vocab.get(stem(token), -1)

    def _fuzzy(self, token: str) -> tuple[str, int, float]:
        """Closest KB word to a misspelt token: (word, term id, similarity) or ("", -1, 0)."""
        n = len(token)
        if n < _FUZZY_MIN_LEN:
            return "", -1, 0.0
        hashes = np.array([_key(v) for v in _deletions(token)], dtype=np.int64)
        lo = np.searchsorted(self._del_hash, hashes, side="left")
        hi = np.searchsorted(self._del_hash, hashes, side="right")
        found = [self._del_word[a:b] for a, b in zip(lo, hi, strict=True) if b > a]
        if not found:
            return "", -1, 0.0
        words = [self._fuzzy_words[i] for i in np.unique(np.concatenate(found))]
        hit = process.extractOne(
            token, words, scorer=OSA.normalized_similarity, score_cutoff=_fuzzy_cutoff(n)
        )
        if hit is None:
            return "", -1, 0.0
        return hit[0], self._surface[hit[0]], float(hit[1])

    def _acronym(self, token: str) -> tuple[str, int, float]:
        """A 3-letter word one substitution away from a 3-letter headline word ("crn" ->
        "crm", "vpm" -> "vpn"): (word, term id, quality) or ("", -1, 0)."""
        if len(token) != 3 or token.isdigit():
            return "", -1, 0.0
        for word in self._acronyms:
            if sum(a != b for a, b in zip(word, token, strict=True)) == 1:
                return word, self._surface[word], _ACRONYM_QUALITY
        return "", -1, 0.0

    def _prefix(self, token: str) -> tuple[str, int, float]:
        """KB word with the longest common prefix: (word, term id, quality) or ("", -1, 0)."""
        if len(token) < _PREFIX_MIN:
            return "", -1, 0.0
        best_word, best_lcp = "", 0
        for word in self._by_prefix.get(token[:_PREFIX_MIN], ()):
            lcp = _PREFIX_MIN
            limit = min(len(word), len(token))
            while lcp < limit and word[lcp] == token[lcp]:
                lcp += 1
            if lcp > best_lcp or (lcp == best_lcp and len(word) < len(best_word)):
                best_word, best_lcp = word, lcp
        if not best_word or best_lcp < _PREFIX_SHARE * len(token):
            return "", -1, 0.0
        return best_word, self._surface[best_word], best_lcp / max(len(token), len(best_word))

    def analyze(self, text: str) -> Analysis:
        """Map a query to KB terms, repairing layout slips, transliteration and typos."""
        out: list[QueryTerm] = []
        repaired: list[str] = []
        for chunk in text.split():
            tokens = self._tokens(chunk)
            content = _content(tokens)
            ids = [self._known(t) for t in content]
            if all(i >= 0 for i in ids):
                repaired.extend(tokens)
                out.extend(
                    self._term(t, i, 1.0, "exact") for t, i in zip(content, ids, strict=True)
                )
                continue
            # "ne" is "не" in Latin letters, not "ту" typed in the wrong layout
            translit_only = bool(content) and all(is_translit_function_word(t) for t in content)
            switched = None if translit_only else switch_layout(chunk)
            resolved: dict[str, QueryTerm] = {}
            if switched is not None:
                alt_tokens = self._tokens(switched)
                alt = _content(alt_tokens)
                alt_ids = [self._known(t) for t in alt]
                if alt_tokens and all(i >= 0 for i in alt_ids):
                    repaired.extend(alt_tokens)
                    out.extend(
                        self._term(t, i, _LAYOUT_QUALITY, "layout")
                        for t, i in zip(alt, alt_ids, strict=True)
                    )
                    continue
                if alt and not any(i >= 0 or is_common_word(t) for t, i in zip(content, ids, strict=True)):
                    # "jnrk.xftncz" ("отключается"): the chunk as typed is no word at all,
                    # and in the other layout a word the KB has in another form or with a
                    # typo; the ways of reading it as typed (translit, typos) compete.
                    resolved = {t: self._resolve(t) for t in content}  # reused below
                    typed_quality = sum(q.quality for q in resolved.values())
                    layout = [] if typed_quality >= len(resolved) * _LAYOUT_QUALITY else [
                        self._resolve(t) for t in alt]
                    if sum(q.quality for q in layout) * _LAYOUT_QUALITY > typed_quality:
                        repaired.extend(alt_tokens)
                        out.extend(replace(q, quality=q.quality * _LAYOUT_QUALITY) for q in layout)
                        continue
            for token in tokens:
                if token in STOPWORDS:
                    repaired.append(token)
                    continue
                if self._known(token) < 0 and is_translit_stopword(token):
                    continue  # "za", "dlya": a function word in Latin letters, not an unknown word
                qt = resolved.get(token) or self._resolve(token)
                out.append(qt)
                repaired.append(qt.text)
        return Analysis(tuple(self._join_split_words(out)), " ".join(repaired))

    def _resolve(self, token: str) -> QueryTerm:
        tid = self._known(token)
        if tid >= 0:
            return self._term(token, tid, 1.0, "exact")
        readings = []  # the token in the other script, each way it may have been meant
        for translit in transliterations(token):
            alt = self._known(translit)
            if alt < 0 and is_cyrillic(translit):
                alt = self._unsigned.get(stem(translit), -1)
            if alt >= 0:
                return self._term(translit, alt, _TRANSLIT_QUALITY, "translit")
            if is_cyrillic(translit):
                # "ai"/"oi"/"ei" are how "ай"/"ой"/"ей" are usually typed ("vaifai" -> "вайфай")
                alt_text = _SHORT_I.sub(lambda m: m.group(1) + "й", translit)
                if alt_text != translit:
                    alt = self._known(alt_text)
                    if alt >= 0:
                        return self._term(alt_text, alt, _TRANSLIT_QUALITY, "translit")
                    translit = alt_text
            readings.append(translit)
        _, fid, sim = self._fuzzy(token)
        for translit in readings:
            if len(translit) >= _FUZZY_MIN_LEN:
                _, fid2, sim2 = self._fuzzy(translit)
                if sim2 * 0.97 > sim:
                    fid, sim = fid2, sim2 * 0.97
        quality = sim**FUZZY_POWER
        _, pid, pquality = self._prefix(token)
        if fid < 0 and pid < 0:
            _, aid, aquality = self._acronym(token)
            if aid >= 0:
                return QueryTerm(token, aid, aquality, self._weight(token, aid), "fuzzy")
        if fid < 0 and pid < 0 and not is_common_word(token):  # "погода" is no "по" + "года"
            xid = self._affixed(token)
            if xid >= 0:
                return QueryTerm(token, xid, _AFFIX_QUALITY, self._weight(token, xid), "affix")
        if pid >= 0 and pquality > quality:
            return QueryTerm(token, pid, pquality, self._weight(token, pid), "prefix")
        if fid >= 0:
            # A typo match may also be a real word the KB lacks ("free" vs "fee"): trust it
            # less than an exact word, and keep the typed form for string similarity.
            return QueryTerm(token, fid, quality, self._weight(token, fid), "fuzzy")
        return QueryTerm(token, -1, 0.0, self._weight(token, -1), "unknown")

    def _affixed(self, token: str) -> int:
        """The KB word an unknown word is built on with a word-formation prefix: the word
        without its prefix is a KB word ("underpaid" -> "paid"), or a KB word without its
        own prefix ("недоплатили" and "заплатили" share "плат"; "платить" too)."""
        for rest in without_prefix(token, _AFFIX_MIN_REST):
            root = stem(rest)
            xid = self.vocab.get(root, self._roots.get(root, -1))
            if xid >= 0:
                return xid
        return -1

    def _join_split_words(self, out: list[QueryTerm]) -> list[QueryTerm]:
        """``wi fi`` → ``wifi``: join two neighbours when only the joined word is known."""
        i, joined = 0, []
        while i < len(out):
            if i + 1 < len(out) and (out[i].how != "exact" or out[i + 1].how != "exact"):
                word = out[i].text + out[i + 1].text
                tid = self._known(word)
                if tid >= 0:
                    joined.append(self._term(word, tid, _JOINED_QUALITY, "joined"))
                    i += 2
                    continue
            joined.append(out[i])
            i += 1
        return joined

    def _term(self, text: str, tid: int, quality: float, how: str) -> QueryTerm:
        return QueryTerm(text, tid, quality, self._weight(text, tid), how)

    def _weight(self, text: str, tid: int) -> float:
        """Information weight of a query word: IDF, less for question words and numbers."""
        weight = float(self.idf[tid]) if tid >= 0 else self.unknown_idf
        if is_weak(text) or (tid >= 0 and self.terms[tid] in WEAK_STEMS):
            return weight * WEAK_FACTOR
        if is_generic(text) or (tid >= 0 and self.terms[tid] in GENERIC_STEMS):
            return weight * GENERIC_FACTOR
        return weight

    # ------------------------------------------------------------------ scoring

    def retrieve(self, analysis: Analysis, limit: int) -> tuple[np.ndarray, np.ndarray]:
        """Stage 1: the ``limit`` best articles and their features (rows follow ``FEATURES``).

        Features are in 0..1: ``bm25`` (BM25F as a share of the best possible for this
        query), ``coverage``, ``headline`` (coverage by title and tags), the rapidfuzz
        features of :meth:`_fuzzy_features`, and ``centroid`` (:meth:`_centroid_cosine`).
        """
        empty = np.zeros(0, dtype=np.int64), np.zeros((0, len(FEATURES)))
        if self.n_docs == 0:
            return empty
        best: dict[int, QueryTerm] = {}
        total = 0.0  # information in the query: Σ weight over its distinct words
        for qt in analysis.terms:
            if qt.term < 0:
                total += qt.weight
                continue
            prev = best.get(qt.term)
            if prev is None:
                total += qt.weight
            if prev is None or qt.quality > prev.quality:
                best[qt.term] = qt
        if not best or total <= 0:
            return empty
        tids = np.fromiter(best.keys(), dtype=np.int64, count=len(best))
        quality = np.fromiter(
            (qt.quality for qt in best.values()), dtype=np.float64, count=len(best)
        )
        weight = np.fromiter((qt.weight for qt in best.values()), dtype=np.float64, count=len(best))
        # BM25 postings carry the plain IDF; weak words (question words, numbers) scale down
        scale = quality * weight / np.maximum(self.idf[tids], 1e-12)
        lo, hi = self.post_ptr[tids], self.post_ptr[tids + 1]
        lens = hi - lo
        idx = _ranges(lo, lens)
        docs = self.post_doc[idx]
        q_of_post = np.repeat(scale, lens)
        w_of_post = np.repeat(weight * quality, lens)
        bm25 = np.bincount(docs, weights=self.post_bm25[idx] * q_of_post, minlength=self.n_docs)
        cov = np.bincount(docs, weights=self.post_cov[idx] * w_of_post, minlength=self.n_docs)
        cand = np.flatnonzero(cov)
        bm_max = (K1 + 1.0) * total
        bm = bm25[cand] / bm_max
        cv = cov[cand] / total
        if len(cand) > limit:
            keep = np.argpartition(-(bm + cv), limit - 1)[:limit]
            cand, bm, cv = cand[keep], bm[keep], cv[keep]
        head_all = np.bincount(docs, weights=self.post_head[idx] * w_of_post, minlength=self.n_docs)
        head = head_all[cand] / total
        order_f, tokenset, fuzzy_cov = self._fuzzy_features(analysis, cand, total)
        centroid = self._centroid_cosine(analysis, cand)
        feats = np.column_stack([bm, cv, head, order_f, tokenset, fuzzy_cov, centroid])
        return cand.astype(np.int64), np.clip(feats, 0.0, 1.0)

    def is_generic_term(self, qt: QueryTerm) -> bool:
        """A query word that says nothing about the topic (``kb.normalize.GENERIC_WORDS``,
        question words, negations, numbers)."""
        if is_weak(qt.text) or is_generic(qt.text):
            return True
        return qt.term >= 0 and (self.terms[qt.term] in GENERIC_STEMS or self.terms[qt.term] in WEAK_STEMS)

    def specific_coverage(self, analysis: Analysis, cand: np.ndarray) -> np.ndarray:
        """Share of the query's *specific* information each candidate covers (0..1).

        Like ``coverage`` but over the words that are not generic ("не работает",
        "won't open", "у всех в отделе"): for "не запускается excel" that is "excel"
        alone, which no IT article has, so none is suggested on the strength of
        "не ... запускается". A query made of generic words only has no specific
        information: every candidate gets 0.
        """
        out = np.zeros(len(cand))
        best: dict[int, QueryTerm] = {}
        total = 0.0
        for qt in analysis.terms:
            if self.is_generic_term(qt):
                continue
            if qt.term < 0 or (qt.how in _REPAIRS and is_common_word(qt.text)):
                # unknown, or a real word repaired into a KB word ("лифт" -> "лист"): it
                # still ranks, but is no evidence that the KB covers the topic
                total += qt.weight
                continue
            prev = best.get(qt.term)
            if prev is None:
                total += qt.weight
            if prev is None or qt.quality > prev.quality:
                best[qt.term] = qt
        if total <= 0 or not best or len(cand) == 0:
            return out
        tids = np.fromiter(best.keys(), dtype=np.int64, count=len(best))
        w = np.fromiter((qt.weight * qt.quality for qt in best.values()), dtype=np.float64)
        lo, hi = self.post_ptr[tids], self.post_ptr[tids + 1]
        lens = hi - lo
        idx = _ranges(lo, lens)
        cov = np.bincount(
            self.post_doc[idx], weights=self.post_cov[idx] * np.repeat(w, lens),
            minlength=self.n_docs,
        )
        result: np.ndarray = np.clip(cov[cand] / total, 0.0, 1.0)
        return result

    def _fuzzy_features(
        self, analysis: Analysis, cand: np.ndarray, total: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """rapidfuzz features of the candidates (stage 2, cost independent of KB size)."""
        n = len(cand)
        order_f, tokenset, fuzzy_cov = np.zeros(n), np.zeros(n), np.zeros(n)
        if n == 0:
            return order_f, tokenset, fuzzy_cov
        starts, ends = self.q_ptr[cand], self.q_ptr[cand + 1]
        strings = [s for a, b in zip(starts, ends, strict=True) for s in self.q_text[a:b]]
        offsets = np.concatenate([[0], np.cumsum(ends - starts)])[:-1]
        query = analysis.text
        sort_sim = process.cdist([query], strings, scorer=fuzz.token_sort_ratio, workers=1)[0]
        set_sim = process.cdist([query], strings, scorer=fuzz.token_set_ratio, workers=1)[0]
        order_f = np.maximum.reduceat(sort_sim, offsets) / 100.0
        # mean of each candidate's (up to) three best token_set_ratio values, vectorised:
        # pad the candidates' rows to one width with -1, sort each row, keep the last 3
        counts = ends - starts
        padded = np.full((n, int(counts.max())), -1.0)
        padded[
            np.repeat(np.arange(n), counts), np.arange(len(strings)) - np.repeat(offsets, counts)
        ] = set_sim
        top = np.sort(padded, axis=1)[:, -3:]
        valid = top >= 0
        tokenset = np.where(valid, top, 0.0).sum(axis=1) / np.maximum(valid.sum(axis=1), 1) / 100.0
        words_q = [qt.text for qt in analysis.terms]
        if words_q:
            weights = np.array([qt.weight for qt in analysis.terms])
            w_starts, w_ends = self.w_ptr[cand], self.w_ptr[cand + 1]
            words = [w for a, b in zip(w_starts, w_ends, strict=True) for w in self.words[a:b]]
            w_off = np.concatenate([[0], np.cumsum(w_ends - w_starts)])[:-1]
            sim = process.cdist(words_q, words, scorer=fuzz.ratio, workers=1, dtype=np.float32)
            best = np.maximum.reduceat(sim / 100.0, w_off, axis=1) ** 4  # (query words, cand)
            fuzzy_cov = (weights[:, None] * best).sum(axis=0) / max(total, weights.sum())
        return order_f, tokenset, fuzzy_cov
