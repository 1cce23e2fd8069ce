"""Errors raised by the knowledge-base package."""

from __future__ import annotations

from pathlib import Path


class KbError(Exception):
    """A knowledge-base problem the operator can fix: a bad article file, a bad CSV, ...

    The message names the file and says what is wrong with it.
    """


def read_kb_file(path: Path) -> str:
    """A KB file's text (UTF-8); :class:`KbError` naming the file if it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise KbError(f"{path.name}: not valid UTF-8 text") from None
    except OSError as exc:
        raise KbError(f"{path.name}: cannot read: {exc.strerror or exc}") from None
