"""Button presses (callback queries), in any chat.

| Telegram                                   | Incoming / answer                              |
|--------------------------------------------|------------------------------------------------|
| ``b1|claim|12|``                           | ``action="claim", ticket_id=12, alert=True``  |
| garbage, an old version's prefix            | ``action="stale", alert=True``                |
| engine refused (``Outcome.alert``)          | ``answerCallbackQuery(text, show_alert=True)`` |
| anything else                               | ``answerCallbackQuery()`` (stops the spinner)  |

Every press is answered, after the engine committed; the engine re-authorises it.
"""

from __future__ import annotations

import logging

from aiogram import Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery

from bot.telegram import translate
from bot.telegram.handoff import Handoff

log = logging.getLogger("deskbot.telegram")

async def pressed(query: CallbackQuery, event_key: str, desk: Handoff) -> None:
    outcome = await desk.handle(translate.button(query, event_key))
    try:
        if outcome.alert:
            await query.answer(text=outcome.alert, show_alert=True)
        else:
            await query.answer()
    except TelegramAPIError as exc:
        # The press is handled and committed; an answer that fails (the query is older than
        # Telegram keeps it) only leaves the spinner running on that client.
        log.warning("answerCallbackQuery failed: %s", type(exc).__name__)


def router() -> Router:
    r = Router(name="buttons")
    r.callback_query.register(pressed)
    return r
