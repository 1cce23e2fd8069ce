"""Hostile-input normalisation at the edge of the engine.

Every :class:`Incoming` passes through :func:`clean_incoming` before anything else, so
SQLite and PostgreSQL receive exactly the same strings: lone surrogates become U+FFFD,
NUL and other C0/C1 control characters are removed (newline and tab are kept), and
values that are keys in the store are made to fit their columns. Nothing here raises.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re

from handlers.events import Incoming

MAX_ID = 64  # platform user / chat id columns (VARCHAR(64))
MAX_NAME = 200  # display names
MAX_LOCALE = 8  # locale columns
MAX_KB_QUERY = 4000  # ticket.kb_query, kb_feedback.query

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


def cut_text(inc: Incoming, limit: int) -> tuple[Incoming, int]:
    """Cut the text at ``limit`` characters; returns the event and how many were dropped."""
    if len(inc.text) <= limit:
        return inc, 0
    return dataclasses.replace(inc, text=inc.text[:limit]), len(inc.text) - limit


def clean_incoming(inc: Incoming) -> Incoming:
    """Return ``inc`` with every string field normalised and fitted to the store."""
    display = clean_text(inc.display_name)
    thread = clean_text(inc.thread_id)
    return dataclasses.replace(
        inc,
        platform=clean_text(inc.platform) or "",
        chat_id=fit_key(clean_text(inc.chat_id) or "", MAX_ID),
        user_id=fit_key(clean_text(inc.user_id) or "", MAX_ID),
        event_key=clean_text(inc.event_key) or "",
        text=clean_text(inc.text) or "",
        display_name=display[:MAX_NAME] if display else display,
        locale=clean_locale(clean_text(inc.locale)),
        thread_id=fit_key(thread, MAX_ID) if thread else thread,
        reply_to=clean_text(inc.reply_to),
        edit_of=clean_text(inc.edit_of),
        forwarded_from=(clean_text(inc.forwarded_from) or "")[:MAX_NAME] or None,
        signal=clean_text(inc.signal),
        action=clean_text(inc.action),
        value=clean_text(inc.value),
    )
