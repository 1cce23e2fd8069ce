"""Interfaces the engine depends on (implemented in kb/, store/, tests)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol


class SuggestionLike(Protocol):
    @property
    def slug(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def score(self) -> float: ...


class ArticleLike(Protocol):
    @property
    def slug(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def body(self) -> str: ...


class KnowledgeBase(Protocol):
    """What the requester flow needs from the KB matcher (``kb.matcher.Matcher``)."""

    def search(self, text: str, limit: int = 3, *, lang: str | None = None) -> Sequence[SuggestionLike]: ...

    def article(self, slug: str) -> ArticleLike | None: ...

    def record_feedback(self, query: str, slug: str, solved: bool) -> None: ...


class Clock(Protocol):
    def __call__(self) -> datetime: ...
