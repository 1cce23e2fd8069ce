"""Files that come with messages: what is passed on, what is too big, how they are listed.

The engine never downloads a file; it keeps the platform's reference and relays it. A
platform may refuse to let a bot fetch big files (Telegram's bot API: 20 MB), so such a
file cannot be passed on: the other side gets a note instead, and the sender is told.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from handlers.events import Attachment
from handlers.texts import TEXTS, Translator

MB = 1024 * 1024
# The largest file a bot may fetch on each platform (no entry: no limit known).
MAX_FILE_BYTES: dict[str, int] = {"telegram": 20 * MB}


def limit_for(platform: str) -> int | None:
    return MAX_FILE_BYTES.get(platform)


def too_big(file: Attachment) -> bool:
    limit = limit_for(file.platform)
    return limit is not None and file.size > limit


def human_size(size: int) -> str:
    """``532 B``, ``12 KB``, ``3.4 MB`` (binary units, one decimal from MB up)."""
    if size < 1024:
        return f"{size} B"
    if size < MB:
        return f"{size // 1024} KB"
    if size < 1024 * MB:
        return f"{size / MB:.1f} MB".replace(".0 MB", " MB")
    return f"{size / (1024 * MB):.1f} GB".replace(".0 GB", " GB")


def as_attachments(data: Iterable[dict[str, Any]] | None) -> tuple[Attachment, ...]:
    return tuple(Attachment.from_dict(d) for d in data or () if isinstance(d, dict) and d.get("file_id"))


def as_data(files: Iterable[Attachment]) -> list[dict[str, Any]]:
    return [f.to_dict() for f in files]


def display_name(file: Attachment, t: Translator) -> str:
    """The file's name; a photo or voice note has none, so its kind in the reader's language."""
    if file.name:
        return file.name
    key = f"file_kind_{file.kind}"
    return t(key) if key in TEXTS else file.kind or "file"


def file_line(t: Translator, file: Attachment) -> str:
    """``📎 name (size)`` as ``/ticket N`` and relayed messages list a file."""
    return f"📎 {display_name(file, t)} ({human_size(file.size)})"


def file_names(files: Sequence[Attachment], t: Translator) -> str:
    """A subject for a request that is only files."""
    return ", ".join(display_name(f, t) for f in files)


def relayed(t: Translator, text: str, files: Sequence[Attachment]) -> tuple[str, tuple[Attachment, ...]]:
    """The relayed text with a line per file (a note for each that is too big) and the files
    that can be passed on."""
    lines = [text] if text else []
    passed: list[Attachment] = []
    for f in files:
        if too_big(f):
            limit = limit_for(f.platform) or 0
            lines.append(t("file_too_big_relay", name=display_name(f, t), size=human_size(f.size),
                           limit=human_size(limit)))
        else:
            lines.append(file_line(t, f))
            passed.append(f)
    return "\n".join(lines), tuple(passed)


def tell_sender_too_big(ctx: Any, files: Sequence[Attachment]) -> None:
    """Tell the sender which of their files could not be passed on (``ctx`` is a Context)."""
    for f in files:
        if too_big(f):
            limit = limit_for(f.platform) or 0
            ctx.reply("file_too_big_sender", name=display_name(f, ctx.t), size=human_size(f.size),
                      limit=human_size(limit))
