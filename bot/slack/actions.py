"""Slack button ``value``: the same versioned reference as Telegram's callback_data.

A Block Kit button carries ``action_id`` (unique within its message: ``b<row>.<col>``) and
``value`` = ``b1|<action>|<ticket>|<value>`` (≤ 2000 characters); every press is
re-authorised by the engine. Undecodable or older-version values decode to ``None`` and
the frontend answers with the "out of date" text (``action="stale"``).
"""

from __future__ import annotations

from bot.telegram.callbacks import ButtonData, decode as _decode
from handlers.events import Button

MAX_VALUE = 2000
ACTION_PREFIX = "b"


def encode(button: Button) -> str:
    return ButtonData(action=button.action, ticket=button.ticket_id, value=button.value).pack()


def action_id(row: int, col: int) -> str:
    return f"{ACTION_PREFIX}{row}.{col}"


def decode(value: str | None) -> ButtonData | None:
    return _decode(value)
