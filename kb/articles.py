"""KB articles: Markdown files with YAML front matter, loaded into :class:`Article` values.

File format (``<slug>.md``)::

    ---
    title: VPN does not connect
    lang: en
    tags: [vpn, network]
    aliases: [globalprotect, remote access]
    questions:
      - vpn not working
      - can't connect to vpn from home
    ---
    Markdown body: the answer shown to the employee.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kb.errors import KbError, read_kb_file

__all__ = ["LANGS", "Article", "KbError", "default_kb_dir", "load_article", "load_articles"]

LANGS = ("ru", "en")

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)(.*)\Z", re.DOTALL)
# Slugs travel in button payloads and URLs: no whitespace or control characters. Case and
# punctuation are kept as the file name has them ("Refund_not_showing_up", "card_payment?").
_SLUG = re.compile(r"^[^\s\x00-\x1f\x7f/\\]+$")


@dataclass(frozen=True)
class Article:
    """One KB article. ``slug`` is the file name without ``.md``."""

    slug: str
    title: str
    body: str
    lang: str
    tags: tuple[str, ...] = ()
    questions: tuple[str, ...] = ()
    # Other names of what the article is about: products, acronyms, slang ("globalprotect",
    # "впн", "удалёнка"). Matched like the title.
    aliases: tuple[str, ...] = ()
    # Questions learned from resolved tickets, matched like ``questions`` but weaker
    # evidence that a request is on the article's topic (kb.index).
    learned: tuple[str, ...] = ()


def default_kb_dir() -> Path:
    """The sample KB bundled with deskbot (``kb/articles``)."""
    return Path(__file__).resolve().parent / "articles"


def _str_list(meta: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = meta.get(key)
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, list):
        raise KbError(f"{where}: '{key}' must be a list of strings, got {type(value).__name__}")
    items = []
    for i, item in enumerate(value):
        if not isinstance(item, str | int | float) or isinstance(item, bool):
            raise KbError(f"{where}: '{key}[{i}]' must be a string, got {type(item).__name__}")
        text = str(item).strip()
        if not text:
            raise KbError(f"{where}: '{key}[{i}]' is empty")
        items.append(text)
    return tuple(items)


def parse_article(slug: str, text: str, where: str) -> Article:
    """Parse the text of one article file; ``where`` names it in error messages."""
    if not _SLUG.match(slug):
        raise KbError(f"{where}: file name must be a slug (no spaces or control characters)")
    match = _FRONT_MATTER.match(text.lstrip("\ufeff"))
    if match is None:
        raise KbError(f"{where}: missing YAML front matter (a '---' block at the top)")
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        raise KbError(f"{where}: bad YAML in front matter: {exc}") from None
    if not isinstance(meta, dict):
        raise KbError(f"{where}: front matter must be a mapping of keys to values")
    unknown = set(meta) - {"title", "lang", "tags", "questions", "aliases"}
    if unknown:
        raise KbError(
            f"{where}: unknown front matter key(s): {', '.join(sorted(map(str, unknown)))}"
        )
    title = meta.get("title")
    if not isinstance(title, str) or not title.strip():
        raise KbError(f"{where}: 'title' is missing or not a non-empty string")
    lang = meta.get("lang")
    if lang not in LANGS:
        raise KbError(f"{where}: 'lang' must be one of {', '.join(LANGS)}, got {lang!r}")
    tags = tuple(t.lower() for t in _str_list(meta, "tags", where))
    questions = _str_list(meta, "questions", where)
    aliases = _str_list(meta, "aliases", where)
    body = match.group(2).strip()
    if not body:
        raise KbError(f"{where}: the article body (the answer) is empty")
    return Article(
        slug=slug, title=title.strip(), body=body, lang=lang, tags=tags, questions=questions,
        aliases=aliases,
    )


def load_article(path: Path) -> Article:
    """Load one ``<slug>.md`` file; raises :class:`KbError` naming the file on any problem."""
    return parse_article(path.stem, read_kb_file(path), path.name)


def article_files(directory: Path) -> list[Path]:
    """The ``*.md`` files of a KB directory, sorted by name.

    One ``scandir`` (file types come with the listing, no ``stat`` per file) and a sort of
    plain names: at 100,000 articles, seconds less at every start than globbing and
    sorting ``Path`` objects."""
    with os.scandir(directory) as entries:
        names = sorted(e.name for e in entries if e.name.endswith(".md") and e.is_file())
    return [directory / name for name in names]


def load_articles(directory: Path) -> list[Article]:
    """Load every ``*.md`` article of a directory, sorted by slug.

    Raises :class:`KbError` if the directory is missing or any file is bad (the message
    names the file and what is wrong with it).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise KbError(f"{directory}: KB directory does not exist")
    return [load_article(path) for path in article_files(directory)]
