"""A KB directory's own settings: ``kb.yaml`` beside the articles.

Only ``threshold`` for now: the confidence the first suggestion needs (0..1). Scores are
calibrated the same way for every KB, but where the threshold should sit is a property of
the KB's content: the more example questions its articles carry, the more often a request
the KB cannot answer shares a word or two with one of them, so a KB with rich articles
rejects out-of-scope requests better at a higher threshold. The KB's author sets it, chosen
on the KB's own tune queries (``deskbot kb eval --threshold``); a desk's
``desk.kb_threshold`` overrides it; without either the matcher's default (0.2) applies.

    # kb.yaml
    threshold: 0.3
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kb.errors import KbError, read_kb_file

__all__ = ["SETTINGS_FILE", "KbSettings", "load_settings", "parse_settings"]

SETTINGS_FILE = "kb.yaml"
_KEYS = ("threshold",)


@dataclass(frozen=True)
class KbSettings:
    threshold: float | None = None  # None: the matcher's default


def parse_settings(text: str, where: str = SETTINGS_FILE) -> KbSettings:
    """Parse and check ``kb.yaml``'s text (raises :class:`KbError` naming the problem)."""
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        raise KbError(f"{where}: not valid YAML{at}") from None
    if data is None:
        return KbSettings()
    if not isinstance(data, dict):
        raise KbError(f"{where}: must be a mapping of settings (threshold: 0.3), got {type(data).__name__}")
    unknown = sorted(str(k) for k in data if k not in _KEYS)
    if unknown:
        raise KbError(f"{where}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(_KEYS)}")
    threshold = data.get("threshold")
    if threshold is not None:
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0.0 <= threshold <= 1.0:
            raise KbError(f"{where}: threshold must be a number within 0..1, got {threshold!r}")
        threshold = float(threshold)
    return KbSettings(threshold=threshold)


def load_settings(directory: Path) -> KbSettings:
    """The settings of a KB directory (defaults when it has no ``kb.yaml``)."""
    path = Path(directory) / SETTINGS_FILE
    if not path.is_file():
        return KbSettings()
    return parse_settings(read_kb_file(path), path.name)
