"""Routing rules: which category (and so team) a request is about, and how urgent it is.

Keywords from config are matched against the words of the request, tolerating
typos and word forms (``принтер`` / ``принтера`` / ``printr``) with rapidfuzz.
"""

from __future__ import annotations

import re

from rapidfuzz import fuzz

from bot.config import Config

_WORD = re.compile(r"[\w\-]+", re.UNICODE)
FUZZY_MIN = 85


def normalise(text: str) -> str:
    return text.lower().replace("ё", "е")


def words(text: str) -> list[str]:
    return _WORD.findall(normalise(text))


def _word_matches(word: str, keyword: str) -> bool:
    if word == keyword:
        return True
    if len(keyword) >= 4 and word.startswith(keyword[: max(4, len(keyword) - 2)]):
        return True  # word forms: принтер → принтера, password → passwords
    if len(keyword) >= 5 and len(word) >= 4:
        return fuzz.ratio(word, keyword) >= FUZZY_MIN
    return False


def keyword_hits(text: str, keywords: list[str]) -> int:
    """How many of ``keywords`` occur in ``text`` (phrases as substrings, words fuzzily)."""
    norm = normalise(text)
    tokens = words(text)
    hits = 0
    for kw in keywords:
        k = normalise(kw)
        if " " in k:
            if k in norm:
                hits += 1
        elif any(_word_matches(w, k) for w in tokens):
            hits += 1
    return hits


def guess_category(text: str, config: Config) -> str | None:
    """The category whose keywords match best; ``None`` when nothing matches or it is a tie."""
    scores = {key: keyword_hits(text, cat.keywords) for key, cat in config.categories.items()}
    best = max(scores.values(), default=0)
    if best == 0:
        return None
    winners = [k for k, v in scores.items() if v == best]
    return winners[0] if len(winners) == 1 else None


def infer_priority(text: str, config: Config) -> str:
    """The most urgent priority whose keywords occur; the default priority otherwise.

    Priorities are listed in config from least to most urgent."""
    chosen = config.default_priority
    for key, prio in config.priorities.items():
        if prio.keywords and keyword_hits(text, prio.keywords) > 0:
            chosen = key
    return chosen
