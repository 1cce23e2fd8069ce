"""Fit the ranking weights and the score calibration in ``kb/ranking.py``.

Uses only the *tune* part of the BANKING77 split (see ``bench/_common.py``) plus
cross-domain negatives (the sample IT KB's own example questions asked of the banking KB,
and the banking KB's questions asked of the IT KB: none of them has an answer there).
Prints the fitted constants for ``kb/ranking.py`` and a threshold table; it does not
edit any file. Run: ``python bench/fit_ranking.py``.
"""

from __future__ import annotations

import sys
from dataclasses import replace

import numpy as np
from _common import banking77_split

from kb.articles import Article, default_kb_dir, load_articles
from kb.index import FEATURES, Index
from kb.matcher import CANDIDATES


def features(index: Index, texts: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for text in texts:
        cand, feats = index.retrieve(index.analyze(text), CANDIDATES)
        out.append((cand, feats))
    return out


def it_leave_one_out(articles: list[Article]) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """Each example question of the sample KB asked of the KB without that question.

    Short, colloquial, bilingual positives that are not part of any evaluation set.
    """
    rows = []
    for i, art in enumerate(articles):
        for j, question in enumerate(art.questions):
            rest = art.questions[:j] + art.questions[j + 1 :]
            kb = [*articles[:i], replace(art, questions=rest), *articles[i + 1 :]]
            index = Index(kb)
            cand, feats = index.retrieve(index.analyze(question), CANDIDATES)
            rows.append((cand, feats, i))
    return rows


def fit_softmax(
    rows: list[tuple[np.ndarray, int, float]], steps: int = 3000, lr: float = 1.0
) -> np.ndarray:
    """Weights maximising the (weighted) softmax likelihood of the right candidate."""
    w = np.ones(len(FEATURES))
    total = sum(weight for _, _, weight in rows)
    for _ in range(steps):
        grad = np.zeros_like(w)
        for feats, gold, weight in rows:
            z = feats @ w
            p = np.exp(z - z.max())
            p /= p.sum()
            p[gold] -= 1.0
            grad += weight * (p @ feats)
        w -= lr * (grad / total + 1e-3 * w)
    return w


def fit_logistic(x: np.ndarray, y: np.ndarray, steps: int = 50) -> tuple[float, float]:
    """1-D logistic regression p = sigmoid(a*x + c), by Newton's method (stable, exact)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    mean, std = float(x.mean()), float(x.std()) or 1.0
    u = (x - mean) / std
    design = np.column_stack([u, np.ones_like(u)])
    theta = np.zeros(2)
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(design @ theta)))
        grad = design.T @ (p - y) + 1e-6 * theta
        hess = (design * (p * (1 - p))[:, None]).T @ design + 1e-6 * np.eye(2)
        theta -= np.linalg.solve(hess, grad)
    a = float(theta[0] / std)
    return a, float(theta[1] - a * mean)


def main() -> int:
    articles, tune = banking77_split(part="tune")
    bank = Index(articles)
    slug_pos = {a.slug: i for i, a in enumerate(articles)}
    it_articles = load_articles(default_kb_dir())
    it = Index(it_articles)

    rank_rows = []
    missing = 0
    for q, (cand, feats) in zip(tune, features(bank, [q.text for q in tune]), strict=True):
        where = np.flatnonzero(cand == slug_pos[str(q.slug)])
        if len(where) == 0:
            missing += 1
            continue
        rank_rows.append((feats, int(where[0]), 1.0))
    print(f"tune queries: {len(tune)}, gold not among candidates: {missing}")
    loo = it_leave_one_out(it_articles)
    loo_weight = len(rank_rows) / len(loo) / 3  # the IT rows count for a quarter
    for cand, feats, gold in loo:
        where = np.flatnonzero(cand == gold)
        if len(where):
            rank_rows.append((feats, int(where[0]), loo_weight))
    print(f"IT leave-one-out questions: {len(loo)}")
    w = fit_softmax(rank_rows)
    print("ranking weights:", dict(zip(FEATURES, np.round(w, 3), strict=True)))

    # calibration: positives are the right article's score for in-scope queries (it must
    # clear the threshold even when ranked 2nd or 3rd), negatives the best score of
    # queries the KB has no answer to
    xs, ys = [], []
    bank_right = []
    for q, (cand, feats) in zip(tune, features(bank, [q.text for q in tune]), strict=True):
        where = np.flatnonzero(cand == slug_pos[str(q.slug)])
        if len(where) == 0:
            continue
        s = feats @ w
        xs.append(s[where[0]])
        ys.append(1.0)
        bank_right.append(1.0 if int(np.argmax(s)) == where[0] else 0.0)
    print(f"banking tune top-1 (no threshold, gold among candidates): {np.mean(bank_right):.4f}")
    it_xs = []
    it_right = []
    for cand, feats, gold in loo:
        where = np.flatnonzero(cand == gold)
        if len(where):
            s = feats @ w
            it_xs.append(s[where[0]])
            it_right.append(1.0 if int(np.argmax(s)) == where[0] else 0.0)
    print(f"IT leave-one-out top-1: {np.mean(it_right):.4f}")
    reps_it = max(1, round(len(xs) / len(it_xs) / 3))
    xs.extend(np.repeat(it_xs, reps_it).tolist())
    ys.extend([1.0] * (len(it_xs) * reps_it))
    oos_texts = [t for a in it_articles for t in a.questions]
    oos_texts_it = [t for a in articles for t in a.questions]
    neg = []
    for index, texts in ((bank, oos_texts), (it, oos_texts_it)):
        for cand, feats in features(index, texts):
            if len(cand):
                neg.append(float((feats @ w).max()))
            else:
                neg.append(-np.inf)
    finite_neg = [x for x in neg if np.isfinite(x)]
    x = np.array(xs + finite_neg)
    y = np.array(ys + [0.0] * len(finite_neg))
    # weigh negatives so that in-scope and out-of-scope count equally
    reps = max(1, round(len(xs) / max(1, len(finite_neg))))
    x = np.concatenate([np.array(xs), np.repeat(finite_neg, reps)])
    y = np.concatenate([np.array(ys), np.zeros(len(finite_neg) * reps)])
    a, c = fit_logistic(x, y)
    weights, bias = w * a, c
    print("\nkb/ranking.py constants:")
    print("WEIGHTS = np.array([" + ", ".join(f"{v:.4f}" for v in weights) + "])")
    print(f"BIAS = {bias:.4f}")

    def conf(s: float) -> float:
        return 1.0 / (1.0 + np.exp(-(a * s + c)))

    bank_pos = np.array([conf(s) for s in xs[: len(bank_right)]])
    it_pos = np.array([conf(s) for s in it_xs])
    negc = np.array([conf(s) if np.isfinite(s) else 0.0 for s in neg])
    print("\nthreshold  banking right article kept  IT right article kept  OOS rejected")
    for t in (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7):
        print(
            f"{t:9.2f}  {np.mean(bank_pos >= t):27.3f}  {np.mean(it_pos >= t):21.3f}"
            f"  {np.mean(negc < t):12.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
