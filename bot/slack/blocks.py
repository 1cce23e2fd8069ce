"""A neutral :class:`~handlers.events.Reply` as Slack messages (Block Kit), within Slack's limits.

Pure: no API calls. The text is mrkdwn — the rich form through
:func:`bot.slack.render.to_mrkdwn`, else the plain text escaped (``&``, ``<``, ``>``) so that
``<!channel>``, ``<@U123>`` or ``<http://evil|x>`` typed by a person stay literal text.

Limits respected: a section's text ≤ 3000 characters (long texts are cut at line breaks, a
single longer line hard, never inside an entity such as ``&amp;`` or a ``<link|label>``),
≤ 50 blocks per message (more → several messages, the buttons on the last), button text
≤ 75 characters (cut with …), button value ≤ 2000, ``action_id`` unique in its message
(``b<row>.<col>``), ≤ 25 elements per ``actions`` block (one block per row of buttons).
Every message has a ``text`` fallback (notifications, clients without blocks), escaped too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.slack.actions import MAX_VALUE, action_id, encode
from bot.slack.render import escape, to_mrkdwn
from handlers.events import Button, Reply

MAX_SECTION = 3000
MAX_BLOCKS = 50
MAX_BUTTON_TEXT = 75
MAX_ACTIONS = 25
MAX_FALLBACK = 3000
ELLIPSIS = "…"
LONGEST_ENTITY = len("&amp;")


class ButtonValueTooLong(ValueError):
    """A button whose reference does not fit Slack's 2000-character value."""


@dataclass(frozen=True)
class SlackMessage:
    """One ``chat.postMessage`` / ``chat.update``: its fallback text and its blocks."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def has_buttons(self) -> bool:
        return any(b["type"] == "actions" for b in self.blocks)


def body(reply: Reply, extra_lines: Sequence[str] = ()) -> str:
    """The reply as mrkdwn (user text escaped), with ``extra_lines`` (already mrkdwn) after it."""
    text = to_mrkdwn(reply.rich) if reply.rich is not None else escape(reply.text)
    lines = [line for line in extra_lines if line]
    if lines:
        text = "\n".join([text, *lines]) if text.strip() else "\n".join(lines)
    return text


def split_text(text: str, limit: int = MAX_SECTION) -> list[str]:
    """Cut mrkdwn ``text`` into parts of at most ``limit`` characters.

    Parts end at a line break where one fits (the break itself is dropped); a line longer
    than ``limit`` is cut hard, but not inside an entity or a ``<…>`` link. Parts that are
    only whitespace are left out (Slack refuses an empty section).
    """
    parts: list[str] = []
    cur: list[str] = []
    size = 0

    def flush() -> None:
        nonlocal cur, size
        if cur:
            parts.append("\n".join(cur))
        cur, size = [], 0

    for line in text.split("\n"):
        while len(line) > limit:
            flush()
            cut = _safe_cut(line, limit)
            parts.append(line[:cut])
            line = line[cut:]
        added = len(line) + (1 if cur else 0)
        if cur and size + added > limit:
            flush()
            added = len(line)
        cur.append(line)
        size += added
    flush()
    return [p for p in parts if p.strip()]


def _safe_cut(line: str, limit: int) -> int:
    """Where to cut a line longer than ``limit``: at ``limit``, moved back so an entity
    (``&lt;``) or a link (``<url|label>``) is not split; at a space near the end if any."""
    cut = limit
    space = line.rfind(" ", max(1, cut - 80), cut)
    if space != -1:
        cut = space + 1
    amp = line.rfind("&", max(0, cut - LONGEST_ENTITY + 1), cut)
    if amp != -1 and ";" not in line[amp:cut]:
        cut = amp
    opening = line.rfind("<", 0, cut)
    if opening > 0 and ">" not in line[opening:cut]:
        cut = opening  # a link longer than a whole section is cut hard (cannot be helped)
    return max(1, cut)


def button_text(label: str) -> str:
    """A button's label within 75 characters (cut with …); never empty."""
    label = " ".join(label.split()) or ELLIPSIS
    if len(label) <= MAX_BUTTON_TEXT:
        return label
    return label[: MAX_BUTTON_TEXT - 1].rstrip() + ELLIPSIS


def button(b: Button, row: int, col: int) -> dict[str, Any]:
    value = encode(b)
    if len(value) > MAX_VALUE:
        raise ButtonValueTooLong(f"button {b.action!r}: value of {len(value)} characters")
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": button_text(b.label), "emoji": True},
        "action_id": action_id(row, col),
        "value": value,
    }


def action_blocks(rows: Sequence[Sequence[Button]]) -> list[dict[str, Any]]:
    """One ``actions`` block per row of buttons (a row longer than 25 takes several)."""
    blocks: list[dict[str, Any]] = []
    for r, row in enumerate(rows):
        elements = [button(b, r, c) for c, b in enumerate(row)]
        for start in range(0, len(elements), MAX_ACTIONS):
            blocks.append({"type": "actions", "elements": elements[start:start + MAX_ACTIONS]})
    return blocks[:MAX_BLOCKS]


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def fallback(parts: Sequence[str], rows: Sequence[Sequence[Button]] = ()) -> str:
    """The ``text`` of a message: its first section (escaped already), or, for buttons
    alone, their labels."""
    if parts:
        return parts[0][:MAX_FALLBACK]
    labels = " · ".join(button_text(b.label) for row in rows for b in row)
    return escape(labels)[:MAX_FALLBACK] or ELLIPSIS


def render_messages(reply: Reply, extra_lines: Sequence[str] = ()) -> list[SlackMessage]:
    """The reply as one or more messages, the buttons on the last. Empty for a reply
    with neither text nor buttons."""
    parts = split_text(body(reply, extra_lines))
    actions = action_blocks(reply.buttons)
    if not parts and not actions:
        return []
    groups = [parts[i:i + MAX_BLOCKS] for i in range(0, len(parts), MAX_BLOCKS)] or [[]]
    room = MAX_BLOCKS - len(actions)
    if len(groups[-1]) > room:
        last = groups.pop()
        groups += [last[:room], last[room:]]
    messages = [SlackMessage(fallback(g), [section(p) for p in g]) for g in groups[:-1]]
    last_group = groups[-1]
    messages.append(SlackMessage(fallback(last_group, reply.buttons), [section(p) for p in last_group] + actions))
    return messages


def render_single(reply: Reply, extra_lines: Sequence[str] = ()) -> SlackMessage | None:
    """The reply as one message (for ``chat.update`` of a card): the text that does not fit
    beside the buttons is cut, ending with …."""
    parts = split_text(body(reply, extra_lines))
    actions = action_blocks(reply.buttons)
    if not parts and not actions:
        return None
    room = MAX_BLOCKS - len(actions)
    if len(parts) > room:
        parts = parts[:room]
        last = parts[-1]
        parts[-1] = (last[:_safe_cut(last, MAX_SECTION - 1)] if len(last) >= MAX_SECTION else last) + ELLIPSIS
    return SlackMessage(fallback(parts, reply.buttons), [section(p) for p in parts] + actions)


__all__ = [
    "ButtonValueTooLong", "SlackMessage", "action_blocks", "body", "button_text", "render_messages",
    "render_single", "split_text",
]
