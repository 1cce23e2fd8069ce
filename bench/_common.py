"""Shared helpers for the bench scripts: data locations, the BANKING77 split, baselines.

Bench scripts are run from the repository root (``python bench/xxx.py``); this module
puts the root on ``sys.path`` so they can import ``kb``.
"""

from __future__ import annotations

import csv
import random
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from kb.articles import Article  # noqa: E402
from kb.bm25 import BM25Baseline  # noqa: E402,F401  (moved to kb/bm25.py; re-exported)
from kb.evaluate import EvalQuery  # noqa: E402
from kb.matcher import Suggestion  # noqa: E402
from kb.normalize import tokenize  # noqa: E402

# ../shared/data/banking77 next to the checkout (or next to a parent: git worktrees live
# one level deeper, e.g. /work/wt/<name>).
BANKING77_DIR = next(
    (p / "shared" / "data" / "banking77" for p in ROOT.parents
     if (p / "shared" / "data" / "banking77").is_dir()),
    ROOT.parent / "shared" / "data" / "banking77",
)
SPLIT_SEED = 77
QUESTIONS_PER_INTENT = 10
TUNE_SHARE = 0.25


def banking77_split(
    data_dir: Path = BANKING77_DIR,
    *,
    seed: int = SPLIT_SEED,
    per_intent: int = QUESTIONS_PER_INTENT,
    part: str = "eval",
) -> tuple[list[Article], list[EvalQuery]]:
    """The reproducible BANKING77 split: one article per intent, the rest as queries.

    For each intent (in sorted order) its train rows are shuffled with
    ``random.Random(f"{seed}:{intent}")``; the first ``per_intent`` become the article's
    ``questions``. Of the remaining rows the first ``TUNE_SHARE`` are the *tune* part (the
    only queries ``bench/fit_ranking.py`` may look at), the rest the *eval* part that the
    figures are reported on. ``part`` is ``"eval"``, ``"tune"`` or ``"all"``.
    """
    by_intent: dict[str, list[str]] = defaultdict(list)
    with (data_dir / "train.csv").open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            by_intent[row["category"]].append(row["text"].strip())
    articles: list[Article] = []
    queries: list[EvalQuery] = []
    for intent in sorted(by_intent):
        texts = list(by_intent[intent])
        random.Random(f"{seed}:{intent}").shuffle(texts)
        title = intent.replace("_", " ").capitalize()
        articles.append(
            Article(
                slug=intent,
                title=title,
                body=f"{title}.",
                lang="en",
                tags=(),
                questions=tuple(texts[:per_intent]),
            )
        )
        rest = texts[per_intent:]
        n_tune = round(len(rest) * TUNE_SHARE)
        chosen = {"tune": rest[:n_tune], "eval": rest[n_tune:], "all": rest}[part]
        queries.extend(EvalQuery(t, intent) for t in chosen)
    return articles, queries


def write_kb(articles: Sequence[Article], directory: Path) -> None:
    """Write articles as ``<slug>.md`` files (so ``deskbot kb eval`` can read them)."""
    import yaml

    directory.mkdir(parents=True, exist_ok=True)
    for art in articles:
        meta: dict[str, object] = {"title": art.title, "lang": art.lang}
        if art.tags:
            meta["tags"] = list(art.tags)
        meta["questions"] = list(art.questions)
        front = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False)
        (directory / f"{art.slug}.md").write_text(f"---\n{front}---\n{art.body}\n", "utf-8")


def write_queries(queries: Sequence[EvalQuery], path: Path) -> None:
    """Write queries as a ``text,slug`` CSV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "slug"])
        for q in queries:
            writer.writerow([q.text, q.slug or ""])


class TokenSetBaseline:
    """rapidfuzz ``token_set_ratio`` of the query against each title/question, best per article."""

    def __init__(self, articles: Sequence[Article]) -> None:
        self.articles = list(articles)
        self.choices: list[str] = []
        self.owner: list[int] = []
        for i, a in enumerate(self.articles):
            for text in (a.title, *a.questions):
                self.choices.append(" ".join(tokenize(text)))
                self.owner.append(i)

    def search(self, text: str, limit: int = 3) -> list[Suggestion]:
        """Top ``limit`` articles by their best ``token_set_ratio`` (0..1)."""
        import numpy as np
        from rapidfuzz import fuzz, process

        scores = process.cdist(
            [" ".join(tokenize(text))], self.choices, scorer=fuzz.token_set_ratio
        )[0]
        best = np.zeros(len(self.articles))
        np.maximum.at(best, np.array(self.owner), scores / 100.0)
        order = sorted(range(len(best)), key=lambda i: (-best[i], self.articles[i].slug))
        return [
            Suggestion(self.articles[i].slug, self.articles[i].title, float(best[i]))
            for i in order[:limit]
        ]
