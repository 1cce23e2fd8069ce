"""Common words of English and Russian: a word spelt right is not a typo.

The matcher repairs words it does not know to the closest KB word ("pasword" →
"password", "vpm" → "vpn"). A real word the KB lacks is not a misspelling of a KB word:
"лифт" is not "лист", "word" is not "work", "прийти" is not "пройти". Repairing it puts
a topic into the query that the person never wrote ("лифт не работает" got the sick-leave
article, whose Russian title has "лист"). So such a repair still helps to rank (a real
word can be a slip: "free" for "fee"), but it is no evidence that the KB covers the
request's topic (``kb.index.Index.specific_coverage``).

The word lists are pyspellchecker's frequency dictionaries (built from OpenSubtitles and
Wikipedia); only words of 3+ letters at or above :data:`MIN_FREQUENCY` are used, so rare
words, which are more often someone's typo of a common one, are still repaired.
"""

from __future__ import annotations

import functools

__all__ = ["MIN_FREQUENCY", "common_words", "is_common_word"]

# Share of all words in the dictionary's corpus (about the 8,000 commonest words of the
# two languages). Chosen on the desk set's tune rows and the later tune-only probe sets.
MIN_FREQUENCY = 1e-5
LANGUAGES = ("en", "ru")


@functools.cache
def common_words() -> frozenset[str]:
    """The common words (built once per process, about 0.3 s)."""
    from spellchecker import SpellChecker

    words: set[str] = set()
    for lang in LANGUAGES:
        freq = SpellChecker(language=lang, distance=1).word_frequency
        floor = MIN_FREQUENCY * freq.total_words
        words.update(w.replace("ё", "е") for w, n in freq.dictionary.items() if n >= floor and len(w) >= 3)
    return frozenset(words)


def is_common_word(token: str) -> bool:
    """True if ``token`` (lower case, ``ё`` folded) is a common English or Russian word."""
    return token in common_words()
