"""Private chats: a person talking to the desk.

| Telegram                                   | Incoming                                      |
|--------------------------------------------|-----------------------------------------------|
| text, ``/start cat_x``, ``/new``, ``/my`` … | ``text`` (commands as typed; the engine reads them) |
| photo, document, voice, video, audio, …    | ``attachments`` (+ the caption as ``text``)   |
| an edited text or caption                   | ``edit_of`` = the original message id         |
| a forwarded message                         | ``forwarded_from`` = the origin's name        |
| sticker, location, contact, poll, dice, …   | ``signal="unsupported"``                      |
| service messages (topic created, pins, …)   | ignored                                       |
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.types import Message

from bot.telegram import translate
from bot.telegram.handoff import Handoff


async def said(message: Message, event_key: str, desk: Handoff) -> None:
    await desk.handle(translate.message(message, event_key))


async def edited(message: Message, event_key: str, desk: Handoff) -> None:
    await desk.handle(translate.message(message, event_key, edited=True))


async def unsupported(message: Message, event_key: str, desk: Handoff) -> None:
    await desk.handle(translate.unsupported(message, event_key))


def router() -> Router:
    r = Router(name="private")
    r.message.filter(F.chat.type == ChatType.PRIVATE, F.from_user.is_bot.is_(False))
    r.edited_message.filter(F.chat.type == ChatType.PRIVATE, F.from_user.is_bot.is_(False))
    r.message.register(said, F.content_type.in_(translate.SUPPORTED))
    r.edited_message.register(edited, F.content_type.in_(translate.SUPPORTED))
    r.message.register(unsupported, F.content_type.in_(translate.UNSUPPORTED))
    return r
