"""A neutral :class:`~handlers.home.HomeView` as a Slack App Home view (Block Kit), pure.

Layout: a header and the intro, then per section a header, one ``section`` block per
ticket (its line in bold, the status line under it, a Claim button as the accessory) and
a context line for "… and N more" or the empty text. Every text is escaped (a subject
typed as ``<!channel>`` stays text). Limits respected: at most 100 blocks (the rows that
do not fit are left out, the last block then says so), section text ≤ 3000, header text
≤ 150, button text ≤ 75 (:func:`bot.slack.blocks.button`), ``action_id`` unique in the view.
The view's ``private_metadata`` is the person's DM channel: Slack sends a press on a Home
without a channel, and the answer (or a refusal, ephemeral) goes there.
"""

from __future__ import annotations

from typing import Any

from bot.slack.blocks import ELLIPSIS, MAX_SECTION, button
from bot.slack.render import escape
from handlers.home import HomeSection, HomeView

MAX_HOME_BLOCKS = 100
MAX_HEADER = 150
MAX_CONTEXT = 2000
MAX_METADATA = 3000


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + ELLIPSIS


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": _cut(text or ELLIPSIS, MAX_HEADER), "emoji": True}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(escape(text) or ELLIPSIS, MAX_CONTEXT)}]}


def _rows(section: HomeSection, first_index: int) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for i, row in enumerate(section.rows):
        line = f"*{_cut(escape(row.text), MAX_SECTION // 2)}*"
        text = f"{line}\n{_cut(escape(row.detail), MAX_SECTION // 2 - 1)}" if row.detail else line
        block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": text}}
        if row.button is not None:
            block["accessory"] = button(row.button, first_index + i, 0)
        blocks.append(block)
    return blocks


def home_view(view: HomeView) -> dict[str, Any]:
    """The ``view`` argument of ``views.publish`` for ``view``."""
    blocks: list[dict[str, Any]] = [_header(view.title)]
    if view.intro:
        blocks.append(_context(view.intro))
    index = 0
    for section in view.sections:
        blocks += [{"type": "divider"}, _header(section.title)]
        blocks += _rows(section, index)
        index += len(section.rows)
        if section.more or not section.rows:
            blocks.append(_context(section.more or section.empty))
    if len(blocks) > MAX_HOME_BLOCKS:
        blocks = blocks[: MAX_HOME_BLOCKS - 1] + [_context(ELLIPSIS)]
    published: dict[str, Any] = {"type": "home", "blocks": blocks}
    if view.reply_chat:  # a press on the Home comes without a channel: this says where to answer
        published["private_metadata"] = view.reply_chat[:MAX_METADATA]
    return published


__all__ = ["MAX_HOME_BLOCKS", "home_view"]
