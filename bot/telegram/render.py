"""Neutral rich text → Telegram HTML (parse_mode=HTML).

Only tags Telegram accepts are produced (b, i, a, code, pre); every piece of text is
HTML-escaped, so user or article text can never inject markup.
"""

from __future__ import annotations

from html import escape

from handlers.richtext import RichText, Span, render

ALLOWED_TAGS = ("b", "i", "a", "code", "pre")


def _span(s: Span) -> str:
    text = escape(s.text, quote=False)
    if s.code:
        text = f"<code>{text}</code>"
    if s.italic:
        text = f"<i>{text}</i>"
    if s.bold:
        text = f"<b>{text}</b>"
    if s.link and s.link.startswith(("http://", "https://", "mailto:", "tg://")):
        text = f'<a href="{escape(s.link, quote=True)}">{text}</a>'
    elif s.link:
        text = f"{text} ({escape(s.link, quote=False)})"
    return text


def _spans(spans: tuple[Span, ...]) -> str:
    return "".join(_span(s) for s in spans)


def to_html(rich: RichText) -> str:
    """Telegram HTML for ``rich``."""
    return render(rich, spans=_spans, code=lambda text: f"<pre>{escape(text, quote=False)}</pre>", heading=lambda text: f"<b>{text}</b>")


def plain_to_html(text: str) -> str:
    """Plain text made safe for parse_mode=HTML."""
    return escape(text, quote=False)
