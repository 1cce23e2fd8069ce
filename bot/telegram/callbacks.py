"""Telegram ``callback_data``: a compact, versioned reference to a neutral :class:`Button`.

A button carries only what names the action — ``b1:<action>:<ticket>:<value>`` — and
every press is re-authorised by the engine. The prefix is the format's version: after
an incompatible change, bump it and presses on old messages fail politely (decode
returns ``None``; the frontend answers with the "out of date" text). Telegram allows
at most 64 bytes.
"""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData

from handlers.events import Button

PREFIX = "b1"
MAX_BYTES = 64


class ButtonData(CallbackData, prefix=PREFIX, sep="|"):
    action: str
    ticket: int | None = None
    value: str | None = None


class CallbackTooLong(ValueError):
    """A button whose reference does not fit Telegram's 64 bytes (a config key too long)."""


def encode(button: Button) -> str:
    try:
        data = ButtonData(action=button.action, ticket=button.ticket_id, value=button.value).pack()
    except ValueError as exc:  # aiogram refuses > 64 bytes or a value containing the separator
        raise CallbackTooLong(f"button {button.action!r} does not fit callback_data: {exc}") from exc
    return data


def decode(data: str | None) -> ButtonData | None:
    """The button a press refers to, or ``None`` for garbage and other versions."""
    if not data or not data.startswith(PREFIX + "|"):
        return None
    try:
        return ButtonData.unpack(data)
    except (ValueError, TypeError):
        return None
