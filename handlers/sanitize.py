"""Hostile-input normalisation at the edge of the engine.

Every :class:`Incoming` passes through :func:`clean_incoming` before anything else, so
SQLite and PostgreSQL receive exactly the same strings: lone surrogates become U+FFFD,
NUL and other C0/C1 control characters are removed (newline and tab are kept), and
values that are keys in the store are made to fit their columns. Nothing here raises.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
from zoneinfo import available_timezones

from handlers.events import Attachment, Incoming, Origin

MAX_ID = 64  # platform user / chat id columns (VARCHAR(64))
MAX_NAME = 200  # display names
MAX_LOCALE = 8  # locale columns
MAX_KB_QUERY = 4000  # ticket.kb_query, kb_feedback.query
MAX_TIMEZONE = 64  # identity.timezone

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str | None) -> str | None:
    """Lone surrogates → U+FFFD; C0/C1 controls except ``\\n`` and ``\\t`` removed."""
    if text is None:
        return None
    if not isinstance(text, str):
        text = str(text)
    return _CONTROL.sub("", _SURROGATE.sub("\ufffd", text))


def fit_key(value: str, limit: int) -> str:
    """``value`` itself when it fits, else a fixed-length digest (sha256 hex, 64 chars).

    The same long value always gives the same digest, so a person with a long id is
    recognised next time; short values stay readable.
    """
    if len(value) <= limit:
        return value
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:limit]


def clean_locale(locale: str | None) -> str | None:
    """The primary language subtag (``zh-Hant-TW`` → ``zh``), at most 8 characters."""
    if not locale:
        return None
    primary = locale.replace("_", "-").split("-")[0].strip().lower()
    primary = "".join(ch for ch in primary if ch.isascii() and ch.isalpha())[:MAX_LOCALE]
    return primary or None


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def known_timezone(name: str | None) -> str | None:
    """``name`` when it is an IANA time zone this system knows (``Europe/Berlin``), else ``None``
    (a platform's profile may carry anything; an unknown zone is ignored, never an error)."""
    if not name or not isinstance(name, str) or len(name) > MAX_TIMEZONE:
        return None
    name = name.strip()
    return name if name in _zones() else None


def cut_text(inc: Incoming, limit: int) -> tuple[Incoming, int]:
    """Cut the text at ``limit`` characters; returns the event and how many were dropped."""
    if len(inc.text) <= limit:
        return inc, 0
    return dataclasses.replace(inc, text=inc.text[:limit]), len(inc.text) - limit


def _fit_id(value: str | None) -> str | None:
    value = clean_text(value)
    return fit_key(value, MAX_ID) if value else None


def clean_attachment(file: Attachment, platform: str) -> Attachment:
    """Strings cleaned like text, the name cut to a display name; ``platform`` filled in."""
    try:
        size = max(0, int(file.size or 0))
    except (TypeError, ValueError):
        size = 0
    return Attachment(
        name=(clean_text(file.name) or "")[:MAX_NAME], mime_type=(clean_text(file.mime_type) or "")[:MAX_NAME],
        size=size, file_id=clean_text(file.file_id) or "", kind=(clean_text(file.kind) or "document")[:32],
        platform=(clean_text(file.platform) or platform)[:16],
    )


def clean_incoming(inc: Incoming) -> Incoming:
    """Return ``inc`` with every string field normalised and fitted to the store."""
    display = clean_text(inc.display_name)
    thread = clean_text(inc.thread_id)
    platform = clean_text(inc.platform) or ""
    files = tuple(
        f for f in (clean_attachment(a, platform) for a in inc.attachments if isinstance(a, Attachment)) if f.file_id
    )
    return dataclasses.replace(
        inc,
        platform=platform,
        chat_id=fit_key(clean_text(inc.chat_id) or "", MAX_ID),
        user_id=fit_key(clean_text(inc.user_id) or "", MAX_ID),
        event_key=clean_text(inc.event_key) or "",
        text=clean_text(inc.text) or "",
        display_name=display[:MAX_NAME] if display else display,
        locale=clean_locale(clean_text(inc.locale)),
        timezone=known_timezone(clean_text(inc.timezone)),
        thread_id=fit_key(thread, MAX_ID) if thread else thread,
        reply_to=clean_text(inc.reply_to),
        edit_of=_fit_id(inc.edit_of),
        message_id=_fit_id(inc.message_id),
        attachments=files,
        forwarded_from=(clean_text(inc.forwarded_from) or "")[:MAX_NAME] or None,
        signal=clean_text(inc.signal),
        action=clean_text(inc.action),
        value=clean_text(inc.value),
        origin=_clean_origin(inc.origin),
    )


def _clean_origin(origin: Origin | None) -> Origin | None:
    if origin is None:
        return None
    chat, message = clean_text(origin.chat_id), clean_text(origin.message_id)
    if not chat or not message:
        return None
    thread = clean_text(origin.thread_id)
    return Origin(chat_id=fit_key(chat, MAX_ID), message_id=fit_key(message, MAX_ID),
                  thread_id=fit_key(thread, MAX_ID) if thread else None,
                  locale=clean_locale(clean_text(origin.locale)), announce=bool(origin.announce))
