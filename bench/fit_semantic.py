"""Fit the semantic combination weights in ``kb/ranking.py`` (needs the semantic extra).

Same data discipline as ``fit_ranking.py``: the *tune* part of the BANKING77 split for
ranking and positives, cross-domain queries for negatives (the sample KB's English
questions asked of the banking KB and the banking questions asked of the sample KB's
English articles). Prints the constants and a threshold table; edits no file.

Run: ``python bench/fit_semantic.py``
"""

from __future__ import annotations

import sys

import numpy as np
from _common import banking77_split
from fit_ranking import fit_logistic

from kb.articles import default_kb_dir, load_articles
from kb.index import FEATURES
from kb.matcher import CANDIDATES
from kb.semantic import SEM_FEATURES, SemanticIndex, load_encoder, semantic_features


def rows_for(
    index: SemanticIndex, texts: list[str], encoder
) -> list[tuple[np.ndarray, np.ndarray]]:
    vecs = encoder(texts)
    out = []
    for text, vec in zip(texts, vecs, strict=True):
        cand, feats = index.retrieve(index.analyze(text), CANDIDATES)
        all_cand, lex, x = semantic_features(index, vec, cand, feats)
        # columns: lexical logit, semantic features, lexical features
        out.append((all_cand, np.column_stack([lex, x])))
    return out


def main() -> int:
    encoder = load_encoder()
    articles, tune = banking77_split(part="tune")
    bank = SemanticIndex(articles, encoder)
    pos_of = {a.slug: i for i, a in enumerate(articles)}
    it_en = [a for a in load_articles(default_kb_dir()) if a.lang == "en"]
    it = SemanticIndex(it_en, encoder)

    rows = rows_for(bank, [q.text for q in tune], encoder)
    data = []
    for q, (cand, x) in zip(tune, rows, strict=True):
        where = np.flatnonzero(cand == pos_of[str(q.slug)])
        if len(where):
            data.append((x, int(where[0])))
    print(f"tune queries: {len(tune)}, gold among candidates: {len(data)}")

    def fit(cols: list[int]) -> np.ndarray:
        w = np.ones(len(cols))
        for _ in range(2000):
            grad = np.zeros_like(w)
            for x, gold in data:
                xc = x[:, cols]
                z = xc @ w
                p = np.exp(z - z.max())
                p /= p.sum()
                p[gold] -= 1.0
                grad += p @ xc
            w -= 0.5 * (grad / len(data) + 1e-3 * w)
        return w

    names = ["lexical logit", *SEM_FEATURES, *FEATURES]
    rank_cols = list(range(1, len(names)))  # semantic + individual lexical features
    rank_w = fit(rank_cols)
    top1 = np.mean([int(np.argmax(x[:, rank_cols] @ rank_w)) == g for x, g in data])
    print("ranking weights (" + ", ".join(names[1:]) + "):", np.round(rank_w, 4))
    print(f"tune top-1 (no threshold): {top1:.4f}")
    print("SEMANTIC_RANK_WEIGHTS = np.array([" + ", ".join(f"{v:.4f}" for v in rank_w) + "])")
    absolute = list(range(len(SEM_FEATURES)))  # lexical logit + semantic but "head"
    w = fit(absolute)
    data = [(x[:, absolute], g) for x, g in data]
    pos = [float((x @ w)[g]) for x, g in data]
    neg = []
    for index, texts in (
        (bank, [t for a in it_en for t in a.questions]),
        (it, [t for a in articles for t in a.questions]),
    ):
        for cand, x in rows_for(index, texts, encoder):
            if len(cand):
                neg.append(float((x[:, absolute] @ w).max()))
    reps = max(1, round(len(pos) / len(neg)))
    xs = np.concatenate([pos, np.repeat(neg, reps)])
    ys = np.concatenate([np.ones(len(pos)), np.zeros(len(neg) * reps)])
    a, c = fit_logistic(xs, ys)
    print("\nkb/ranking.py constants:")
    print("SEMANTIC_WEIGHTS = np.array([" + ", ".join(f"{v:.4f}" for v in w * a) + "])")
    print(f"SEMANTIC_BIAS = {c:.4f}")
    conf_pos = 1 / (1 + np.exp(-(a * np.array(pos) + c)))
    conf_neg = 1 / (1 + np.exp(-(a * np.array(neg) + c)))
    print("\nthreshold  right article kept  OOS rejected")
    for t in (0.05, 0.1, 0.2, 0.3, 0.5):
        print(f"{t:9.2f}  {np.mean(conf_pos >= t):18.3f}  {np.mean(conf_neg < t):12.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
