"""A small, platform-neutral formatted text: what a KB article's Markdown means, not its syntax.

Markdown is parsed once with markdown-it-py (CommonMark) into :data:`RichText`, a tuple of
:class:`Block` (paragraph, heading, code block, bullet or numbered list) made of
:class:`Span` (text with bold / italic / code / link). It is JSON-serialisable
(:func:`to_data` / :func:`from_data`) so it survives the outbox payload, and each frontend
renders it to its own markup: :func:`to_plain` here (console, tests, fallback text),
``bot.telegram.render`` (HTML) and ``bot.slack.render`` (mrkdwn).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from markdown_it import MarkdownIt

PARAGRAPH, HEADING, CODE, BULLETS, NUMBERS = "paragraph", "heading", "code", "bullets", "numbers"


@dataclass(frozen=True)
class Span:
    """A run of text with one set of marks; ``link`` is the target URL."""

    text: str
    bold: bool = False
    italic: bool = False
    code: bool = False
    link: str | None = None


@dataclass(frozen=True)
class Block:
    """One block. ``spans`` for paragraphs and headings, ``items`` for lists, ``text`` for code."""

    kind: str
    spans: tuple[Span, ...] = ()
    items: tuple[tuple[Span, ...], ...] = ()
    text: str = ""
    start: int = 1


RichText = tuple[Block, ...]

_md = MarkdownIt("commonmark")


def _inline(children: list[Any]) -> list[Span]:
    spans: list[Span] = []
    bold = italic = 0
    link: str | None = None
    for tok in children:
        kind = tok.type
        if kind == "text" or kind == "html_inline":
            if tok.content:
                spans.append(Span(tok.content, bold > 0, italic > 0, False, link))
        elif kind == "code_inline":
            spans.append(Span(tok.content, bold > 0, italic > 0, True, link))
        elif kind in ("softbreak", "hardbreak"):
            spans.append(Span("\n" if kind == "hardbreak" else " ", bold > 0, italic > 0, False, link))
        elif kind == "strong_open":
            bold += 1
        elif kind == "strong_close":
            bold -= 1
        elif kind == "em_open":
            italic += 1
        elif kind == "em_close":
            italic -= 1
        elif kind == "link_open":
            link = str(tok.attrGet("href") or "") or None
        elif kind == "link_close":
            link = None
        elif kind == "image":
            spans.append(Span(tok.content or str(tok.attrGet("src") or ""), link=str(tok.attrGet("src") or "")))
    return _merge(spans)


def _merge(spans: list[Span]) -> list[Span]:
    out: list[Span] = []
    for span in spans:
        if out and (out[-1].bold, out[-1].italic, out[-1].code, out[-1].link) == (
            span.bold, span.italic, span.code, span.link
        ):
            out[-1] = Span(out[-1].text + span.text, span.bold, span.italic, span.code, span.link)
        else:
            out.append(span)
    return out


def parse_markdown(source: str) -> RichText:
    """Markdown (CommonMark) → :data:`RichText`. Nested lists are flattened into their parent."""
    blocks: list[Block] = []
    lists: list[tuple[str, int, list[list[Span]]]] = []  # (kind, start, items)
    heading = False
    for tok in _md.parse(source):
        kind = tok.type
        if kind in ("bullet_list_open", "ordered_list_open"):
            if lists:
                continue  # a nested list continues its parent's items
            start = int(tok.attrGet("start") or 1)
            lists.append((BULLETS if kind == "bullet_list_open" else NUMBERS, start, []))
        elif kind in ("bullet_list_close", "ordered_list_close"):
            if tok.level == 0 and lists:
                list_kind, start, items = lists.pop()
                blocks.append(Block(list_kind, items=tuple(tuple(i) for i in items), start=start))
        elif kind == "list_item_open":
            lists[-1][2].append([])
        elif kind == "heading_open":
            heading = True
        elif kind == "inline":
            spans = _inline(tok.children or [])
            if lists:
                item = lists[-1][2][-1]
                if item and spans:
                    item.append(Span(" "))
                item.extend(spans)
            else:
                blocks.append(Block(HEADING if heading else PARAGRAPH, spans=tuple(spans)))
            heading = False
        elif kind in ("fence", "code_block"):
            blocks.append(Block(CODE, text=tok.content.rstrip("\n")))
    return tuple(blocks)


def article(title: str, body: str) -> RichText:
    """A KB article as shown to a requester: its title as a heading, then the body."""
    return (Block(HEADING, spans=(Span(title),)), *parse_markdown(body))


PREVIEW_CHARS = 150
# A sentence ends at . ! ? … followed by a space (or the end), not after a digit ("1.")
_SENTENCE_END = re.compile(r"(?<!\d)[.!?…](?=\s|$)")


def preview(body: str, limit: int = PREVIEW_CHARS) -> str:
    """A short plain preview of an article body: its first sentence, or its first
    ``limit`` characters cut at a word with "…" when the sentence is longer.

    The Markdown is parsed, so no markup characters (``**``, `` ` ``, ``[..](..)``) reach
    it; code blocks and headings are skipped, list items count as text.
    """
    parts: list[str] = []
    for block in parse_markdown(body):
        if block.kind in (PARAGRAPH, BULLETS, NUMBERS):
            rows = [block.spans] if block.kind == PARAGRAPH else list(block.items)
            parts.extend("".join(s.text for s in row) for row in rows)
        if sum(map(len, parts)) > limit:
            break
    text = " ".join(" ".join(parts).split())
    first = _SENTENCE_END.search(text)
    if first is not None and first.end() <= limit:
        return text[: first.end()]
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:—-") + "…"


def suggestions(intro: str, items: list[tuple[str, str]]) -> RichText:
    """The KB suggestion message: ``intro``, then each article's title (bold) and preview."""
    rows = tuple(
        (Span(title, bold=True), *((Span(" — " + text),) if text else ()))
        for title, text in items
    )
    return (Block(PARAGRAPH, spans=(Span(intro),)), Block(BULLETS, items=rows))


def _plain_spans(spans: tuple[Span, ...]) -> str:
    parts = []
    for s in spans:
        if s.link and s.link != s.text:
            parts.append(f"{s.text} ({s.link})")
        else:
            parts.append(s.text)
    return "".join(parts)


def render(
    rich: RichText,
    *,
    spans: Callable[[tuple[Span, ...]], str],
    code: Callable[[str], str],
    heading: Callable[[str], str] = lambda text: text,
) -> str:
    """The one walk over blocks every renderer shares: lists get "•" / "1." markers, blocks
    are separated by a blank line; ``spans``, ``code`` and ``heading`` give the markup."""
    out: list[str] = []
    for block in rich:
        if block.kind in (BULLETS, NUMBERS):
            out.append("\n".join(
                f"{'•' if block.kind == BULLETS else f'{block.start + n}.'} {spans(item)}"
                for n, item in enumerate(block.items)
            ))
        elif block.kind == CODE:
            out.append(code(block.text))
        elif block.kind == HEADING:
            out.append(heading(spans(block.spans)))
        else:
            out.append(spans(block.spans))
    return "\n\n".join(out)


def to_plain(rich: RichText) -> str:
    """Plain text with no markup characters (console, tests, platforms without formatting)."""
    return render(rich, spans=_plain_spans, code=lambda text: text)


def to_data(rich: RichText) -> list[dict[str, Any]]:
    """JSON-ready form (for the outbox payload)."""

    def span(s: Span) -> dict[str, Any]:
        d: dict[str, Any] = {"t": s.text}
        for key in ("bold", "italic", "code"):
            if getattr(s, key):
                d[key] = True
        if s.link:
            d["link"] = s.link
        return d

    data = []
    for b in rich:
        d: dict[str, Any] = {"kind": b.kind}
        if b.spans:
            d["spans"] = [span(s) for s in b.spans]
        if b.items:
            d["items"] = [[span(s) for s in item] for item in b.items]
        if b.text:
            d["text"] = b.text
        if b.start != 1:
            d["start"] = b.start
        data.append(d)
    return data


def from_data(data: list[dict[str, Any]]) -> RichText:
    """Inverse of :func:`to_data`."""

    def span(d: dict[str, Any]) -> Span:
        return Span(d["t"], bool(d.get("bold")), bool(d.get("italic")), bool(d.get("code")), d.get("link"))

    return tuple(
        Block(
            d["kind"], spans=tuple(span(s) for s in d.get("spans", [])),
            items=tuple(tuple(span(s) for s in item) for item in d.get("items", [])),
            text=d.get("text", ""), start=int(d.get("start", 1)),
        )
        for d in data
    )
