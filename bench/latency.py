"""Search latency of the lexical matcher as the KB grows (synthetic articles).

Builds KBs of 1,000 / 10,000 / 100,000 synthetic articles (words drawn with a Zipf-like
distribution from a vocabulary of real words — the sample KB and BANKING77 — plus
generated pseudo-words, so the vocabulary grows with the KB as real ones do), then times
``Matcher.search`` one query at a time over a mix of real queries, queries with typos
and layout slips, and out-of-scope queries. Prints p50/p99 per size beside a plain
rapidfuzz baseline (``process.extract`` with ``token_set_ratio`` over every question)
for the sizes where that baseline finishes in reasonable time.

Then start-up: the same KBs written as Markdown files and opened the way ``deskbot run``
does (``Matcher.from_dir``: read the files, then build the index or load it from the
on-disk cache, kb/cache.py). ``cold_s`` is a first start (parse every article, build,
write the cache), ``warm_s`` a restart with the KB unchanged (hash the files, load the
cached index); the cold build is the baseline the warm start is printed beside.

Run: ``python bench/latency.py [--sizes 1000,10000,100000] [--queries 1000]``;
``--smoke`` runs small sizes in seconds (CI keeps the script from rotting).
"""

from __future__ import annotations

import argparse
import csv
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from _common import BANKING77_DIR, ROOT

from kb.articles import Article, default_kb_dir, load_articles
from kb.matcher import Matcher
from kb.normalize import tokenize

SEED = 2024


def real_words(banking77: Path = BANKING77_DIR) -> tuple[list[str], list[str]]:
    """Distinct words of the sample KB and BANKING77, split into Russian and English
    (the sample KB and the IT queries only if BANKING77 is not there: smoke runs)."""
    texts = []
    for art in load_articles(default_kb_dir()):
        texts += [art.title, art.body, *art.questions]
    train = banking77 / "train.csv"
    if not train.is_file():
        print(f"note: {train} not found, words from the sample KB and IT queries only")
        train = ROOT / "bench" / "data" / "it_queries.csv"
    with train.open(encoding="utf-8", newline="") as f:
        texts += [row["text"] for row in csv.DictReader(f)]
    ru: set[str] = set()
    en: set[str] = set()
    for text in texts:
        for token in tokenize(text):
            if token.isalpha() and len(token) > 1:
                (ru if "а" <= token[0] <= "я" else en).add(token)
    return sorted(ru), sorted(en)


def pseudo_words(rng: random.Random, n: int, alphabet: str) -> list[str]:
    """Pronounceable-ish made-up words (product names, jargon, names...)."""
    out: set[str] = set()
    while len(out) < n:
        out.add("".join(rng.choice(alphabet) for _ in range(rng.randint(4, 10))))
    return sorted(out)


def synthetic_kb(n: int, rng: random.Random, ru: list[str], en: list[str]) -> list[Article]:
    """``n`` articles, half Russian half English, each with a title, 6 questions and a body."""
    extra = max(2_000, n * 2)  # vocabulary keeps growing with the KB
    vocab = {
        "ru": ru + pseudo_words(rng, extra, "абвгдеиклмнопрстуфя"),
        "en": en + pseudo_words(rng, extra, "abcdefghiklmnoprstuvy"),
    }
    cdf = {}
    for lang, w in vocab.items():
        weights = 1.0 / (np.arange(len(w)) + 10.0)  # Zipf-like word frequencies
        cdf[lang] = np.cumsum(weights) / weights.sum()
    np_rng = np.random.default_rng(rng.randrange(2**32))
    orders = {lang: np_rng.permutation(len(w)) for lang, w in vocab.items()}

    def words(lang: str, k: int) -> str:
        ids = np.searchsorted(cdf[lang], np_rng.random(k))
        ids = np.minimum(ids, len(vocab[lang]) - 1)
        return " ".join(vocab[lang][orders[lang][i]] for i in ids)

    arts = []
    for i in range(n):
        lang = "ru" if i % 2 else "en"
        arts.append(
            Article(
                slug=f"synthetic-{i:06d}",
                title=words(lang, rng.randint(3, 7)),
                body=words(lang, rng.randint(40, 120)),
                lang=lang,
                tags=tuple(words(lang, 1) for _ in range(rng.randint(0, 3))),
                questions=tuple(words(lang, rng.randint(4, 10)) for _ in range(6)),
            )
        )
    return arts


def typo(word: str, rng: random.Random) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def query_mix(rng: random.Random, arts: list[Article], n: int) -> list[str]:
    """Real queries, KB questions with typos, layout slips and out-of-scope texts."""
    with (ROOT / "bench" / "data" / "it_queries.csv").open(encoding="utf-8") as f:
        real = [row["text"] for row in csv.DictReader(f)]
    out: list[str] = []
    while len(out) < n:
        kind = rng.random()
        if kind < 0.4:
            out.append(rng.choice(real))
        else:
            q = rng.choice(rng.choice(arts).questions).split()
            out.append(" ".join(typo(w, rng) if rng.random() < 0.3 else w for w in q))
    return out


def time_queries(search, queries: list[str]) -> tuple[float, float]:
    search(queries[0])
    times = []
    for q in queries:
        t0 = time.perf_counter()
        search(q)
        times.append((time.perf_counter() - t0) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))


# The targets, printed beside the figures.
TARGET_P99_MS = {1_000: 5.0, 100_000: 50.0}


def write_kb(arts: list[Article], directory: Path) -> None:
    """The articles as ``<slug>.md`` files (front matter dumped by YAML, so every word stays
    a string: a tag "no" would otherwise read back as ``false``)."""
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    for art in arts:
        meta = {"title": art.title, "lang": art.lang, "tags": list(art.tags),
                "questions": list(art.questions)}
        front = yaml.dump(meta, Dumper=dumper, allow_unicode=True, sort_keys=False)
        (directory / f"{art.slug}.md").write_text(f"---\n{front}---\n{art.body}\n", encoding="utf-8")


def startup(arts: list[Article], queries: list[str]) -> tuple[float, float, float]:
    """(cold start s, warm start s, cache MB) for a KB directory of these articles; checks
    the warm matcher answers exactly as the cold one."""
    tmp = Path(tempfile.mkdtemp(prefix="deskbot-latency-"))
    try:
        kb_dir, cache = tmp / "kb", tmp / "cache"
        kb_dir.mkdir()
        write_kb(arts, kb_dir)
        t0 = time.perf_counter()
        cold = Matcher.from_dir(kb_dir, cache_dir=cache)
        cold_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        warm = Matcher.from_dir(kb_dir, cache_dir=cache)
        warm_s = time.perf_counter() - t0
        for q in queries[:50]:
            if warm.search(q) != cold.search(q):
                raise SystemExit(f"warm and cold matchers disagree on {q!r}")
        size = sum(p.stat().st_size for p in cache.glob("*.idx")) / 1e6
        return cold_s, warm_s, size
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument(
        "--baseline-max",
        type=int,
        default=10000,
        help="largest KB the slow rapidfuzz baseline is timed on",
    )
    parser.add_argument("--banking77", type=Path, default=BANKING77_DIR,
                        help="directory with BANKING77's train.csv (a source of real words)")
    parser.add_argument("--smoke", action="store_true",
                        help="small sizes and few queries: runs in seconds")
    parser.add_argument("--no-startup", action="store_true", help="skip the start-up part")
    args = parser.parse_args()
    if args.smoke:
        args.sizes, args.queries, args.baseline_max = "300,1000", 200, 300
    rng = random.Random(SEED)
    ru, en = real_words(args.banking77)
    print("search latency per query (ms), one query at a time")
    print(
        f"{'articles':>9}  {'build_s':>7}  {'p50_ms':>7}  {'p99_ms':>7}  {'baseline_p50':>12}  {'baseline_p99':>12}  target_p99"
    )
    kbs: list[tuple[int, list[Article], list[str]]] = []
    for n in (int(s) for s in args.sizes.split(",")):
        arts = synthetic_kb(n, rng, ru, en)
        t0 = time.perf_counter()
        matcher = Matcher(arts)
        build = time.perf_counter() - t0
        queries = query_mix(rng, arts, args.queries)
        p50, p99 = time_queries(matcher.search, queries)
        b50 = b99 = "-"
        if n <= args.baseline_max:
            from rapidfuzz import fuzz, process

            choices = [q for a in arts for q in a.questions]
            bq = queries[: max(50, args.queries // 10)]

            def baseline(text: str, choices: list[str] = choices) -> object:
                return process.extract(text, choices, scorer=fuzz.token_set_ratio, limit=3)

            r50, r99 = time_queries(baseline, bq)
            b50, b99 = f"{r50:.2f}", f"{r99:.2f}"
        target = TARGET_P99_MS.get(n)
        verdict = "-" if target is None else f"<={target:g}:{'ok' if p99 <= target else 'MISSED'}"
        print(f"{n:>9}  {build:>7.1f}  {p50:>7.2f}  {p99:>7.2f}  {b50:>12}  {b99:>12}  {verdict}",
              flush=True)
        del matcher
        kbs.append((n, arts, queries))
    if args.no_startup:
        return 0
    print()
    print("start-up from a KB directory (Matcher.from_dir): cold build vs warm index cache")
    print(f"{'articles':>9}  {'cold_s':>8}  {'warm_s':>8}  {'speedup':>8}  {'cache_MB':>8}")
    for n, arts, queries in kbs:
        cold_s, warm_s, size = startup(arts, queries)
        print(f"{n:>9}  {cold_s:>8.2f}  {warm_s:>8.2f}  {cold_s / warm_s:>7.1f}x  {size:>8.1f}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
