"""Delivering neutral replies to Slack: Block Kit messages, threads, card edits, files.

:class:`SlackSender` is the outbox worker's :class:`~bot.delivery.Sender` for ``"slack"``.
It decides only *where in a channel* a reply goes — the engine decided what to say and
to whom (:mod:`bot.slack.blocks` decides how it looks):

- an explicit ``Destination.thread_id`` (the ``thread_ts`` the person wrote in) wins;
- a reply about a ticket in a team channel goes into the thread of the ticket's queue card
  there (the card itself is a top-level message);
- a reply about a ticket in a DM goes into the thread of the ticket's root message there;
  the first such message ("#12 created") *is* the root, recorded at once as the ticket's
  ``"thread"`` post (``message_id = thread_id = ts``) so that messages written in the
  thread map back to the ticket (:func:`store.outbox.ticket_for_message`).

An App Home (``card="home"``, the view in ``Reply.view``) is not a message: it is drawn by
:mod:`bot.slack.home` and published to the person (``views.publish``, ``chat_id`` = their id).

Files: Slack files (``Attachment.platform == "slack"``) are shared again as a permalink line
under the text (the name alone when the file cannot be looked up). A file from another
platform is copied across when the sender was given a fetcher for that platform
(``files={"telegram": telegram_fetcher(bot)}``: Bot API ``getFile`` + download): it is
uploaded into the same thread after the text (``files.getUploadURLExternal``, the upload,
``files.completeUploadExternal`` — slack_sdk's ``files_upload_v2``). Without a fetcher, or
when the download fails, the file is listed by name. Files too big for the bot to fetch
never get here: the engine notes them (handlers/files.py).

Failures are reported in the worker's vocabulary: HTTP 429 → :class:`~bot.delivery.RetryAfter`
(its ``Retry-After``, scope ``"platform"``: Slack does not say which limit it was, and the
worker already paces each channel to its 1/s, so a 429 is most likely the workspace-wide
limit, which holds for every channel), an unreachable
channel or person → :class:`~bot.delivery.RecipientBlocked`, anything else is raised as it
is (retried with backoff). The bot token never appears in what leaves the sender.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from aiolimiter import AsyncLimiter
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery import RateLimit, RatePolicy, RecipientBlocked, RetryAfter, masking
from bot.files import FileFetcher, foreign_files, upload_name
from bot.slack.blocks import SlackMessage, render_messages, render_single
from bot.slack.home import home_view
from bot.slack.render import escape
from handlers.events import Attachment, Destination, Reply, inline_files
from handlers.home import HOME_CARD, HomeView
from store import outbox, tickets
from store.db import Database

if TYPE_CHECKING:
    from aiogram import Bot

log = logging.getLogger("deskbot.slack")

PLATFORM = "slack"
QUEUE_CARD = "queue"
THREAD_CARD = "thread"
FILE_MARK = "📎"
MAX_PACERS = 10_000
MAX_PROGRESS = 1_000
DEFAULT_RETRY_AFTER = 1
# Characters a permalink keeps as they are; the rest (<, >, |, spaces) are percent-encoded so
# the link cannot end early or carry markup.
URL_SAFE = ":/?#[]@!$&'()*+,;=%~"

# Slack error codes we act on.
EDIT_GONE = frozenset({"message_not_found", "cant_update_message"})
UNREACHABLE = frozenset({"channel_not_found", "is_archived", "not_in_channel", "account_inactive", "user_not_found",
                         "user_disabled"})
MAX_DM_CACHE = 10_000

T = TypeVar("T")

def telegram_fetcher(bot: Bot) -> FileFetcher:
    """A Telegram file's content through the Bot API (``getFile``, then the file URL)."""

    async def fetch(attachment: Attachment) -> bytes:
        file = await bot.get_file(attachment.file_id)
        if not file.file_path:
            raise LookupError("getFile gave no file_path")
        data = await bot.download_file(file.file_path)
        assert data is not None
        return data.read()

    return fetch


def slack_rate_policy(overall: RateLimit | None = None) -> RatePolicy:
    """chat.postMessage's documented limit: about one message per second per channel
    (short bursts tolerated). Slack also keeps a workspace-wide limit but publishes no
    number for it; ``overall`` declares one (the worker then paces every send of the app
    to it) where a desk knows its figure. Without it Slack answers that limit with a 429
    like the rest, which the worker honours."""
    return RatePolicy(overall=overall, per_chat=_per_channel_limit)


def _per_channel_limit(chat_id: str) -> RateLimit:
    return RateLimit(1, 1.0)


def is_dm(chat_id: str) -> bool:
    """Direct-message channels have ids starting with D (channels C…, private/group G…)."""
    return chat_id.startswith("D")


def is_user(chat_id: str) -> bool:
    """A person's id (U…, or W… in Enterprise Grid) given where a channel is expected: the
    app's DM with them (opened with conversations.open)."""
    return chat_id[:1] in ("U", "W")


def slack_files(reply: Reply) -> list[Attachment]:
    """The attachments that are Slack files (shared again by permalink)."""
    return [a for a in reply.attachments if a.platform == PLATFORM and a.file_id]


def file_line(name: str, permalink: str | None) -> str:
    """One attachment as a mrkdwn line: a link to the file, or its (escaped) name."""
    label = escape(name or "file")
    if permalink:
        return f"{FILE_MARK} <{escape(quote(permalink, safe=URL_SAFE))}|{label}>"
    return f"{FILE_MARK} {label}"


class SlackSendError(Exception):
    """A Slack failure whose text had to be cleaned of the bot token."""


@dataclass
class _Route:
    """Where in its channel a reply goes; ``root_of``: this message becomes that ticket's
    thread root in a DM (no root there yet)."""

    channel: str
    thread_ts: str | None = None
    root_of: int | None = None


class SlackSender:
    """Sends and edits replies through one slack_sdk :class:`AsyncWebClient` (see the
    module docstring). Call :meth:`bind` with the store before the first send."""

    platform = PLATFORM

    def __init__(self, client: AsyncWebClient, *, rate_policy: RatePolicy | None = None,
                 files: Mapping[str, FileFetcher] | None = None) -> None:
        self.client = client
        self.rate_policy = rate_policy if rate_policy is not None else slack_rate_policy()
        self.fetchers: dict[str, FileFetcher] = dict(files or {})
        self._db: Database | None = None
        # A reply cut short by a failure (429 after message 1 of 3): the messages already
        # sent, the last ts and the thread, so the retry continues instead of repeating them.
        self._progress: dict[tuple[Any, ...], tuple[int, str | None, str | None]] = {}
        # The messages of one reply are spaced by the channel's limit: the worker paid for
        # all of them before ``send``, but a burst would still be answered 429.
        self._pacers: dict[str, AsyncLimiter] = {}
        self._dms: dict[str, str] = {}  # user id → the app's DM channel with them

    def bind(self, db: Database) -> None:
        self._db = db

    @property
    def db(self) -> Database:
        if self._db is None:
            raise RuntimeError("SlackSender.bind(db) was not called")
        return self._db

    # --- the Sender interface ---------------------------------------------------------

    def cost(self, dest: Destination, reply: Reply) -> int:
        """chat.postMessage calls this reply takes (its messages; file lines estimated by name)."""
        if _is_home(reply):
            return 1
        lines = [file_line(a.name, "https://files.slack.com/files-pri/T0-F0/x") for a in slack_files(reply)]
        lines += [file_line(upload_name(a), None) for a in self._foreign_files(reply)]
        return max(1, len(render_messages(reply, lines)))

    async def send(self, dest: Destination, reply: Reply) -> str | None:
        """Send ``reply`` as new messages; return the ts of the last one. An App Home
        (``card="home"``) is published to the person instead (``views.publish``)."""
        if _is_home(reply):
            return await self._guarded(self._publish_home(dest, reply))
        return await self._guarded(self._send(dest, reply))

    async def edit(self, dest: Destination, message_id: str, reply: Reply) -> str | None:
        """Update an earlier message in place (None), or, when it is gone, send the reply
        anew and return the new message's ts."""
        return await self._guarded(self._edit(dest, message_id, reply))

    # --- sending ----------------------------------------------------------------------

    async def _send(self, dest: Destination, reply: Reply) -> str | None:
        route = await self._route(dest, reply)
        uploads, unfetched = await self._fetch_foreign(reply)
        uploads += [(a.name or upload_name(a), a.data) for a in inline_files(reply.attachments) if a.data]
        lines = await self._file_lines(reply) + [file_line(upload_name(a), None) for a in unfetched]
        messages = render_messages(reply, lines)
        if not messages and not uploads:
            log.warning("nothing to send (empty text, no buttons)", extra={"platform": PLATFORM})
            return None
        return await self._deliver(route, dest, reply, messages, uploads)

    async def _deliver(self, route: _Route, dest: Destination, reply: Reply, messages: list[SlackMessage],
                       uploads: list[tuple[str, bytes]]) -> str | None:
        """Post the messages (buttons on the last), then upload the copied files into the
        same thread; return the last message's ts."""
        steps: list[tuple[str, Any]] = [("text", m) for m in messages] + [("file", u) for u in uploads]
        key = (route.channel, dest.thread_id, reply.ticket_id,
               tuple((m.text, json.dumps(m.blocks, sort_keys=True)) for m in messages),
               tuple((name, len(data)) for name, data in uploads))
        done, last_ts, thread = self._progress.pop(key, (0, None, route.thread_ts))
        for index, (kind, item) in enumerate(steps):
            if index < done:
                continue
            try:
                if kind == "text":
                    ts = await self._post(route.channel, thread, item)
                else:
                    await self._upload(route.channel, thread, *item)
                    ts = None
            except BaseException:
                if index:
                    if len(self._progress) >= MAX_PROGRESS:  # replies never retried (given up on)
                        self._progress.pop(next(iter(self._progress)))
                    self._progress[key] = (index, last_ts, thread)
                raise
            if ts is None:
                continue
            last_ts = ts
            if index == 0 and thread is None and route.root_of is not None:
                await self._remember_root(route.channel, route.root_of, ts)
                thread = ts  # the rest of a long first message (and its files) follow in its thread
        return last_ts

    async def _post(self, channel: str, thread: str | None, message: SlackMessage) -> str:
        kwargs: dict[str, Any] = {"channel": channel, "text": message.text, "blocks": message.blocks}
        if thread is not None:
            kwargs["thread_ts"] = thread
        await self._pace(channel)
        response = await self._call(self.client.chat_postMessage(**kwargs))
        return str(response["ts"])

    async def _upload(self, channel: str, thread: str | None, name: str, data: bytes) -> None:
        kwargs: dict[str, Any] = {"channel": channel, "file": data, "filename": name, "title": name}
        if thread is not None:
            kwargs["thread_ts"] = thread
        await self._call(self.client.files_upload_v2(**kwargs))

    async def _pace(self, channel: str) -> None:
        """Wait until this channel's limit allows one more message (see ``_pacers``)."""
        pacer = self._pacers.get(channel)
        if pacer is None:
            limit = self.rate_policy.for_chat(channel)
            if limit is None:
                return
            if len(self._pacers) >= MAX_PACERS:  # forget channels whose turn has long come
                self._pacers = {k: p for k, p in self._pacers.items() if not p.has_capacity(p.max_rate)}
            pacer = self._pacers[channel] = AsyncLimiter(limit.count, limit.period)
        await pacer.acquire()

    def _foreign_files(self, reply: Reply) -> list[Attachment]:
        return foreign_files(reply.attachments, PLATFORM)

    async def _fetch_foreign(self, reply: Reply) -> tuple[list[tuple[str, bytes]], list[Attachment]]:
        """The other platforms' files downloaded for upload, and those that could not be
        (no fetcher for the platform, or the download failed: listed by name instead)."""
        uploads: list[tuple[str, bytes]] = []
        unfetched: list[Attachment] = []
        for attachment in self._foreign_files(reply):
            fetch = self.fetchers.get(attachment.platform)
            if fetch is None:
                unfetched.append(attachment)
                continue
            try:
                data = await fetch(attachment)
            except Exception as exc:  # noqa: BLE001 — a file that cannot be copied is named instead
                # Only the type: another platform's error text may carry its bot token.
                log.warning("%s file not copied to Slack: %s", attachment.platform, type(exc).__name__,
                            extra={"platform": PLATFORM})
                unfetched.append(attachment)
                continue
            if not data:
                unfetched.append(attachment)
                continue
            uploads.append((upload_name(attachment), data))
        return uploads, unfetched

    async def _file_lines(self, reply: Reply) -> list[str]:
        """A permalink line per Slack file (files.info); the name alone when it cannot be
        looked up (deleted, not visible to the app)."""
        lines: list[str] = []
        for attachment in slack_files(reply):
            permalink: str | None = None
            try:
                info = await self._call(self.client.files_info(file=attachment.file_id))
                file = info.get("file") or {}
                permalink = file.get("permalink") if isinstance(file, Mapping) else None
            except (SlackApiError, RecipientBlocked) as exc:
                log.info("file %s not shared again: %s", attachment.file_id, _error_code(exc),
                         extra={"platform": PLATFORM})
            lines.append(file_line(attachment.name, permalink))
        return lines

    async def _publish_home(self, dest: Destination, reply: Reply) -> str | None:
        """Replace the person's App Home with the view (``dest.chat_id`` is their user id)."""
        assert reply.view is not None
        view = home_view(HomeView.from_dict(reply.view))
        response = await self._call(self.client.views_publish(user_id=dest.chat_id, view=view))
        return str((response.get("view") or {}).get("id") or "") or None

    # --- editing ----------------------------------------------------------------------

    async def _edit(self, dest: Destination, message_id: str, reply: Reply) -> str | None:
        lines = await self._file_lines(reply) + [file_line(upload_name(a), None) for a in self._foreign_files(reply)]
        message = render_single(reply, lines)
        if message is None:
            log.warning("nothing to edit to (empty text, no buttons)", extra={"platform": PLATFORM})
            return None
        try:
            await self._call(self.client.chat_update(
                channel=await self._channel(dest.chat_id), ts=message_id, text=message.text, blocks=message.blocks,
            ))
        except SlackApiError as exc:
            if _error_code(exc) in EDIT_GONE:
                log.info("message to update is gone; sending a new one", extra={"platform": PLATFORM})
                return await self._send(dest, reply)
            raise
        return None

    # --- where a reply goes -----------------------------------------------------------

    async def _route(self, dest: Destination, reply: Reply) -> _Route:
        channel = await self._channel(dest.chat_id)
        route = _Route(channel=channel, thread_ts=dest.thread_id or None)
        if route.thread_ts is not None or reply.ticket_id is None:
            return route
        async with self.db.transaction() as s:
            if is_dm(channel):
                post = await outbox.find_post(s, reply.ticket_id, PLATFORM, channel, THREAD_CARD)
                if post is not None:
                    route.thread_ts = post.thread_id or post.message_id
                elif await tickets.get_ticket(s, reply.ticket_id) is not None:
                    route.root_of = reply.ticket_id
            elif reply.card != QUEUE_CARD:
                card = await outbox.find_post(s, reply.ticket_id, PLATFORM, channel, QUEUE_CARD)
                if card is not None:
                    route.thread_ts = card.thread_id or card.message_id
        return route

    async def _channel(self, chat_id: str) -> str:
        """The channel to post in: ``chat_id`` itself, or for a person's id the app's DM
        with them (so the ticket's thread there is found and recorded under the id the
        DM's events carry)."""
        if not is_user(chat_id):
            return chat_id
        channel = self._dms.get(chat_id)
        if channel is None:
            response = await self._call(self.client.conversations_open(users=chat_id))
            channel = str(response["channel"]["id"])
            if len(self._dms) >= MAX_DM_CACHE:
                self._dms.clear()
            self._dms[chat_id] = channel
        return channel

    async def _remember_root(self, channel: str, ticket_id: int, ts: str) -> None:
        """Record the ticket's thread root in this DM (its own short transaction, so that
        replies in the thread map to the ticket even if a later part of this send fails)."""
        async with self.db.transaction() as s:
            await outbox.remember_post(s, ticket_id, PLATFORM, channel, THREAD_CARD, ts, thread_id=ts)
        log.info("ticket #%s has its thread in a DM", ticket_id, extra={"platform": PLATFORM, "ticket": ticket_id})

    # --- errors -----------------------------------------------------------------------

    async def _call(self, call: Awaitable[T]) -> T:
        """One API call, with the failures the worker acts on translated."""
        try:
            return await call
        except SlackApiError as exc:
            if exc.response is not None and exc.response.status_code == 429:
                # Which limit was hit is not said: every send of the app waits (sending to
                # another channel during a workspace-wide Retry-After would be early).
                raise RetryAfter(_retry_after(exc.response.headers), scope="platform") from None
            code = _error_code(exc)
            if code in UNREACHABLE:
                raise RecipientBlocked(code) from None
            raise

    async def _guarded(self, call: Awaitable[T]) -> T:
        """Make sure no failure leaving the sender carries the bot token."""
        return await masking(call, self.client.token, SlackSendError)


def _is_home(reply: Reply) -> bool:
    return reply.card == HOME_CARD and reply.view is not None


def _error_code(exc: Exception) -> str:
    """Slack's ``error`` code of a failed call ("" when there is none)."""
    response = getattr(exc, "response", None)
    data = getattr(response, "data", None)
    if isinstance(data, Mapping):
        return str(data.get("error") or "")
    return ""


def _retry_after(headers: Any) -> int:
    """The ``Retry-After`` header in whole seconds (at least 1; 1 when absent or garbage)."""
    value = None
    if isinstance(headers, Mapping):
        for name, v in headers.items():
            if str(name).lower() == "retry-after":
                value = v[0] if isinstance(v, list | tuple) and v else v
                break
    try:
        return max(1, int(float(str(value))))
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER


__all__ = [
    "FileFetcher", "SlackSendError", "SlackSender", "file_line", "is_dm", "slack_files", "slack_rate_policy",
    "telegram_fetcher", "upload_name",
]
