"""The bot's own membership: a person blocking or unblocking it in their private chat.

| Telegram ``my_chat_member`` (private chat)   | Incoming                     |
|----------------------------------------------|------------------------------|
| new status ``kicked``                          | ``signal="blocked"``        |
| new status ``member``                          | ``signal="unblocked"``      |
| anything else, any group                       | ignored                      |
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.types import ChatMemberUpdated

from bot.telegram import translate
from bot.telegram.handoff import Handoff

async def changed(event: ChatMemberUpdated, event_key: str, desk: Handoff) -> None:
    inc = translate.membership(event, event_key)
    if inc is not None:
        await desk.handle(inc)


def router() -> Router:
    r = Router(name="membership")
    r.my_chat_member.register(changed, F.chat.type == ChatType.PRIVATE)
    return r
