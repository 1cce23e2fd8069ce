"""Delivering neutral replies to Telegram: HTML, keyboards, long texts, topics, files.

:class:`TelegramSender` is the outbox worker's :class:`~bot.delivery.Sender` for
``"telegram"``. It decides only *where in a chat* a reply goes — the engine decided
what to say and to whom:

- a reply about a ticket goes into that ticket's topic where the chat has topics (a
  private chat when the bot has topics enabled, a forum group), created on first need
  and recorded as the ticket's ``"topic"`` post so messages written in it map back to
  the ticket; in a group without topics it is sent as a reply to the ticket's queue card;
- an explicit ``Destination.thread_id`` / ``reply_to`` wins (an answer to a command typed
  in a forum's general chat stays there, as a reply);
- a forum group's topic follows its ticket: closed when the ticket is resolved or closed,
  reopened when it is open again (looked up whenever the ticket's card is sent or edited).

Files: a Telegram file goes by its ``file_id``. A file of another platform (a Slack file on
a ticket handled there) is copied when the sender was given a fetcher for that platform
(``files={"slack": slack_fetcher(client, max_bytes=MAX_UPLOAD_BYTES)}``): downloaded and
uploaded after the text, as a document (a JPEG/PNG within the photo limit as a photo), in
the same topic or reply chain. One over the bot's upload limit, or one that could not be
downloaded, is not lost silently: the text carries a note in the reader's language
(``Reply.locale``) saying so, and the rest of the reply is delivered.

Failures are reported in the worker's vocabulary (:class:`~bot.delivery.RetryAfter`,
:class:`~bot.delivery.RecipientBlocked`, anything else = retry with backoff).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiolimiter import AsyncLimiter
from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramRetryAfter,
)
from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters

from bot.delivery import RateLimit, RatePolicy, RecipientBlocked, RetryAfter, masking
from bot.files import MB, FileFetcher, FileTooLarge, foreign_files, upload_name
from bot.telegram.callbacks import encode
from bot.telegram.render import MAX_MESSAGE, plain_to_html, split_html, telegram_length, to_html
from handlers import files as filing
from handlers.events import Attachment, Destination, Reply
from handlers.texts import TEXTS, Translator, translator
from store import outbox, tickets
from store.db import Database
from store.models import Status

log = logging.getLogger("deskbot.telegram")

PLATFORM = "telegram"
TOPIC_CARD = "topic"
QUEUE_CARD = "queue"
MAX_TOPIC_NAME = 128
PARSE_MODE = "HTML"
MAX_PACERS = 10_000
MAX_PROGRESS = 1_000

# What a bot may upload itself (Bot API, https://core.telegram.org/bots/api#sending-files).
MAX_UPLOAD_BYTES = 50 * MB  # sendDocument
MAX_PHOTO_BYTES = 10 * MB  # sendPhoto
PHOTO_TYPES = frozenset({"image/jpeg", "image/png"})
NOTE_LOCALE = "en"  # for a reply queued before replies carried their reader's language
# Telegram refusing an uploaded image as a photo (it then goes as a document).
PHOTO_REFUSED = ("photo_invalid_dimensions", "image_process_failed", "photo_ext_invalid", "photo_save_file_invalid")

# Attachment kind → (Bot method, its file parameter). Unknown kinds go as documents.
SEND_FILE = {
    "photo": ("send_photo", "photo"),
    "document": ("send_document", "document"),
    "file": ("send_document", "document"),
    "voice": ("send_voice", "voice"),
    "video": ("send_video", "video"),
    "audio": ("send_audio", "audio"),
    "animation": ("send_animation", "animation"),
    "video_note": ("send_video_note", "video_note"),
}

# Telegram's error descriptions we act on (matched case-insensitively, as substrings).
NOT_MODIFIED = "message is not modified"
EDIT_GONE = ("message to edit not found", "message can't be edited", "message_id_invalid")
THREAD_GONE = ("message thread not found", "topic_deleted", "topic_id_invalid")
TOPIC_CLOSED = "topic_closed"
TOPIC_NOT_MODIFIED = "topic_not_modified"
UNREACHABLE = ("chat not found", "user is deactivated", "peer_id_invalid")

T = TypeVar("T")


def telegram_rate_policy() -> RatePolicy:
    """Telegram's documented limits: 30 messages/s overall, ~1/s per private chat,
    20/min per group."""
    return RatePolicy(overall=RateLimit(30, 1.0), per_chat=_per_chat_limit)


def _per_chat_limit(chat_id: str) -> RateLimit:
    return RateLimit(1, 1.0) if _is_private(chat_id) else RateLimit(20, 60.0)


def _is_private(chat_id: str) -> bool:
    """Telegram users (private chats) have positive ids; groups and channels negative."""
    try:
        return int(chat_id) > 0
    except ValueError:
        return False  # "@channelname": not a person


def _says(exc: TelegramAPIError, *phrases: str) -> bool:
    text = exc.message.lower()
    return any(p in text for p in phrases)


def topic_name(ticket_id: int, subject: str) -> str:
    """"#12 VPN не работает": the ticket's number and subject on one line, ≤ 128 characters."""
    name = f"#{ticket_id} {' '.join(subject.split())}".strip()
    if telegram_length(name) <= MAX_TOPIC_NAME:
        return name
    while telegram_length(name) > MAX_TOPIC_NAME - 1:
        name = name[:-1]
    return name.rstrip() + "…"


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    """The reply's buttons as an inline keyboard (callback_data = a versioned reference)."""
    rows = [[InlineKeyboardButton(text=b.label, callback_data=encode(b)) for b in row] for row in reply.buttons]
    rows = [row for row in rows if row]
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


def render_parts(reply: Reply, notes: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The reply as parse_mode=HTML texts, each within Telegram's 4096 characters; ``notes``
    (plain text, the sender's own) follow the text as paragraphs."""
    html = to_html(reply.rich) if reply.rich is not None else plain_to_html(reply.text)
    if notes:
        html = "\n\n".join([html] * bool(html.strip()) + [plain_to_html(n) for n in notes])
    return split_html(html, MAX_MESSAGE)


def telegram_files(reply: Reply) -> list[Attachment]:
    """The attachments that can be sent by file id here (others are noted by the engine),
    and those carried whole (a digest's chart: uploaded)."""
    return [a for a in reply.attachments if (a.platform == PLATFORM and a.file_id) or a.data]


class TelegramSendError(Exception):
    """A Telegram failure whose description had to be cleaned of the bot token."""


@dataclass(frozen=True)
class _Upload:
    """Another platform's file, downloaded, to upload here."""

    name: str
    size: int
    as_photo: bool
    data: bytes = field(repr=False, compare=False)

    @classmethod
    def of(cls, attachment: Attachment, data: bytes) -> _Upload:
        photo = attachment.mime_type in PHOTO_TYPES and len(data) <= MAX_PHOTO_BYTES
        return cls(upload_name(attachment), len(data), photo, data)


def copy_note(t: Translator, attachment: Attachment, *, too_big: bool) -> str:
    """Why a file of another platform is not attached, in the reader's language."""
    key = f"platform_{attachment.platform}"
    source = t(key) if key in TEXTS else attachment.platform
    name = filing.display_name(attachment, t)
    if not too_big:
        return t("file_not_copied", name=name, source=source)
    limit = filing.human_size(MAX_UPLOAD_BYTES)
    # The size Slack gave, or, when it gave none and the download stopped at the limit, "> limit".
    size = filing.human_size(attachment.size) if attachment.size > MAX_UPLOAD_BYTES else f"> {limit}"
    return t("file_not_copied_too_big", name=name, size=size, limit=limit, platform=t(f"platform_{PLATFORM}"),
             source=source)


@dataclass
class _TicketInfo:
    ticket_id: int
    subject: str
    status: str
    topic: int | None  # the ticket's topic in this chat (message_thread_id)
    queue_card: int | None  # the ticket's queue card in this chat

    @property
    def finished(self) -> bool:
        return self.status in (Status.RESOLVED, Status.CLOSED)


@dataclass
class _Route:
    """Where in its chat a reply goes."""

    chat: int | str
    thread: int | None = None
    reply_to: int | None = None
    ticket: _TicketInfo | None = None
    in_ticket_topic: bool = False  # ``thread`` is the ticket's own topic (ours to recreate)
    forum_group: bool = False

    def send_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"chat_id": self.chat}
        if self.thread is not None:
            kwargs["message_thread_id"] = self.thread
        if self.reply_to is not None:
            kwargs["reply_parameters"] = ReplyParameters(message_id=self.reply_to, allow_sending_without_reply=True)
        return kwargs


class TelegramSender:
    """Sends and edits replies through one aiogram :class:`Bot` (see the module docstring).

    Call :meth:`bind` with the store before the first send: topics and ticket lookups
    need it.
    """

    platform = PLATFORM

    def __init__(self, bot: Bot, *, rate_policy: RatePolicy | None = None,
                 files: Mapping[str, FileFetcher] | None = None) -> None:
        self.bot = bot
        self.rate_policy = rate_policy if rate_policy is not None else telegram_rate_policy()
        self.fetchers: dict[str, FileFetcher] = dict(files or {})
        self._db: Database | None = None
        self._private_topics: bool | None = None  # getMe().has_topics_enabled, fetched once
        self._forum: dict[str, bool] = {}  # group chat id → getChat().is_forum
        self._topics: dict[tuple[str, int], int] = {}  # (chat, ticket) → topic, as last seen
        self._topic_closed: dict[tuple[str, int], bool] = {}  # (chat, topic) → closed, as we left it
        # A reply cut short by a failure (429 after part 1 of 3): the steps already sent
        # and the last text's id, so the retry continues instead of repeating them.
        self._progress: dict[tuple[Any, ...], tuple[int, str | None]] = {}
        # The calls of one reply (parts, files) are spaced by the chat's limit: the worker
        # paid for all of them before ``send``, but a burst would still be answered 429.
        self._pacers: dict[str, AsyncLimiter] = {}

    def bind(self, db: Database) -> None:
        self._db = db

    @property
    def db(self) -> Database:
        if self._db is None:
            raise RuntimeError("TelegramSender.bind(db) was not called")
        return self._db

    # --- the Sender interface ---------------------------------------------------------

    def cost(self, dest: Destination, reply: Reply) -> int:
        """API calls this reply takes: its text parts, its files, and a topic to create
        (when this chat is known to have topics and the ticket has none here yet)."""
        calls = max(1, len(render_parts(reply))) + len(telegram_files(reply))
        calls += sum(a.platform in self.fetchers for a in foreign_files(reply.attachments, PLATFORM))  # uploads
        if reply.ticket_id is not None and dest.thread_id is None and self._known_topics(dest.chat_id):
            if (dest.chat_id, reply.ticket_id) not in self._topics:
                calls += 1
        return calls

    async def send(self, dest: Destination, reply: Reply) -> str | None:
        """Send ``reply`` as new messages; return the id of the last text part."""
        return await self._guarded(self._send(dest, reply))

    async def edit(self, dest: Destination, message_id: str, reply: Reply) -> str | None:
        """Edit an earlier message in place (None), or, when it is gone, send the reply
        anew and return the new message's id."""
        return await self._guarded(self._edit(dest, message_id, reply))

    # --- sending ----------------------------------------------------------------------

    async def _send(self, dest: Destination, reply: Reply) -> str | None:
        route = await self._route(dest, reply, create_topic=True)
        await self._before_card(route, reply)
        uploads, notes = await self._copy_foreign(reply)
        parts, markup = render_parts(reply, notes), keyboard(reply)
        files: list[Attachment | _Upload] = [*telegram_files(reply), *uploads]
        try:
            message_id = await self._deliver(route, parts, markup, files)
        except TelegramBadRequest as exc:
            if route.thread is not None and _says(exc, *THREAD_GONE):
                if route.in_ticket_topic:
                    # Someone deleted the ticket's topic: open a new one (once) and send there.
                    assert route.ticket is not None
                    log.info("topic of ticket #%s is gone; creating it again", route.ticket.ticket_id,
                             extra={"platform": PLATFORM, "ticket": route.ticket.ticket_id})
                    route.thread = await self._create_topic(dest.chat_id, route.ticket)
                else:
                    route.thread = None  # a thread that is not ours: the main chat rather than nowhere
                message_id = await self._deliver(route, parts, markup, files)
            elif route.forum_group and route.in_ticket_topic and _says(exc, TOPIC_CLOSED):
                # A message after the ticket was closed (a rating, a late note): open, send, close.
                await self._set_topic_closed(route, False, force=True)
                message_id = await self._deliver(route, parts, markup, files)
                if route.ticket is not None and route.ticket.finished:
                    await self._set_topic_closed(route, True)
            else:
                raise
        await self._after_card(route, reply)
        return message_id

    async def _deliver(
        self, route: _Route, texts: list[str], markup: InlineKeyboardMarkup | None,
        files: list[Attachment | _Upload],
    ) -> str | None:
        """Send the text parts (buttons on the last) and then the files, into the route."""
        steps: list[tuple[str, Any]] = [("text", t) for t in texts] + [("file", f) for f in files]
        if not steps:
            log.warning("nothing to send (empty text, no files)", extra={"platform": PLATFORM})
            return None
        key = (route.chat, route.thread, route.reply_to, tuple(texts), tuple(files), _markup_key(markup))
        done, last_id = self._progress.pop(key, (0, None))
        last_text = len(texts) - 1
        for index, (kind, item) in enumerate(steps):
            if index < done:
                continue
            # Buttons ride on the last text part, or on the last file when there is no text.
            buttons = markup if index == (last_text if texts else len(steps) - 1) else None
            try:
                await self._pace(str(route.chat))
                message = await self._call(self._send_step(route, kind, item, buttons))
            except BaseException:
                if index:
                    if len(self._progress) >= MAX_PROGRESS:  # replies never retried (given up on)
                        self._progress.pop(next(iter(self._progress)))
                    self._progress[key] = (index, last_id)
                raise
            if kind == "text" or not texts:
                last_id = str(message.message_id)
        return last_id

    def _send_step(self, route: _Route, kind: str, item: Any, markup: InlineKeyboardMarkup | None) -> Awaitable[Any]:
        kwargs = route.send_kwargs()
        if markup is not None:
            kwargs["reply_markup"] = markup
        if kind == "text":
            return self.bot.send_message(text=item, parse_mode=PARSE_MODE, **kwargs)
        if isinstance(item, _Upload):
            return self._upload(item, kwargs)
        method, param = SEND_FILE.get(item.kind, SEND_FILE["document"])
        file: str | BufferedInputFile = item.file_id
        if item.data:
            file = BufferedInputFile(item.data, filename=item.name or "file")
        return getattr(self.bot, method)(**{param: file}, **kwargs)

    async def _upload(self, item: _Upload, kwargs: dict[str, Any]) -> Any:
        """A copied file: a photo when it is one Telegram takes as such, else a document."""
        if item.as_photo:
            try:
                return await self.bot.send_photo(photo=BufferedInputFile(item.data, filename=item.name), **kwargs)
            except TelegramBadRequest as exc:
                if not _says(exc, *PHOTO_REFUSED):
                    raise
                log.info("image refused as a photo; sending it as a document", extra={"platform": PLATFORM})
        return await self.bot.send_document(document=BufferedInputFile(item.data, filename=item.name), **kwargs)

    async def _copy_foreign(self, reply: Reply) -> tuple[list[_Upload], list[str]]:
        """Other platforms' files downloaded for upload, and a note for each that cannot be
        (over the upload limit, no fetcher, the download failed)."""
        uploads: list[_Upload] = []
        notes: list[str] = []
        t = translator(reply.locale or NOTE_LOCALE)
        for attachment in foreign_files(reply.attachments, PLATFORM):
            fetch = self.fetchers.get(attachment.platform)
            if attachment.size > MAX_UPLOAD_BYTES:
                notes.append(copy_note(t, attachment, too_big=True))
                continue
            try:
                if fetch is None:
                    raise LookupError(f"no fetcher for {attachment.platform} files")
                data = await fetch(attachment)
                if not data:
                    raise LookupError("empty file")
            except FileTooLarge:
                notes.append(copy_note(t, attachment, too_big=True))
                continue
            except Exception as exc:  # noqa: BLE001 — a file that cannot be copied gets a note instead
                # Only the type: another platform's error text may carry its bot token.
                log.warning("%s file not copied to Telegram: %s", attachment.platform, type(exc).__name__,
                            extra={"platform": PLATFORM})
                notes.append(copy_note(t, attachment, too_big=False))
                continue
            if len(data) > MAX_UPLOAD_BYTES:
                notes.append(copy_note(t, attachment, too_big=True))
                continue
            uploads.append(_Upload.of(attachment, data))
        return uploads, notes

    async def _pace(self, chat_id: str) -> None:
        """Wait until this chat's limit allows one more call. The worker paces replies; this
        keeps the calls of one reply (its parts and files) from arriving as a burst where
        the chat allows none (1/s in a private chat), while a group's 20/min still lets a
        few parts go out together."""
        pacer = self._pacers.get(chat_id)
        if pacer is None:
            limit = self.rate_policy.for_chat(chat_id)
            if limit is None:
                return
            if len(self._pacers) >= MAX_PACERS:  # forget chats whose turn has long come
                self._pacers = {k: p for k, p in self._pacers.items() if not p.has_capacity(p.max_rate)}
            pacer = self._pacers[chat_id] = AsyncLimiter(limit.count, limit.period)
        await pacer.acquire()

    # --- editing ----------------------------------------------------------------------

    async def _edit(self, dest: Destination, message_id: str, reply: Reply) -> str | None:
        route = await self._route(dest, reply, create_topic=False)
        await self._before_card(route, reply)
        texts = render_parts(reply)
        markup = keyboard(reply)
        if not texts:
            return await self._send(dest, reply)
        try:
            await self._call(self.bot.edit_message_text(
                chat_id=route.chat, message_id=int(message_id), text=texts[0], parse_mode=PARSE_MODE,
                reply_markup=markup if len(texts) == 1 else None,
            ))
        except TelegramBadRequest as exc:
            if _says(exc, NOT_MODIFIED):
                pass  # the message already says this: done
            elif _says(exc, *EDIT_GONE):
                log.info("message to edit is gone; sending a new one", extra={"platform": PLATFORM})
                return await self._send(dest, reply)
            else:
                raise
        new_id: str | None = None
        if len(texts) > 1:
            # Grown past one message: the rest follows, with the buttons on the last part.
            new_id = await self._deliver(route, texts[1:], markup, [])
        await self._after_card(route, reply)
        return new_id

    # --- where a reply goes -----------------------------------------------------------

    async def _route(self, dest: Destination, reply: Reply, *, create_topic: bool) -> _Route:
        """The thread or message a reply goes under; ``create_topic``: open the ticket's
        topic here if it has none yet (sending does, an edit in place does not)."""
        route = _Route(chat=_chat(dest.chat_id))
        route.thread = int(dest.thread_id) if dest.thread_id else None
        route.reply_to = int(dest.reply_to) if dest.reply_to else None
        if reply.ticket_id is None:
            return route
        has_topics = await self._has_topics(dest.chat_id)
        route.forum_group = has_topics and not _is_private(dest.chat_id)
        route.ticket = await self._ticket_info(reply.ticket_id, dest.chat_id)
        if route.ticket is None:
            return route
        if has_topics:
            # An answer to a message written outside any topic (a command in a forum's
            # general chat) stays there, as a reply; everything else about the ticket goes
            # into its topic.
            if route.thread is None and route.reply_to is None:
                route.thread = route.ticket.topic
                if route.thread is None and create_topic:
                    route.thread = await self._create_topic(dest.chat_id, route.ticket)
            route.in_ticket_topic = route.thread is not None and route.thread == route.ticket.topic
        elif (not _is_private(dest.chat_id) and reply.card is None and route.reply_to is None
              and route.ticket.queue_card is not None):
            route.reply_to = route.ticket.queue_card  # in a plain group, the card's replies are the thread
        return route

    async def _ticket_info(self, ticket_id: int, chat_id: str) -> _TicketInfo | None:
        async with self.db.transaction() as s:
            ticket = await tickets.get_ticket(s, ticket_id)
            if ticket is None:
                return None
            topic = await outbox.find_post(s, ticket_id, PLATFORM, chat_id, TOPIC_CARD)
            card = await outbox.find_post(s, ticket_id, PLATFORM, chat_id, QUEUE_CARD)
            info = _TicketInfo(
                ticket_id=ticket_id, subject=ticket.subject, status=ticket.status,
                topic=_int_or_none(topic.thread_id or topic.message_id) if topic else None,
                queue_card=_int_or_none(card.message_id) if card else None,
            )
        if info.topic is not None:
            self._topics[(chat_id, ticket_id)] = info.topic
        return info

    async def _has_topics(self, chat_id: str) -> bool:
        """Private chats: the bot has topics enabled (getMe, once); groups: a forum (getChat)."""
        if _is_private(chat_id):
            if self._private_topics is None:
                me = await self._call(self.bot.get_me())
                self._private_topics = bool(me.has_topics_enabled)
            return self._private_topics
        if chat_id not in self._forum:
            chat = await self._call(self.bot.get_chat(chat_id=_chat(chat_id)))
            self._forum[chat_id] = bool(chat.is_forum)
        return self._forum[chat_id]

    def _known_topics(self, chat_id: str) -> bool:
        return bool(self._private_topics) if _is_private(chat_id) else self._forum.get(chat_id, False)

    async def _create_topic(self, chat_id: str, ticket: _TicketInfo) -> int:
        """A new topic for the ticket, recorded at once (its own short transaction) so
        messages written in it map to the ticket even if the send that needed it fails."""
        topic = await self._call(self.bot.create_forum_topic(
            chat_id=_chat(chat_id), name=topic_name(ticket.ticket_id, ticket.subject),
        ))
        thread = int(topic.message_thread_id)
        async with self.db.transaction() as s:
            post = await outbox.find_post(s, ticket.ticket_id, PLATFORM, chat_id, TOPIC_CARD)
            if post is None:
                await outbox.remember_post(s, ticket.ticket_id, PLATFORM, chat_id, TOPIC_CARD, str(thread),
                                           thread_id=str(thread))
            else:  # the old topic was deleted
                post.message_id = post.thread_id = str(thread)
                s.add(post)
                await s.flush()
        ticket.topic = thread
        self._topics[(chat_id, ticket.ticket_id)] = thread
        self._topic_closed[(chat_id, thread)] = False
        return thread

    # --- a forum group's topic follows its ticket ---------------------------------------

    def _follows_ticket(self, route: _Route, reply: Reply) -> bool:
        return bool(route.forum_group and reply.card and route.ticket is not None and route.in_ticket_topic)

    async def _before_card(self, route: _Route, reply: Reply) -> None:
        if self._follows_ticket(route, reply) and not route.ticket.finished:  # type: ignore[union-attr]
            await self._set_topic_closed(route, False)

    async def _after_card(self, route: _Route, reply: Reply) -> None:
        if self._follows_ticket(route, reply) and route.ticket.finished:  # type: ignore[union-attr]
            await self._set_topic_closed(route, True)

    async def _set_topic_closed(self, route: _Route, closed: bool, *, force: bool = False) -> None:
        assert route.thread is not None
        key = (str(route.chat), route.thread)
        if not force and self._topic_closed.get(key) == closed:
            return
        method = self.bot.close_forum_topic if closed else self.bot.reopen_forum_topic
        try:
            await self._call(method(chat_id=route.chat, message_thread_id=route.thread))
        except TelegramBadRequest as exc:
            if not _says(exc, TOPIC_NOT_MODIFIED):
                raise
        self._topic_closed[key] = closed

    # --- errors -----------------------------------------------------------------------

    async def _call(self, call: Awaitable[T]) -> T:
        """One API call, with the failures the worker acts on translated."""
        try:
            return await call
        except TelegramRetryAfter as exc:
            # Flood control does not say which limit was hit: the whole bot waits.
            raise RetryAfter(float(exc.retry_after), scope="platform") from None
        except TelegramForbiddenError as exc:
            raise RecipientBlocked(exc.message) from None
        except TelegramBadRequest as exc:
            if _says(exc, *UNREACHABLE):
                raise RecipientBlocked(exc.message) from None
            raise

    async def _guarded(self, call: Awaitable[T]) -> T:
        """Make sure no failure leaving the sender carries the bot token."""
        return await masking(call, self.bot.token, TelegramSendError)


def _chat(chat_id: str) -> int | str:
    try:
        return int(chat_id)
    except ValueError:
        return chat_id


def _int_or_none(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _markup_key(markup: InlineKeyboardMarkup | None) -> tuple[Any, ...]:
    if markup is None:
        return ()
    return tuple(tuple((b.text, b.callback_data) for b in row) for row in markup.inline_keyboard)


__all__ = [
    "MAX_PHOTO_BYTES", "MAX_UPLOAD_BYTES", "TelegramSender", "TelegramSendError", "copy_note", "keyboard",
    "render_parts", "telegram_rate_policy", "topic_name",
]
