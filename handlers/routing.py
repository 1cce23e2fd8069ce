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


NEGATIONS = frozenset({"не", "нет", "not", "no", "isn't", "without", "без"})
_CYRILLIC = re.compile(r"[а-я]")


def _word_matches(word: str, keyword: str) -> bool:
    if word == keyword:
        return True
    # Word forms. Russian changes endings (учётная → учетной), so a stem prefix is
    # enough; English only adds suffixes (printer → printers), so the whole keyword
    # must be there ("team" is not "teams").
    stem = keyword[: max(4, len(keyword) - 2)] if _CYRILLIC.search(keyword) else keyword
    if len(keyword) >= 4 and word.startswith(stem):
        return True
    if len(keyword) >= 5 and len(word) >= 5:
        return fuzz.ratio(word, keyword) >= FUZZY_MIN
    return False


def _negated(tokens: list[str], i: int, keyword: str) -> bool:
    """"не срочно", "not urgent", "несрочно": the keyword is there but meant the other way."""
    word = tokens[i]
    if word.startswith("не") and not keyword.startswith("не") and _word_matches(word[2:], keyword):
        return True
    return i > 0 and tokens[i - 1] in NEGATIONS


def keyword_hits(text: str, keywords: list[str], *, negatable: bool = False) -> int:
    """How many of ``keywords`` occur in ``text`` (phrases as substrings, words fuzzily).

    With ``negatable`` a negated occurrence ("не срочно") does not count: right for
    urgency, wrong for topics ("нет принтера" is still about printers)."""
    norm = normalise(text)
    tokens = words(text)
    hits = 0
    for kw in keywords:
        k = normalise(kw)
        if " " in k:
            at = norm.find(k)
            before = norm[:at].split()[-1:] if at >= 0 else []
            if at >= 0 and not (negatable and before and before[0] in NEGATIONS):
                hits += 1
        elif any(
            _word_matches(w, k) and not (negatable and _negated(tokens, i, k))
            for i, w in enumerate(tokens)
        ):
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
        if prio.keywords and keyword_hits(text, prio.keywords, negatable=True) > 0:
            chosen = key
    return chosen
