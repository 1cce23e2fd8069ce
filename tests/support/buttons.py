"""Waiting for the bot's message that carries a button, in either platform's story DSL.

``where`` is anything with ``messages(thread)`` (messages with ``text`` and ``buttons``) and
``fake`` (a fake platform with ``wait_for``): a Telegram chat or group, a Slack channel or
user's DM."""

from __future__ import annotations

from typing import Any

WAIT = 20.0


async def with_button(where: Any, label: str, thread: Any = None, *, timeout: float = WAIT) -> Any:
    """The latest bot message in ``where`` (its ``thread``) with a button labelled ``label``
    (or starting so); an ``AssertionError`` listing what is there when none comes."""
    def check() -> Any:
        for m in reversed(where.messages(thread)):
            if any(b == label or b.startswith(label) for b in m.buttons):
                return m
        return None

    try:
        return await where.fake.wait_for(check, timeout)
    except TimeoutError:
        shown = [(m.text[:60], m.buttons) for m in where.messages(thread)]
        raise AssertionError(f"no message with button {label!r} in {where!r}: {shown}") from None
