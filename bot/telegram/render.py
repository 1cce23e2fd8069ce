"""Neutral rich text → Telegram HTML (parse_mode=HTML), and long HTML cut into messages.

Only tags Telegram accepts are produced (b, i, a, code, pre); every piece of text is
HTML-escaped, so user or article text can never inject markup. :func:`split_html` cuts
a text longer than one message (4096 characters as Telegram counts them, after entity
parsing) into parts that are each well-formed.
"""

from __future__ import annotations

import re
from html import escape, unescape

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


# --- splitting long messages ---------------------------------------------------------

MAX_MESSAGE = 4096  # Telegram's limit on a message's text after entity parsing

# Our HTML only: a tag, a character reference, or one character (text is always escaped,
# so "<" and "&" in it never appear raw).
_TOKEN = re.compile(r"<[^>]*>|&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);|.", re.DOTALL)
_TAG_NAME = re.compile(r"</?([a-zA-Z0-9-]+)")
_EMPTY_ELEMENT = re.compile(r"<([a-z]+)(?: [^>]*)?></\1>")


def telegram_length(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji outside the BMP is two)."""
    return len(text.encode("utf-16-le")) // 2


def visible_text(html: str) -> str:
    """The text Telegram shows for ``html`` (tags dropped, references resolved)."""
    return unescape(re.sub(r"<[^>]*>", "", html))


def split_html(html: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Cut ``html`` into parts whose visible text is at most ``limit`` long.

    Parts end at a line break where one fits (the break itself is dropped); a line longer
    than ``limit`` is cut hard. Tags open at a cut are closed at the end of the part and
    opened again at the start of the next, so every part is well-formed on its own.
    Parts with nothing visible are left out.
    """
    parts: list[str] = []
    cur: list[str] = []
    stack: list[tuple[str, str]] = []  # open tags at the end of ``cur``: (name, opening tag)
    size = 0
    # The last line break in ``cur``: its index, the tags open there, the size before it.
    last_break: tuple[int, list[tuple[str, str]], int] | None = None

    def close(tags: list[tuple[str, str]]) -> str:
        return "".join(f"</{name}>" for name, _ in reversed(tags))

    def reopen(tags: list[tuple[str, str]]) -> list[str]:
        return [opening for _, opening in tags]

    for token in _TOKEN.findall(html):
        if token.startswith("<"):
            cur.append(token)
            name = _TAG_NAME.match(token)
            if token.startswith("</"):
                if stack:
                    stack.pop()
            elif name and not token.endswith("/>"):
                stack.append((name.group(1).lower(), token))
            continue
        width = telegram_length(unescape(token))
        while size and size + width > limit:
            if last_break is not None and last_break[2] > 0:
                index, tags, before = last_break
                parts.append("".join(cur[:index]) + close(tags))
                cur = reopen(tags) + cur[index + 1:]
                size -= before + 1
            else:
                parts.append("".join(cur) + close(stack))
                cur = reopen(stack)
                size = 0
            last_break = None
        if token == "\n":
            last_break = (len(cur), list(stack), size)
        cur.append(token)
        size += width
    parts.append("".join(cur) + close(stack))
    return [p for p in (_drop_empty_elements(p) for p in parts) if visible_text(p).strip()]


def _drop_empty_elements(html: str) -> str:
    while True:
        cleaned = _EMPTY_ELEMENT.sub("", html)
        if cleaned == html:
            return html
        html = cleaned
