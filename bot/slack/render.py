"""Neutral rich text → Slack mrkdwn.

Text is escaped the way Slack asks (&, <, >), so user or article text cannot form links,
mentions or markup; marks become *bold*, _italic_, `code`, <url|text> and ``` blocks.
"""

from __future__ import annotations

from handlers.richtext import RichText, Span, render


def escape(text: str) -> str:
    """Slack's control characters as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _span(s: Span) -> str:
    text = escape(s.text)
    if s.code:
        text = f"`{text}`"
    if s.italic:
        text = f"_{text}_"
    if s.bold:
        text = f"*{text}*"
    if s.link:
        target = s.link.replace("|", "%7C")
        text = f"<{escape(target)}|{text}>"
    return text


def _spans(spans: tuple[Span, ...]) -> str:
    return "".join(_span(s) for s in spans)


def to_mrkdwn(rich: RichText) -> str:
    """Slack mrkdwn for ``rich``."""
    return render(rich, spans=_spans, code=lambda text: f"```{escape(text)}```", heading=lambda text: f"*{text}*")
