"""From candidate features to one calibrated 0..1 confidence.

``confidence = sigmoid(features · WEIGHTS + BIAS)``. Fitted by ``bench/fit_ranking.py``
on the *tune* part of our BANKING77 split (never on the evaluation part) and on the
sample KB's own questions asked with that question left out, in two steps: the
direction of ``WEIGHTS`` ranks the right article first (softmax over the candidates);
then a logistic fit of scale and ``BIAS`` separates "the right article for a query the
KB can answer" from the best article for queries it cannot answer (cross-domain
negatives). Because every feature is a 0..1 quantity about the query and one article
(shares of the query's information, string similarities) and none is relative to the
other articles, the same threshold means the same thing for any KB.
"""

from __future__ import annotations

import numpy as np

from kb.previous.index import FEATURES

__all__ = [
    "BIAS",
    "SEMANTIC_BIAS",
    "SEMANTIC_RANK_WEIGHTS",
    "SEMANTIC_WEIGHTS",
    "WEIGHTS",
    "confidence",
    "lexical_logit",
]

# Order follows kb.index.FEATURES.
WEIGHTS = np.array([3.1083, 5.4074, 2.7983, 3.8053, 4.2432, 0.2665, 3.7654])
BIAS = -8.3209

assert len(WEIGHTS) == len(FEATURES)


# Semantic extra (kb/semantic.py), fitted by bench/fit_semantic.py. Order: the semantic
# features (kb.semantic.SEM_FEATURES) then the lexical ones (FEATURES) · RANK weights;
# score: sigmoid([lexical logit, semantic features but "head"] · SEMANTIC_WEIGHTS + BIAS).
SEMANTIC_RANK_WEIGHTS = np.array(
    [3.1960, 2.8202, 2.6488, 2.8742, 2.8157]  # best, top2, centroid, soft, head
    + [0.6617, 1.5748, 0.7527, 0.7088, -0.4434, 1.2725, 0.6663]  # kb.index.FEATURES
)
SEMANTIC_WEIGHTS = np.array([0.3652, 4.5975, 4.2327, 4.9015, 4.3137])
SEMANTIC_BIAS = -9.8324


def lexical_logit(features: np.ndarray) -> np.ndarray:
    """The lexical score before the sigmoid (``features · WEIGHTS + BIAS``)."""
    if features.size == 0:
        return np.zeros(len(features))
    z: np.ndarray = features @ WEIGHTS + BIAS
    return z


def confidence(
    features: np.ndarray, weights: np.ndarray = WEIGHTS, bias: float = BIAS
) -> np.ndarray:
    """Calibrated probability that each candidate (one row of features) is the right article."""
    if features.size == 0:
        return np.zeros(len(features))
    z: np.ndarray = features @ weights + bias
    p: np.ndarray = 1.0 / (1.0 + np.exp(-z))
    return p
