"""Draft articles written from resolved tickets ("Save this answer as an article").

A draft is an ordinary article file (valid front matter) named ``ticket-<N>.md`` in the
drafts directory, for a person to review, edit and move into the KB directory. The matcher
never loads drafts: it reads only the top level of the KB directory, and the default drafts
directory is its ``drafts`` subfolder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

from kb.articles import KbError, load_article
from kb.normalize import is_cyrillic

__all__ = ["Draft", "draft_lang", "draft_text", "list_drafts", "resolve_drafts_dir", "write_draft"]

FALLBACK_DIR = "kb-drafts"
MAX_TITLE = 120


@dataclass(frozen=True)
class Draft:
    path: Path
    title: str  # "?" when the file no longer parses (a reviewer broke it)
    created: datetime


def resolve_drafts_dir(drafts_dir: str | Path | None, kb_dir: Path) -> Path:
    """The configured directory, else ``<kb_dir>/drafts`` when it can be written, else
    ``./kb-drafts`` (the bundled sample KB may sit in a read-only install)."""
    if drafts_dir:
        return Path(drafts_dir).expanduser()
    inside = Path(kb_dir) / "drafts"
    probe = inside if inside.exists() else Path(kb_dir)
    if probe.is_dir() and os.access(probe, os.W_OK):
        return inside
    return Path(FALLBACK_DIR).resolve()


def draft_lang(question: str, fallback: str) -> str:
    """The language of the request: Cyrillic words make it Russian, Latin ones English."""
    if is_cyrillic(question.lower()):
        return "ru"
    if any(ch.isascii() and ch.isalpha() for ch in question):
        return "en"
    return fallback if fallback in ("ru", "en") else "en"


def draft_text(*, title: str, lang: str, question: str, body: str, ticket_id: int) -> str:
    """The article file's text: front matter (title, lang, questions) and the answer."""
    title = " ".join(title.split())[:MAX_TITLE] or f"#{ticket_id}"
    meta = {"title": title, "lang": lang, "questions": [" ".join(question.split())]}
    head = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=1000).strip()
    return f"---\n{head}\n---\n{body.strip()}\n"


def write_draft(directory: Path, ticket_id: int, text: str) -> Path:
    """Write ``ticket-<N>.md``; raises ``FileExistsError`` rather than overwrite one."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"ticket-{ticket_id}.md"
    with path.open("x", encoding="utf-8") as f:  # exclusive create: never overwrites
        f.write(text)
    return path


def list_drafts(directory: Path) -> list[Draft]:
    """The drafts in a directory, oldest first."""
    if not directory.is_dir():
        return []
    out = []
    for path in sorted(directory.glob("*.md")):
        try:
            title = load_article(path).title
        except KbError:
            title = "?"
        created = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        out.append(Draft(path, title, created))
    return sorted(out, key=lambda d: (d.created, d.path.name))
