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

__all__ = ["BIAS", "WEIGHTS", "confidence"]

# Order follows kb.index.FEATURES.
WEIGHTS = np.array([2.0, 4.0, 1.0, 2.0, 2.0, 2.0, 2.0])
BIAS = -7.0

assert len(WEIGHTS) == len(FEATURES)


def confidence(features: np.ndarray, weights: np.ndarray = WEIGHTS, bias: float = BIAS) -> np.ndarray:
    """Calibrated probability that each candidate (one row of features) is the right article."""
    if features.size == 0:
        return np.zeros(len(features))
    z = features @ weights + bias
    return 1.0 / (1.0 + np.exp(-z))
