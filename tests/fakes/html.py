"""Telegram's HTML parse mode, as strictly as the Bot API applies it.

``parse_html(text)`` returns the plain text and the message entities (offsets in UTF-16
code units, as Telegram counts them) or raises ``EntityParseError`` with a description
shaped like Telegram's ("Unsupported start tag ...", "Can't find end tag ...").
Only Telegram's tags are accepted and only the entities ``&lt; &gt; &amp; &quot;`` and
numeric ones; a stray ``&`` or ``<`` is an error (Telegram's documentation requires both
to be escaped).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

TAG_ENTITY = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}

_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9-]*")
_ATTR = re.compile(r"\s*([a-zA-Z][a-zA-Z0-9_-]*)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'>]+)))?")
_ENTITY = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]*);")


class EntityParseError(ValueError):
    """The text is not valid Telegram HTML; ``str(error)`` is Telegram's wording."""


@dataclass
class _Open:
    name: str
    offset: int  # UTF-16 offset in the plain text where the entity starts
    attrs: dict[str, str] = field(default_factory=dict)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(src: str, index: int) -> int:
    return len(src[:index].encode("utf-8", "surrogatepass"))


def _decode_entities(value: str, src: str, base: int) -> str:
    out: list[str] = []
    i = 0
    while i < len(value):
        c = value[i]
        if c == "&":
            decoded, i = _entity_at(value, i, src, base + i)
            out.append(decoded)
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _entity_at(text: str, i: int, src: str, src_index: int) -> tuple[str, int]:
    m = _ENTITY.match(text, i)
    if m is None:
        raise EntityParseError(
            f"Character entity expected at byte offset {_byte_offset(src, src_index)}"
        )
    body = m.group(1)
    if body.startswith(("#x", "#X")):
        code = int(body[2:], 16)
    elif body.startswith("#"):
        code = int(body[1:])
    else:
        name = body.lower()
        if name not in NAMED_ENTITIES:
            raise EntityParseError(
                f'Unsupported HTML entity "&{body};" at byte offset {_byte_offset(src, src_index)}'
            )
        return NAMED_ENTITIES[name], m.end()
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        raise EntityParseError(
            f"Invalid character entity at byte offset {_byte_offset(src, src_index)}"
        )
    return chr(code), m.end()


def parse_html(src: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram HTML into (plain text, entities)."""
    out: list[str] = []
    pos = 0  # UTF-16 length of the plain text so far
    stack: list[_Open] = []
    entities: list[dict[str, Any]] = []
    i = 0
    n = len(src)
    while i < n:
        c = src[i]
        if c == "<":
            j = src.find(">", i + 1)
            if j < 0:
                raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(src, i)}")
            inner = src[i + 1 : j]
            if inner.startswith("/"):
                name = inner[1:].strip().lower()
                if not stack:
                    raise EntityParseError(
                        f'Unexpected end tag "{name}" at byte offset {_byte_offset(src, i)}'
                    )
                top = stack[-1]
                if top.name != name:
                    raise EntityParseError(
                        f'Unmatched end tag at byte offset {_byte_offset(src, i)}, '
                        f'expected "</{top.name}>", found "</{name}>"'
                    )
                stack.pop()
                length = pos - top.offset
                if length > 0:
                    entity: dict[str, Any] = {
                        "type": TAG_ENTITY[top.name],
                        "offset": top.offset,
                        "length": length,
                    }
                    if top.name == "a":
                        entity["url"] = top.attrs.get("href", "")
                    if top.name == "pre" and top.attrs.get("language"):
                        entity["language"] = top.attrs["language"]
                    if top.name == "tg-emoji":
                        entity["custom_emoji_id"] = top.attrs.get("emoji-id", "")
                    if top.name == "blockquote" and "expandable" in top.attrs:
                        entity["type"] = "expandable_blockquote"
                    entities.append(entity)
            else:
                m = _NAME.match(inner)
                if m is None:
                    raise EntityParseError(
                        f'Unsupported start tag "{inner[:20]}" at byte offset {_byte_offset(src, i)}'
                    )
                name = m.group(0).lower()
                if name not in TAG_ENTITY:
                    raise EntityParseError(
                        f'Unsupported start tag "{name}" at byte offset {_byte_offset(src, i)}'
                    )
                attrs = _parse_attrs(inner[m.end() :], src, i + 1 + m.end())
                _check_tag(name, attrs, stack, src, i)
                if name == "code" and stack and stack[-1].name == "pre" and "class" in attrs:
                    cls = attrs["class"]
                    if cls.startswith("language-"):
                        stack[-1].attrs["language"] = cls[len("language-") :]
                stack.append(_Open(name, pos, attrs))
            i = j + 1
        elif c == "&":
            decoded, i = _entity_at(src, i, src, i)
            out.append(decoded)
            pos += utf16_len(decoded)
        else:
            out.append(c)
            pos += 2 if ord(c) > 0xFFFF else 1
            i += 1
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _parse_attrs(rest: str, src: str, base: int) -> dict[str, str]:
    attrs: dict[str, str] = {}
    k = 0
    rest_stripped = rest.rstrip()
    if rest_stripped.endswith("/"):
        raise EntityParseError(f"Unsupported self-closing tag at byte offset {_byte_offset(src, base)}")
    while k < len(rest_stripped):
        if not rest_stripped[k].isspace() and k == 0:
            raise EntityParseError(
                f"Expected whitespace after tag name at byte offset {_byte_offset(src, base)}"
            )
        m = _ATTR.match(rest_stripped, k)
        if m is None or m.end() == k:
            if rest_stripped[k:].strip() == "":
                break
            raise EntityParseError(
                f"Expected equal sign in declaration of an attribute of the tag at byte offset "
                f"{_byte_offset(src, base + k)}"
            )
        raw = m.group(2) if m.group(2) is not None else m.group(3) if m.group(3) is not None else m.group(4)
        value = "" if raw is None else _decode_entities(raw, src, base + m.start())
        attrs[m.group(1).lower()] = value
        k = m.end()
    return attrs


def _check_tag(name: str, attrs: dict[str, str], stack: list[_Open], src: str, i: int) -> None:
    at = _byte_offset(src, i)
    if name == "span" and attrs.get("class") != "tg-spoiler":
        raise EntityParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {at}')
    if name == "a" and not attrs.get("href"):
        raise EntityParseError(f'Tag "a" must have attribute "href" at byte offset {at}')
    if name == "tg-emoji" and not attrs.get("emoji-id"):
        raise EntityParseError(f'Tag "tg-emoji" must have attribute "emoji-id" at byte offset {at}')
    if any(o.name in ("pre", "code") for o in stack) and not (
        name == "code" and stack and stack[-1].name == "pre"
    ):
        raise EntityParseError(f"Entities can't be nested in pre/code at byte offset {at}")
