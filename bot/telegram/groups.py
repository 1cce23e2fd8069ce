"""Team groups: agents working tickets.

Only what can concern the desk reaches the engine: commands (``/queue``, ``/take 12``…)
and messages in a ticket's thread — inside a topic (forum groups) or as a reply (groups
without topics). The translation is the private chats' one with ``is_private=False``.

| Telegram                                   | Incoming                                      |
|--------------------------------------------|-----------------------------------------------|
| a command (``/take 12``, ``/take@our_bot 12``) | ``text``                                    |
| a command for another bot (``/help@other``)  | ignored                                       |
| text / file in a topic or replying          | ``text``, ``attachments``, ``thread_id`` / ``reply_to`` |
| an edit of such a message                   | ``edit_of``                                   |
| sticker, poll… in a topic or replying       | ``signal="unsupported"`` (the engine answers only in a ticket's thread) |
| anything else (chatter, service messages)   | ignored                                       |
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.types import Message

from bot.telegram import translate
from bot.telegram.handoff import Handoff
from bot.telegram.private import edited, said, unsupported

GROUPS = {ChatType.GROUP, ChatType.SUPERGROUP}


def about_desk(message: Message, desk: Handoff) -> bool:
    """A command for this bot, or a message in a thread (a group has other bots too)."""
    if translate.is_command(message):
        addressee = translate.command_addressee(message)
        return addressee is None or addressee.lower() == (desk.bot_username or "").lower()
    return translate.in_thread(message)


def router() -> Router:
    r = Router(name="groups")
    r.message.filter(F.chat.type.in_(GROUPS), F.from_user.is_bot.is_(False), about_desk)
    r.edited_message.filter(F.chat.type.in_(GROUPS), F.from_user.is_bot.is_(False), about_desk)
    r.message.register(said, F.content_type.in_(translate.SUPPORTED))
    r.edited_message.register(edited, F.content_type.in_(translate.SUPPORTED))
    r.message.register(unsupported, F.content_type.in_(translate.UNSUPPORTED))
    return r
