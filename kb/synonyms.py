"""KB-level synonym sets: ``synonyms.yaml`` next to the articles.

One line is one set of equivalent words, in any language, the way search engines'
synonym sets work (Elasticsearch/OpenSearch "equivalent synonyms")::

    # synonyms.yaml
    - 2fa, mfa, authenticator, двухфакторка
    - outlook, почта, mail
    - [jira, джира]

Each item is a comma-separated string or a YAML list. Terms are single words (a
hyphenated word such as ``wi-fi`` counts as one); they are matched by stem, so
``двухфакторка`` also covers ``двухфакторку``. The matcher applies the sets at index
and at query time: every word of a set is indexed as the set's first word, so an
article that says "MFA" is found by "двухфакторка" and the other way round.

:func:`load_synonyms` raises :class:`KbError` naming the file and the item for a file
that is not a list, an item that is not a string or a list of strings, a set with fewer
than two distinct words, a term of several words, and a word that is in two sets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kb.errors import KbError, read_kb_file
from kb.normalize import stem, tokenize

__all__ = ["SYNONYMS_FILE", "Synonyms", "load_synonyms", "parse_synonyms"]

SYNONYMS_FILE = "synonyms.yaml"

Synonyms = tuple[tuple[str, ...], ...]


def _term(raw: Any, where: str) -> str:
    if not isinstance(raw, str | int | float) or isinstance(raw, bool):
        raise KbError(f"{where}: a term must be a string, got {type(raw).__name__}")
    text = str(raw).strip()
    tokens = tokenize(text)
    if not tokens:
        raise KbError(f"{where}: empty term")
    # "wi-fi" tokenizes to wi, fi, wifi: one hyphenated word is fine, "remote access" is not
    if len(text.split()) > 1:
        raise KbError(f"{where}: {text!r} has several words; a synonym set holds single words")
    return tokens[-1]


def parse_synonyms(text: str, where: str) -> Synonyms:
    """Parse the text of a synonyms file; ``where`` names it in error messages."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise KbError(f"{where}: bad YAML: {exc}") from None
    if data is None:
        return ()
    if not isinstance(data, list):
        raise KbError(
            f"{where}: must be a list of synonym sets ('- a, b, c' per line), "
            f"got {type(data).__name__}"
        )
    sets: list[tuple[str, ...]] = []
    owner: dict[str, int] = {}  # stem -> index of its set
    for i, item in enumerate(data):
        at = f"{where}: set {i + 1}"
        if isinstance(item, str):
            raw_terms: list[Any] = item.split(",")
        elif isinstance(item, list):
            raw_terms = item
        else:
            raise KbError(f"{at}: must be 'a, b, c' or a list, got {type(item).__name__}")
        words = list(dict.fromkeys(_term(t, at) for t in raw_terms))
        if len(words) < 2:
            raise KbError(f"{at}: needs at least two different words, got {words}")
        for word in words:
            prev = owner.setdefault(stem(word), len(sets))
            if prev != len(sets):
                raise KbError(f"{at}: {word!r} is already in set {prev + 1}; merge the two sets")
        sets.append(tuple(words))
    return tuple(sets)


def load_synonyms(directory: Path) -> Synonyms:
    """The synonym sets of a KB directory (``()`` when it has no ``synonyms.yaml``)."""
    path = Path(directory) / SYNONYMS_FILE
    if not path.is_file():
        return ()
    return parse_synonyms(read_kb_file(path), path.name)
