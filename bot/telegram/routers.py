"""The dispatcher: one router per concern, and the event key every handler is given.

    private      a person in their private chat          (bot.telegram.private)
    groups       agents in team groups                    (bot.telegram.groups)
    buttons      callback queries, any chat               (bot.telegram.buttons)
    membership   the bot blocked / unblocked               (bot.telegram.membership)

Handlers receive ``event_key`` (``telegram:<bot id>:<update_id>``, from the outer
middleware below) and ``desk`` (the :class:`~bot.telegram.handoff.Handoff`). An update
no router takes — channel posts, inline queries, chatter in a group — is not handled,
and is confirmed like any other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.types import TelegramObject, Update

from bot.telegram import buttons, groups, membership, private, translate
from bot.telegram.handoff import Handoff

# What setWebhook / getUpdates ask for: exactly what the routers handle.
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]


def build_dispatcher(desk: Handoff) -> Dispatcher:
    dp = Dispatcher(name="deskbot")
    dp["desk"] = desk

    async def name_event(handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
                         update: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(update, Update)
        bot: Bot = data["bot"]
        data["event_key"] = translate.event_key(desk.bot_id or bot.id, update.update_id)
        return await handler(update, data)

    dp.update.outer_middleware(name_event)
    for concern in (private, groups, buttons, membership):
        dp.include_router(concern.router())
    return dp
