"""Telegram objects → the neutral :class:`~handlers.events.Incoming`, as pure functions.

The routers (``private``, ``groups``, ``buttons``, ``membership``) decide *which* updates
reach the desk; this module says *what* each one means. Ids are strings (COMMON
contracts): ``chat_id=str(chat.id)``, ``user_id=str(from_user.id)``, message ids
``str(message_id)``, ``thread_id=str(message_thread_id)`` only for a message inside a
topic, ``reply_to`` the message replied to — never the service message that created the
topic (Telegram fills ``reply_to_message`` with it for every topic message).
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from aiogram.enums import ChatMemberStatus, ChatType, ContentType
from aiogram.types import (
    CallbackQuery,
    ChatMemberUpdated,
    Message,
    MessageOriginChannel,
    MessageOriginChat,
    MessageOriginHiddenUser,
    MessageOriginUser,
    User,
)

from bot.config import LOCALES
from bot.telegram import callbacks
from handlers.events import Attachment, Incoming

PLATFORM = "telegram"

# What a person can send that the desk takes in: text, and files (with an optional caption).
FILE_KINDS: tuple[str, ...] = (
    ContentType.PHOTO, ContentType.DOCUMENT, ContentType.VOICE, ContentType.VIDEO,
    ContentType.AUDIO, ContentType.ANIMATION, ContentType.VIDEO_NOTE,
)
SUPPORTED: frozenset[str] = frozenset((ContentType.TEXT, *FILE_KINDS))
# What a person can send that the desk cannot take in: answered "send text or a file".
# (Service messages — members joining, topics created, pins — are not a person talking
# and are ignored: they are neither here nor in SUPPORTED.)
UNSUPPORTED: frozenset[str] = frozenset((
    ContentType.STICKER, ContentType.LOCATION, ContentType.CONTACT, ContentType.POLL,
    ContentType.DICE, ContentType.VENUE, ContentType.GAME, ContentType.STORY,
    ContentType.INVOICE, ContentType.CHECKLIST, ContentType.PAID_MEDIA, ContentType.LIVE_PHOTO,
    ContentType.GIVEAWAY, ContentType.WEB_APP_DATA, ContentType.USERS_SHARED, ContentType.CHAT_SHARED,
    ContentType.RICH_MESSAGE,
))
# A command as the engine knows it: "/cmd" or "/cmd@botname" at the very start.
COMMAND_PREFIX = "/"

_INCOMING_FIELDS = frozenset(f.name for f in fields(Incoming))


def event_key(bot_id: int, update_id: int) -> str:
    return f"telegram:{bot_id}:{update_id}"


def locale_of(user: User | None) -> str | None:
    """The user's Telegram language as one of ours (``ru-RU`` → ``ru``), else ``None``."""
    code = (user.language_code or "") if user is not None else ""
    lang = code.split("-", 1)[0].lower()
    return lang if lang in LOCALES else None


def is_private(message: Message) -> bool:
    return message.chat.type == ChatType.PRIVATE


def thread_id_of(message: Message) -> str | None:
    """The topic a message is in (forum groups, private chats with topics)."""
    if message.is_topic_message and message.message_thread_id is not None:
        return str(message.message_thread_id)
    return None


def reply_to_of(message: Message) -> str | None:
    """The message this one answers — not the topic's creation message every topic message
    points at."""
    replied = message.reply_to_message
    if replied is None or replied.forum_topic_created is not None:
        return None
    if message.is_topic_message and replied.message_id == message.message_thread_id:
        return None
    return str(replied.message_id)


def in_thread(message: Message) -> bool:
    """Whether a message carries a reference that could name a ticket's thread."""
    return thread_id_of(message) is not None or reply_to_of(message) is not None


def is_command(message: Message) -> bool:
    return (message.text or "").startswith(COMMAND_PREFIX)


def command_addressee(message: Message) -> str | None:
    """The bot a command names (``/queue@deskbot`` → ``deskbot``), ``None`` when it names none."""
    if not is_command(message):
        return None
    name = (message.text or "").split(maxsplit=1)[0]
    _, at, bot = name.partition("@")
    return bot if at else None


def text_of(message: Message) -> str:
    return message.text if message.text is not None else (message.caption or "")


def attachments_of(message: Message) -> tuple[Attachment, ...]:
    """The files of a message as references (photos: the largest size)."""
    def att(kind: str, file: Any, name: str, mime: str) -> Attachment:
        return Attachment(name=name, mime_type=mime, size=int(getattr(file, "file_size", None) or 0),
                          file_id=file.file_id, kind=kind, platform=PLATFORM)

    found: list[Attachment] = []
    if message.photo:
        largest = max(message.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
        found.append(att("photo", largest, "photo.jpg", "image/jpeg"))
    if message.document is not None:
        d = message.document
        found.append(att("document", d, d.file_name or "document", d.mime_type or "application/octet-stream"))
    if message.voice is not None:
        found.append(att("voice", message.voice, "voice.ogg", message.voice.mime_type or "audio/ogg"))
    if message.video is not None:
        v = message.video
        found.append(att("video", v, v.file_name or "video.mp4", v.mime_type or "video/mp4"))
    if message.audio is not None:
        a = message.audio
        found.append(att("audio", a, a.file_name or a.title or "audio", a.mime_type or "audio/mpeg"))
    if message.animation is not None:
        an = message.animation
        # Telegram also sets ``document`` for an animation (older clients): keep one of them.
        found = [f for f in found if f.file_id != an.file_id]
        found.append(att("animation", an, an.file_name or "animation.mp4", an.mime_type or "video/mp4"))
    if message.video_note is not None:
        found.append(att("video_note", message.video_note, "video_note.mp4", "video/mp4"))
    return tuple(found)


def forwarded_from(message: Message) -> str | None:
    """Who a forwarded message came from, as the reader should see it."""
    origin = message.forward_origin
    if isinstance(origin, MessageOriginUser):
        return origin.sender_user.full_name
    if isinstance(origin, MessageOriginHiddenUser):
        return origin.sender_user_name
    if isinstance(origin, MessageOriginChat):
        return origin.sender_chat.title or origin.sender_chat.full_name
    if isinstance(origin, MessageOriginChannel):
        title = origin.chat.title or origin.chat.full_name
        return f"{title} ({origin.author_signature})" if origin.author_signature else title
    return None


def _incoming(**values: Any) -> Incoming:
    # ``message_id`` is set where the engine's Incoming has it (an extension of the contract).
    return Incoming(**{k: v for k, v in values.items() if k in _INCOMING_FIELDS})


def _person(message: Message) -> dict[str, Any]:
    user = message.from_user
    assert user is not None  # the routers only pass messages from a person
    return {
        "platform": PLATFORM, "chat_id": str(message.chat.id), "user_id": str(user.id),
        "display_name": user.full_name, "locale": locale_of(user), "is_private": is_private(message),
        "thread_id": thread_id_of(message), "reply_to": reply_to_of(message),
        "message_id": str(message.message_id),
    }


def message(msg: Message, key: str, *, edited: bool = False) -> Incoming:
    """A text or a file (with its caption); an edited one names the original message."""
    return _incoming(
        **_person(msg), event_key=key, text=text_of(msg), attachments=attachments_of(msg),
        edit_of=str(msg.message_id) if edited else None, forwarded_from=forwarded_from(msg),
    )


def unsupported(msg: Message, key: str) -> Incoming:
    """A sticker, location, contact, poll…: the desk answers "send text or a file"."""
    return _incoming(**_person(msg), event_key=key, signal="unsupported")


def button(query: CallbackQuery, key: str) -> Incoming:
    """A press: the decoded reference, or ``stale`` for garbage and other versions."""
    user = query.from_user
    where = query.message
    chat = where.chat if where is not None else None
    data = callbacks.decode(query.data)
    common: dict[str, Any] = {
        "platform": PLATFORM, "user_id": str(user.id), "event_key": key,
        "chat_id": str(chat.id) if chat is not None else str(user.id),
        "is_private": chat is None or chat.type == ChatType.PRIVATE,
        "display_name": user.full_name, "locale": locale_of(user), "alert": True,
        "message_id": str(where.message_id) if where is not None else None,
    }
    if data is None:
        return _incoming(**common, action="stale")
    return _incoming(**common, action=data.action, ticket_id=data.ticket, value=data.value)


BLOCKED = {ChatMemberStatus.KICKED: "blocked", ChatMemberStatus.MEMBER: "unblocked"}


def membership(event: ChatMemberUpdated, key: str) -> Incoming | None:
    """The bot blocked / unblocked in a private chat; ``None`` for anything else."""
    if event.chat.type != ChatType.PRIVATE:
        return None
    signal = BLOCKED.get(event.new_chat_member.status)  # type: ignore[call-overload]
    if signal is None:
        return None
    user = event.from_user
    return _incoming(platform=PLATFORM, chat_id=str(event.chat.id), user_id=str(user.id), event_key=key,
                     display_name=user.full_name, locale=locale_of(user), signal=signal)
