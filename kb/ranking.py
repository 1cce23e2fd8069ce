"""From candidate features to one calibrated 0..1 confidence.

``confidence = sigmoid(features · WEIGHTS + BIAS)``. The weights are fitted by
``bench/fit_ranking.py`` on the *tuning* part of our BANKING77 split (never on the
evaluation part) with two goals: rank the right article first (softmax over the
candidates), and make the confidence mean "probability that this suggestion is the
right one" — including for queries whose article is missing from the KB, which teaches
the model to say "nothing fits". Because every feature is itself a 0..1 quantity about
the query and one article (shares of the query's information, string similarities), the
same threshold means the same thing for any KB.
"""

from __future__ import annotations

import numpy as np

from kb.index import FEATURES

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
WEIGHTS = np.array([7.1656, 9.1392, 5.2781, 7.5336, 9.5028, 0.7791])
BIAS = -14.3093

assert len(WEIGHTS) == len(FEATURES)


# Semantic extra (kb/semantic.py), fitted by bench/fit_semantic.py. Order: the semantic
# features (kb.semantic.SEM_FEATURES) then the lexical ones (FEATURES) · RANK weights;
# score: sigmoid([lexical logit, semantic features but "head"] · SEMANTIC_WEIGHTS + BIAS).
SEMANTIC_RANK_WEIGHTS = np.array(
    [3.2001, 2.8458, 2.7199, 2.8912, 2.8369, 0.7759, 1.6381, 0.8212, 0.7893, -0.3018, 1.2750]
)
SEMANTIC_WEIGHTS = np.array([0.2114, 4.5905, 4.2703, 5.0495, 4.3311])
SEMANTIC_BIAS = -10.0140


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
