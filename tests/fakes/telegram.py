"""A fake Telegram Bot API server that bites.

An aiohttp server on 127.0.0.1, port 0, in the test's event loop. The real aiogram
``Bot`` talks to it over loopback::

    fake = FakeTelegram()
    await fake.start()
    bot = Bot(fake.token, session=AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url)))

It answers the methods the desk calls, in the shapes aiogram sends (form fields; nested
objects such as ``reply_markup`` as JSON strings) and expects (``{"ok": true, "result":
...}`` or ``{"ok": false, "error_code": N, "description": "..."}`` with Telegram's own
descriptions, so aiogram raises its real exception classes). It keeps the state a bot
can observe (users, chats, messages with ids, topics, files, updates), enforces the
real limits (text length after entity parsing, 64-byte callback_data, HTML validity,
rate limits with 429 + retry_after, blocked chats) and records every call.

Users act through ``tests/support/telegram.py`` (``fake.user(...)``, ``fake.group(...)``),
which builds updates and hands them to ``push_update``.

Rate limits (``RateLimits``; ``FakeTelegram(rate_limits=False)`` turns the windows off,
``inject_429`` still works): sliding windows over the send methods (sendMessage,
copyMessage, send<Media>; edits and answers are not counted) — overall 30 per second,
1 per second per private chat (positive id), 20 per minute per group (negative id), each
window shortened by ``tolerance`` (10%). A sliding window is stricter than a leaky bucket
with the same numbers: ``AsyncLimiter(30, 1)`` lets 30 go at once and 30 more within the
second, which is 429 here; pace with ``AsyncLimiter(1, 1/30)`` and ``AsyncLimiter(1, 3)``
for groups. A 429 bans its scope (the chat for a chat window, everything for the overall
window and for ``inject_429`` without ``chat_id``) for ``retry_after`` seconds; a call in
a banned scope is answered 429 again and counted in ``early_retries`` if the bot could
have known — it came on the connection that received the 429, or more than
``early_grace`` (50 ms) after it; otherwise it was in flight (``in_flight_during_ban``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import re
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, ClientResponse, ClientSession, ClientTimeout, MultipartReader, web

from tests.fakes.html import EntityParseError, parse_html
from tests.fakes.waiting import CallLog

if TYPE_CHECKING:
    from tests.support.telegram import Group, Person

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
MAX_CALLBACK_ANSWER = 200
DOWNLOAD_LIMIT = 20 * 1024 * 1024
UPLOAD_LIMIT = {"photo": 10 * 1024 * 1024}  # what a bot may upload; other kinds: 50 MB
UPLOAD_DEFAULT_LIMIT = 50 * 1024 * 1024
IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"RIFF")  # JPEG, PNG, WebP

SEND_METHODS = frozenset(
    {
        "sendmessage",
        "copymessage",
        "sendphoto",
        "senddocument",
        "sendvoice",
        "sendvideo",
        "sendaudio",
        "sendanimation",
    }
)
MEDIA_KINDS = {
    "sendphoto": "photo",
    "senddocument": "document",
    "sendvoice": "voice",
    "sendvideo": "video",
    "sendaudio": "audio",
    "sendanimation": "animation",
}
JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "reply_parameters",
        "entities",
        "caption_entities",
        "allowed_updates",
        "commands",
        "scope",
        "link_preview_options",
    }
)
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a content and reply markup of the current message"
)


class ApiError(Exception):
    """An error answer: HTTP status = error_code, Telegram's description."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            out["parameters"] = {"retry_after": self.retry_after}
        return out


def bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


@dataclass
class Call:
    """One request the bot made: method as sent (case kept), params decoded, response body."""

    method: str
    params: dict[str, Any]
    time: float
    response: dict[str, Any] = field(default_factory=dict)
    status: int = 200
    connection: int | None = None  # which keep-alive connection carried it

    def __repr__(self) -> str:
        outcome = "ok" if self.ok else f"{self.status} {self.error}"
        shown = {k: (v[:60] + "…" if isinstance(v, str) and len(v) > 60 else v)
                 for k, v in self.params.items()}
        return f"Call({self.method} {shown} -> {outcome})"

    @property
    def ok(self) -> bool:
        return bool(self.response.get("ok"))

    @property
    def result(self) -> Any:
        return self.response.get("result")

    @property
    def error(self) -> str | None:
        return None if self.ok else self.response.get("description")

    @property
    def chat_id(self) -> int | None:
        return _int_or_none(self.params.get("chat_id"))

    @property
    def text(self) -> str | None:
        """The text or caption as sent (HTML source under parse_mode HTML)."""
        value = self.params.get("text", self.params.get("caption"))
        return None if value is None else str(value)

    @property
    def buttons(self) -> list[dict[str, Any]]:
        markup = self.params.get("reply_markup")
        if not isinstance(markup, dict):
            return []
        return [b for row in markup.get("inline_keyboard", []) for b in row]


@dataclass
class RateLimits:
    """Telegram's published limits as sliding windows.

    ``tolerance`` shrinks each window by that fraction of its period (a bot pacing at
    exactly the limit sees some network jitter); ``methods`` are the ones counted.
    """

    overall: tuple[int, float] = (30, 1.0)
    private: tuple[int, float] = (1, 1.0)
    group: tuple[int, float] = (20, 60.0)
    tolerance: float = 0.1
    methods: frozenset[str] = SEND_METHODS


@dataclass
class WebhookPost:
    """One POST of an update to the bot's webhook."""

    update_id: int
    status: int | None  # None: the connection failed
    secret: str | None  # the header value sent, None when absent
    attempt: int
    time: float
    error: str | None = None


@dataclass
class Topic:
    chat_id: int
    thread_id: int
    name: str
    icon_color: int = 7322096
    closed: bool = False
    deleted: bool = False


@dataclass
class FileRecord:
    file_id: str
    unique_id: str
    kind: str  # photo, document, voice, video, audio, animation, sticker
    size: int
    name: str | None = None
    mime_type: str | None = None
    path: str | None = None


class FakeTelegram(CallLog):
    """The fake Bot API (see the module docstring).

    Options: ``token`` (its numeric part is the bot id), ``username``,
    ``has_topics_enabled`` / ``allows_users_to_create_topics`` (getMe; topics in private
    chats), ``rate_limits`` (True, False or a ``RateLimits``), ``webhook_secret_mode``
    ("right", "none", "wrong": the header the webhook POSTs carry), ``webhook_retries`` /
    ``webhook_retry_delay``, ``early_grace``.

    What a test reads: ``calls`` / ``calls_of(method)`` / ``sent(chat)`` (every request:
    method, params decoded, time, response, status), ``messages`` (chat -> id -> message,
    current state; ``bot_messages``, ``texts``), ``topics(chat)``, ``files``,
    ``commands[(scope, language_code)]``, ``callback_queries`` (with the bot's answer),
    ``html_errors``, ``too_many_requests``, ``early_retries``, ``in_flight_during_ban``,
    ``updates`` (pending), ``confirmed_ids``, ``webhook`` / ``webhook_posts`` /
    ``dropped_updates``, ``withheld`` (privacy mode), ``internal_errors`` (should stay empty).
    What a test does: ``user``, ``group``, ``add_user``, ``add_group``, ``block``, ``deactivate``,
    ``inject_429``, ``push_update``, ``redeliver``, ``post_webhook``, ``wait_for``,
    ``wait_call``, ``wait_confirmed``, ``wait_idle``.
    """

    method_case_sensitive = False  # the Bot API takes sendMessage and sendmessage alike

    def __init__(
        self,
        *,
        token: str = "123456:TEST-fake-token-for-tests",
        bot_id: int | None = None,
        username: str = "deskbot_test_bot",
        first_name: str = "Desk Bot",
        has_topics_enabled: bool = False,
        allows_users_to_create_topics: bool = False,
        rate_limits: RateLimits | bool = True,
        webhook_secret_mode: str = "right",
        webhook_retries: int = 3,
        webhook_retry_delay: float = 0.05,
        first_update_id: int = 100_000,
        early_grace: float = 0.05,
    ) -> None:
        self.token = token
        self.bot_id = bot_id if bot_id is not None else int(token.split(":", 1)[0])
        self.username = username
        self.first_name = first_name
        self.has_topics_enabled = has_topics_enabled
        self.allows_users_to_create_topics = allows_users_to_create_topics
        if rate_limits is True:
            self.rate_limits: RateLimits | None = RateLimits()
        elif rate_limits is False:
            self.rate_limits = None
        else:
            self.rate_limits = rate_limits
        # "right" sends the secret given to setWebhook, "none" sends no header, "wrong" a wrong one.
        self.webhook_secret_mode = webhook_secret_mode
        self.webhook_retries = webhook_retries
        self.webhook_retry_delay = webhook_retry_delay
        # A request on another connection that arrives within early_grace of a 429 was in
        # flight before the bot could read that 429: answered 429 but not an early retry.
        self.early_grace = early_grace
        self.in_flight_during_ban = 0

        self.calls: list[Call] = []
        self.html_errors: list[tuple[str, str]] = []  # (text, description)
        self.internal_errors: list[tuple[Call, str]] = []  # (call, traceback): a fake bug or odd input
        self.early_retries = 0
        self.early_retry_calls: list[Call] = []
        self.too_many_requests = 0
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.users: dict[int, dict[str, Any]] = {}
        self.chats: dict[int, dict[str, Any]] = {}
        self.messages: dict[int, dict[int, dict[str, Any]]] = {}  # chat -> id -> message
        self.topics_by_chat: dict[int, dict[int, Topic]] = {}
        self.files: dict[str, FileRecord] = {}
        self.blocked: set[int] = set()
        self.deactivated: set[int] = set()  # users whose account was deleted
        self.bot_admin_in: set[int] = set()
        self.privacy_in: set[int] = set()
        self.withheld: list[dict[str, Any]] = []  # group messages privacy mode kept from the bot
        self.callback_queries: dict[str, dict[str, Any]] = {}  # id -> {"update":..., "answer":...}
        self.updates: list[dict[str, Any]] = []  # pending (not yet confirmed) updates
        self.pushed: dict[int, dict[str, Any]] = {}  # every update ever pushed, by update_id
        self.confirmed_ids: set[int] = set()
        self.webhook: dict[str, Any] | None = None
        self.webhook_posts: list[WebhookPost] = []
        self.webhook_last_error: tuple[float, str] | None = None
        self.dropped_updates: list[dict[str, Any]] = []  # webhook gave up after the retries
        self.poll_allowed_updates: list[str] | None = None

        self._next_update_id = first_update_id
        self._next_message_id: dict[int, int] = {}
        self._file_seq = itertools.count(1)
        self._callback_seq = itertools.count(1)
        self._init_waiting()
        self._poll_generation = 0
        self._poll_end_reason = "terminated by other getUpdates request"
        self.filtered_updates: list[dict[str, Any]] = []  # not of an allowed type: never delivered
        self._windows: dict[Any, deque[float]] = {}
        self._bans: dict[Any, tuple[float, float, int | None]] = {}  # key -> (until, issued, connection)
        self._inject: list[list[Any]] = []  # [remaining, retry_after, chat_id or None]
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._webhook_wakeup = asyncio.Event()
        self._client: ClientSession | None = None
        self.port = 0

    # ------------------------------------------------------------------ lifecycle
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def bot_user(self) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": self.first_name, "username": self.username}

    async def start(self) -> FakeTelegram:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.*}", self._handle_file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await self._site.start()
        server = self._site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        return self

    async def close(self) -> None:
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._webhook_task
            self._webhook_task = None
        # Wake long polls so the server can shut down promptly.
        self._end_polls("terminated by server shutdown")
        await self._notify()
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegram:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def now(self) -> float:
        return time.monotonic()

    # ------------------------------------------------------------------ waiting
    async def _notify(self) -> None:
        await self.notify()

    async def wait_confirmed(self, update_id: int, timeout: float = 5.0) -> None:
        """Wait until the bot confirmed the update (getUpdates offset past it, or a 2xx
        answer to the webhook POST)."""
        await self.wait_for(lambda: update_id in self.confirmed_ids, timeout)

    async def wait_idle(self, timeout: float = 5.0) -> None:
        """Wait until every pushed update was confirmed."""
        await self.wait_for(lambda: not self.updates, timeout)

    def texts(self, chat_id: int, thread: int | None = None) -> list[str]:
        """Current texts (or captions) of the bot's messages in a chat, in send order."""
        return [m.get("text") or m.get("caption") or "" for m in self.bot_messages(chat_id, thread)]

    def sent(self, chat_id: int | None = None) -> list[Call]:
        """Successful send-like calls (to ``chat_id`` when given)."""
        out = []
        for c in self.calls:
            if c.method.lower() in SEND_METHODS and c.ok:
                if chat_id is None or _int(c.params.get("chat_id")) == chat_id:
                    out.append(c)
        return out

    # ------------------------------------------------------------------ state set-up
    def add_user(self, user_id: int, first_name: str, *, last_name: str | None = None,
                 username: str | None = None, language_code: str | None = None) -> dict[str, Any]:
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        self.users[user_id] = user
        self.chats.setdefault(user_id, {"id": user_id, "type": "private", "first_name": first_name,
                                        **({"username": username} if username else {})})
        return user

    def add_group(self, chat_id: int, title: str, *, forum: bool = False,
                  supergroup: bool = True, bot_admin: bool = True,
                  privacy: bool = False) -> dict[str, Any]:
        """A group the bot is in; ``bot_admin``: the bot is an admin that may manage topics;
        ``privacy``: BotFather's privacy mode is on, so a bot that is not an admin gets only
        commands, replies to its messages and mentions (the rest lands in ``withheld``)."""
        chat: dict[str, Any] = {"id": chat_id, "type": "supergroup" if supergroup or forum else "group",
                                "title": title}
        if forum:
            chat["is_forum"] = True
        self.chats[chat_id] = chat
        if bot_admin:
            self.bot_admin_in.add(chat_id)
        else:
            self.bot_admin_in.discard(chat_id)
        if privacy:
            self.privacy_in.add(chat_id)
        else:
            self.privacy_in.discard(chat_id)
        return chat

    def bot_sees(self, message: dict[str, Any]) -> bool:
        """Whether Telegram gives this group message to the bot (privacy mode)."""
        chat_id = message["chat"]["id"]
        if chat_id not in self.privacy_in or chat_id in self.bot_admin_in:
            return True
        text = message.get("text") or message.get("caption") or ""
        if text.startswith("/") or f"@{self.username}" in text:
            return True
        reply = message.get("reply_to_message")
        return bool(reply and reply.get("from", {}).get("id") == self.bot_id
                    and "forum_topic_created" not in reply)

    def user(self, user_id: int, first_name: str, **kwargs: Any) -> Person:
        """A user who acts through the story DSL (tests/support/telegram.py)."""
        from tests.support.telegram import Person

        return Person(self, self.add_user(user_id, first_name, **kwargs))

    def group(self, chat_id: int, title: str, *, forum: bool = False, supergroup: bool = True,
              bot_admin: bool = True, privacy: bool = False) -> Group:
        from tests.support.telegram import Group

        return Group(self, self.add_group(chat_id, title, forum=forum, supergroup=supergroup,
                                          bot_admin=bot_admin, privacy=privacy))

    def block(self, chat_id: int) -> None:
        """The user of this private chat blocked the bot (for a group: the bot was
        removed): sends to it answer 403."""
        self.blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        self.blocked.discard(chat_id)

    def deactivate(self, user_id: int) -> None:
        """The user deleted their account: sends to their private chat answer 403
        ``Forbidden: user is deactivated``."""
        self.deactivated.add(user_id)

    def inject_429(self, count: int = 1, retry_after: int = 1, *, chat_id: int | None = None) -> None:
        """The next ``count`` rate-limited calls (to ``chat_id`` when given) answer 429."""
        self._inject.append([count, retry_after, chat_id])

    def add_file(self, kind: str, size: int, *, name: str | None = None,
                 mime_type: str | None = None) -> FileRecord:
        n = next(self._file_seq)
        rec = FileRecord(
            file_id=f"{kind[:3].upper()}-{n:06d}-fakefileid",
            unique_id=f"u{kind[:2]}{n}",
            kind=kind,
            size=size,
            name=name,
            mime_type=mime_type,
            path=f"{kind}s/file_{n}",
        )
        self.files[rec.file_id] = rec
        if kind == "photo":  # the small size Telegram lists first is a file too
            small = FileRecord(rec.file_id + "-s", rec.unique_id + "s", "photo", max(1, size // 20),
                               path=f"photos/file_{n}_s")
            self.files[small.file_id] = small
        return rec

    def new_message_id(self, chat_id: int) -> int:
        n = self._next_message_id.get(chat_id, 0) + 1
        self._next_message_id[chat_id] = n
        return n

    def store_message(self, message: dict[str, Any]) -> dict[str, Any]:
        self.messages.setdefault(message["chat"]["id"], {})[message["message_id"]] = message
        return message

    def message(self, chat_id: int, message_id: int) -> dict[str, Any] | None:
        return self.messages.get(chat_id, {}).get(message_id)

    def chat_messages(self, chat_id: int) -> list[dict[str, Any]]:
        return list(self.messages.get(chat_id, {}).values())

    def bot_messages(self, chat_id: int, thread: int | None = None, *,
                     include_deleted: bool = False) -> list[dict[str, Any]]:
        """The bot's messages in a chat (in a topic when ``thread`` is given), current state."""
        out = []
        for m in self.chat_messages(chat_id):
            if m.get("from", {}).get("id") != self.bot_id or "forum_topic_created" in m:
                continue
            if m.get("_deleted") and not include_deleted:
                continue
            if thread is not None and m.get("message_thread_id") != thread:
                continue
            out.append(m)
        return out

    def topics(self, chat_id: int) -> list[Topic]:
        return [t for t in self.topics_by_chat.get(chat_id, {}).values() if not t.deleted]

    def topic(self, chat_id: int, thread_id: int) -> Topic | None:
        return self.topics_by_chat.get(chat_id, {}).get(thread_id)

    # ------------------------------------------------------------------ updates
    async def push_update(self, update: dict[str, Any], *, redeliver: bool = False) -> dict[str, Any]:
        """Queue an update for getUpdates or the webhook; ``update_id`` is assigned unless
        ``redeliver`` (the same update once more, as Telegram does after a lost answer)."""
        update = dict(update)
        if not (redeliver and "update_id" in update):
            update["update_id"] = self._next_update_id
            self._next_update_id += 1
        self.pushed[update["update_id"]] = update
        query = update.get("callback_query")
        if query is not None and query["id"] not in self.callback_queries:
            self.callback_queries[query["id"]] = {"answer": None, "data": query.get("data"),
                                                  "user": query["from"]["id"]}
        self.updates.append(update)
        self._webhook_wakeup.set()
        await self._notify()
        return update

    async def redeliver(self, update_id: int, times: int = 1) -> None:
        """Queue an earlier update again with its own update_id (Telegram re-sends an
        update whose confirmation it did not get)."""
        for _ in range(times):
            await self.push_update(self.pushed[update_id], redeliver=True)

    async def post_webhook(self, update: dict[str, Any], *, secret: str | None | bool = True,
                           assign_id: bool = True) -> int:
        """POST one update straight to the webhook (not queued) and return the HTTP status.
        ``secret``: True sends the configured one, None/False none, a string that string."""
        assert self.webhook is not None, "no webhook set"
        update = dict(update)
        if assign_id and "update_id" not in update:
            update["update_id"] = self._next_update_id
            self._next_update_id += 1
        if secret is True:
            header = self.webhook.get("secret_token")
        elif secret in (None, False):
            header = None
        else:
            header = str(secret)
        status, _ = await self._post(update, header, attempt=1)
        await self._notify()
        return status or 0

    def _end_polls(self, reason: str) -> None:
        self._poll_generation += 1
        self._poll_end_reason = reason

    def _drop_filtered(self, allowed: list[str] | None) -> None:
        """Telegram never delivers an update of a type the bot did not allow."""
        keep = []
        for u in self.updates:
            if self._allowed(u, allowed):
                keep.append(u)
            else:
                self.filtered_updates.append(u)
        self.updates = keep

    def _confirm_below(self, offset: int) -> None:
        keep = []
        for u in self.updates:
            if u["update_id"] < offset:
                self.confirmed_ids.add(u["update_id"])
            else:
                keep.append(u)
        self.updates = keep

    @staticmethod
    def _update_type(update: dict[str, Any]) -> str:
        return next(k for k in update if k != "update_id")

    def _allowed(self, update: dict[str, Any], allowed: list[str] | None) -> bool:
        if not allowed:
            # Telegram's default: everything except chat_member, message_reaction(_count).
            return self._update_type(update) not in ("chat_member", "message_reaction",
                                                     "message_reaction_count")
        return self._update_type(update) in allowed

    # ------------------------------------------------------------------ HTTP
    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"},
                                     status=401)
        path = request.match_info["path"]
        rec = next((f for f in self.files.values() if f.path == path), None)
        if rec is None:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"},
                                     status=404)
        return web.Response(body=b"\0" * min(rec.size, 1024))

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params = await self._read_params(request)
        call = Call(method=method, params=params, time=self.now(), connection=id(request.transport))
        if request.match_info["token"] != self.token:
            err = ApiError(401, "Unauthorized")
            call.response, call.status = err.body(), err.code
            self.calls.append(call)
            await self._notify()
            return web.json_response(call.response, status=call.status)
        await self._execute(call)
        return web.json_response(call.response, status=call.status,
                                 dumps=lambda o: json.dumps(o, ensure_ascii=False))

    async def _execute(self, call: Call) -> None:
        """Run one API call, record it (response and status filled in), wake waiters."""
        handler = getattr(self, f"_m_{call.method.lower()}", None)
        recorded = False
        try:
            if handler is None:
                raise ApiError(404, "Not Found: method not found")
            self._check_rate(call)
            if call.method.lower() == "getupdates":
                # recorded up-front so a test can see the long poll is in progress
                self.calls.append(call)
                recorded = True
                await self._notify()
                result = await handler(call.params)
            else:
                result = handler(call.params)
                if asyncio.iscoroutine(result):
                    result = await result
            call.response = {"ok": True, "result": result}
        except ApiError as e:
            call.response, call.status = e.body(), e.code
        except Exception as e:  # a request the fake could not handle: 400, and kept for the test
            self.internal_errors.append((call, traceback.format_exc()))
            err = bad(f"(fake could not handle this request) {type(e).__name__}: {e}")
            call.response, call.status = err.body(), err.code
        if not recorded:
            self.calls.append(call)
        await self._notify()

    async def _read_params(self, request: web.Request) -> dict[str, Any]:
        raw: dict[str, Any] = {}
        if request.content_type == "application/json":
            body = await request.text()
            raw = json.loads(body) if body else {}
        elif request.method == "POST":
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    content = value.file.read()
                    raw[key] = {"_upload": value.filename, "_size": len(content), "_head": content[:8]}
                else:
                    raw[key] = value
        for key, value in request.query.items():
            raw.setdefault(key, value)
        params: dict[str, Any] = {}
        for key, value in raw.items():
            if key in JSON_FIELDS and isinstance(value, str):
                try:
                    params[key] = json.loads(value)
                except ValueError:
                    raise bad(f"can't parse {key} JSON object") from None
            else:
                params[key] = value
        return params

    # ------------------------------------------------------------------ rate limits
    def _chat_limit(self, chat_id: int) -> tuple[int, float] | None:
        assert self.rate_limits is not None
        return self.rate_limits.private if chat_id > 0 else self.rate_limits.group

    def _check_rate(self, call: Call) -> None:
        if call.method.lower() not in (self.rate_limits.methods if self.rate_limits else SEND_METHODS):
            return
        chat_id = _int_or_none(call.params.get("chat_id"))
        now = call.time
        eps = 0.001
        # A call made while a retry_after given earlier still runs is an early retry
        # (unless it was already in flight when that 429 was answered).
        bans = [self._bans[k] for k in ("overall", ("chat", chat_id)) if k in self._bans]
        running = [b for b in bans if b[0] - now > eps]
        if running:
            knew = any(conn == call.connection or now - issued > self.early_grace
                       for _, issued, conn in running)
            if knew:
                self.early_retries += 1
                self.early_retry_calls.append(call)
            else:
                self.in_flight_during_ban += 1
            remaining = max(until for until, _, _ in running) - now
            raise self._too_many(math.ceil(remaining), None, call)
        for inj in self._inject:
            if inj[0] > 0 and (inj[2] is None or inj[2] == chat_id):
                inj[0] -= 1
                self._inject = [i for i in self._inject if i[0] > 0]
                raise self._too_many(inj[1], "overall" if inj[2] is None else ("chat", chat_id), call)
        if self.rate_limits is None:
            return
        limits: list[tuple[Any, tuple[int, float]]] = [("overall", self.rate_limits.overall)]
        if chat_id is not None:
            chat_limit = self._chat_limit(chat_id)
            if chat_limit is not None:
                limits.append((("chat", chat_id), chat_limit))
        for key, (count, period) in limits:
            window = self._windows.setdefault(key, deque())
            span = period * (1 - self.rate_limits.tolerance)
            while window and now - window[0] >= span:
                window.popleft()
            if len(window) >= count:
                wait = window[0] + span - now
                raise self._too_many(max(1, math.ceil(wait)), key, call)
        for key, _ in limits:
            self._windows[key].append(now)

    def _too_many(self, retry_after: int, key: Any, call: Call) -> ApiError:
        retry_after = max(1, retry_after)
        if key is not None:
            now = self.now()
            until = now + retry_after
            if until > self._bans.get(key, (0.0, 0.0, None))[0]:
                self._bans[key] = (until, now, call.connection)
        self.too_many_requests += 1
        return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)

    # ------------------------------------------------------------------ helpers for methods
    def _chat(self, params: dict[str, Any], key: str = "chat_id") -> dict[str, Any]:
        value = params.get(key)
        if value in (None, ""):
            raise bad(f"{key} is empty")
        chat_id = _int_or_none(value)
        if chat_id is None:
            raise bad("chat not found")
        chat = self.chats.get(chat_id)
        if chat is None:
            raise bad("chat not found")
        return chat

    def _check_send_allowed(self, chat: dict[str, Any]) -> None:
        if chat["id"] in self.deactivated and chat["type"] == "private":
            raise ApiError(403, "Forbidden: user is deactivated")
        if chat["id"] in self.blocked:
            if chat["type"] == "private":
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            raise ApiError(403, f"Forbidden: bot was kicked from the {chat['type']} chat")

    def _thread(self, chat: dict[str, Any], params: dict[str, Any]) -> int | None:
        thread = _int_or_none(params.get("message_thread_id"))
        if thread is None:
            return None
        topic = self.topic(chat["id"], thread)
        if topic is None or topic.deleted:
            raise bad("message thread not found")
        # A closed topic still takes the bot's messages: the bot is an admin there.
        return thread

    def _reply_to(self, chat: dict[str, Any], params: dict[str, Any]) -> dict[str, Any] | None:
        rp = params.get("reply_parameters")
        message_id = None
        allow_without = False
        if isinstance(rp, dict):
            message_id = _int_or_none(rp.get("message_id"))
            allow_without = bool(rp.get("allow_sending_without_reply"))
            if rp.get("chat_id") not in (None, "") and _int_or_none(rp.get("chat_id")) != chat["id"]:
                other = self.message(_int(rp.get("chat_id")), message_id or 0)
                if other is None and not allow_without:
                    raise bad("message to be replied not found")
                return other
        elif params.get("reply_to_message_id"):
            message_id = _int_or_none(params.get("reply_to_message_id"))
            allow_without = _bool(params.get("allow_sending_without_reply"))
        if message_id is None:
            return None
        target = self.message(chat["id"], message_id)
        if target is None or target.get("_deleted"):
            if allow_without:
                return None
            raise bad("message to be replied not found")
        return target

    def _markup(self, params: dict[str, Any]) -> dict[str, Any] | None:
        markup = params.get("reply_markup")
        if markup in (None, ""):
            return None
        if not isinstance(markup, dict):
            raise bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list):
                raise bad("field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array")
            for row in rows:
                if not isinstance(row, list):
                    raise bad("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
                for button in row:
                    if not isinstance(button, dict) or not button.get("text"):
                        raise bad("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
                    if "callback_data" in button:
                        data = button["callback_data"]
                        if not isinstance(data, str) or not (1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA):
                            raise bad("BUTTON_DATA_INVALID")
                    elif not any(k in button for k in ("url", "switch_inline_query", "web_app",
                                                       "login_url", "copy_text", "pay",
                                                       "switch_inline_query_current_chat",
                                                       "switch_inline_query_chosen_chat",
                                                       "callback_game")):
                        raise bad("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
            if not any(rows):
                return None
        return markup

    def _formatted(self, params: dict[str, Any], key: str, limit: int,
                   *, required: bool) -> tuple[str | None, list[dict[str, Any]] | None]:
        """Parse text/caption under its parse_mode; enforce the length after parsing."""
        raw = params.get(key)
        if raw in (None, ""):
            if required:
                raise bad("message text is empty")
            return None, None
        if not isinstance(raw, str):
            raw = str(raw)
        mode = str(params.get("parse_mode") or "").lower()
        entities = params.get("entities" if key == "text" else "caption_entities")
        if mode == "html":
            try:
                plain, entities = parse_html(raw)
            except EntityParseError as e:
                self.html_errors.append((raw, str(e)))
                raise bad(f"can't parse entities: {e}") from None
        elif mode in ("markdown", "markdownv2"):
            plain = raw  # not used by the desk; accepted as is
        else:
            plain = raw
        if not plain.strip():
            if required:
                raise bad("message text is empty")
            return None, None
        if len(plain) > limit:
            raise bad("message caption is too long" if key == "caption" else "message is too long")
        return plain, entities or None

    def _new_bot_message(self, chat: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        thread = self._thread(chat, params)
        reply_to = self._reply_to(chat, params)
        if thread is None and reply_to is not None and reply_to.get("is_topic_message"):
            thread = reply_to.get("message_thread_id")  # a reply goes into the replied message's topic
        msg: dict[str, Any] = {
            "message_id": self.new_message_id(chat["id"]),
            "from": self.bot_user,
            "chat": dict(chat),
            "date": int(time.time()),
        }
        if thread is not None:
            msg["message_thread_id"] = thread
            msg["is_topic_message"] = True
        if reply_to is not None:
            msg["reply_to_message"] = _public(reply_to, nested=True)
        elif thread is not None and chat["type"] != "private":
            creation = self.message(chat["id"], thread)
            if creation is not None:
                msg["reply_to_message"] = _public(creation, nested=True)
        return msg

    # ------------------------------------------------------------------ methods
    def _m_getme(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
            "has_topics_enabled": self.has_topics_enabled,
            "allows_users_to_create_topics": self.allows_users_to_create_topics,
        }

    def _m_logout(self, params: dict[str, Any]) -> bool:
        return True

    def _m_close(self, params: dict[str, Any]) -> bool:
        return True

    async def _m_getupdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook is not None:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                "use deleteWebhook to delete the webhook first")
        offset = _int_or_none(params.get("offset"))
        limit = max(1, min(100, _int_or_none(params.get("limit")) or 100))
        timeout = max(0.0, float(params.get("timeout") or 0))
        allowed = params.get("allowed_updates")
        if allowed is not None:  # Telegram keeps the last list given
            self.poll_allowed_updates = allowed
        allowed = self.poll_allowed_updates
        if offset is not None and offset > 0:
            self._confirm_below(offset)
        self._end_polls("terminated by other getUpdates request")  # an earlier long poll ends
        generation = self._poll_generation
        await self._notify()

        def ready() -> list[dict[str, Any]]:
            self._drop_filtered(allowed)
            if offset is not None and offset < 0:
                return self.updates[offset:][:limit]
            return self.updates[:limit]

        deadline = self.now() + timeout
        async with self._cond:
            while True:
                if generation != self._poll_generation:
                    reason = self._poll_end_reason
                    if reason == "terminated by other getUpdates request":
                        reason += "; make sure that only one bot instance is running"
                    raise ApiError(409, f"Conflict: {reason}")
                found = ready()
                if found or self.webhook is not None:
                    return [dict(u) for u in found]
                remaining = deadline - self.now()
                if remaining <= 0:
                    return []
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._cond.wait(), remaining)

    def _m_setwebhook(self, params: dict[str, Any]) -> bool:
        url = params.get("url") or ""
        if not url:
            return self._m_deletewebhook(params)
        if not str(url).startswith(("http://", "https://")):
            raise bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None:
            if not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
                raise bad("bad webhook: secret token contains unallowed characters")
        if _bool(params.get("drop_pending_updates")):
            self._confirm_below(self._next_update_id)
        self.webhook = {
            "url": url,
            "secret_token": secret,
            "allowed_updates": params.get("allowed_updates"),
            "max_connections": _int_or_none(params.get("max_connections")) or 40,
        }
        self._end_polls("terminated by setWebhook request")
        if self._webhook_task is None or self._webhook_task.done():
            self._webhook_task = asyncio.ensure_future(self._deliver_webhook())
        self._webhook_wakeup.set()
        return True

    def _m_deletewebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = None
        if _bool(params.get("drop_pending_updates")):
            self._confirm_below(self._next_update_id)
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            self._webhook_task = None
        return True

    def _m_getwebhookinfo(self, params: dict[str, Any]) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": self.webhook["url"] if self.webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self.updates),
        }
        if self.webhook:
            info["max_connections"] = self.webhook["max_connections"]
            if self.webhook.get("allowed_updates"):
                info["allowed_updates"] = self.webhook["allowed_updates"]
            info["ip_address"] = "127.0.0.1"
        if self.webhook_last_error:
            info["last_error_date"] = int(time.time())
            info["last_error_message"] = self.webhook_last_error[1]
        return info

    def _scope_key(self, params: dict[str, Any]) -> str:
        scope = params.get("scope") or {"type": "default"}
        key = scope.get("type", "default")
        if "chat_id" in scope:
            key += f":{scope['chat_id']}"
        if "user_id" in scope:
            key += f":{scope['user_id']}"
        return key

    def _m_setmycommands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise bad("can't parse commands JSON object")
        if len(commands) > 100:
            raise bad("too many commands")
        for c in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(c.get("command", ""))):
                raise bad("BOT_COMMAND_INVALID")
            if not (1 <= len(str(c.get("description", ""))) <= 256):
                raise bad("command description is empty" if not c.get("description")
                          else "BOT_COMMAND_DESCRIPTION_INVALID")
        lang = params.get("language_code") or ""
        self.commands[(self._scope_key(params), lang)] = commands
        return True

    def _m_getmycommands(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        return self.commands.get((self._scope_key(params), params.get("language_code") or ""), [])

    def _m_deletemycommands(self, params: dict[str, Any]) -> bool:
        self.commands.pop((self._scope_key(params), params.get("language_code") or ""), None)
        return True

    def _m_getchat(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params)
        return {
            **chat,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    def _m_getchatmember(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params)
        user_id = _int_or_none(params.get("user_id"))
        if user_id == self.bot_id:
            user = self.bot_user
        elif user_id in self.users:
            user = self.users[user_id]
        else:
            raise bad("PARTICIPANT_ID_INVALID")
        if user_id == self.bot_id and chat["id"] in self.bot_admin_in:
            return {
                "status": "administrator",
                "user": user,
                "can_be_edited": False,
                "is_anonymous": False,
                "can_manage_chat": True,
                "can_delete_messages": True,
                "can_manage_video_chats": False,
                "can_restrict_members": False,
                "can_promote_members": False,
                "can_change_info": False,
                "can_invite_users": True,
                "can_post_stories": False,
                "can_edit_stories": False,
                "can_delete_stories": False,
                "can_send_welcome_messages": False,
                "can_pin_messages": True,
                "can_manage_topics": True,
            }
        if chat["id"] in self.blocked and user_id == self.bot_id:
            return {"status": "kicked", "user": user, "until_date": 0}
        return {"status": "member", "user": user}

    def _m_sendmessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params)
        text, entities = self._formatted(params, "text", MAX_TEXT, required=True)
        markup = self._markup(params)
        self._check_send_allowed(chat)
        msg = self._new_bot_message(chat, params)
        msg["text"] = text
        if entities:
            msg["entities"] = entities
        if markup is not None:
            msg["reply_markup"] = markup
        msg["_source"] = {"text": params.get("text"), "parse_mode": params.get("parse_mode")}
        msg["_history"] = [text]
        self.store_message(msg)
        return _public(msg)

    def _target(self, params: dict[str, Any], missing: str) -> dict[str, Any]:
        if params.get("inline_message_id"):
            raise bad(missing)
        chat = self._chat(params)
        message_id = _int_or_none(params.get("message_id"))
        if message_id is None:
            raise bad("message identifier is not specified")
        msg = self.message(chat["id"], message_id)
        if msg is None or msg.get("_deleted"):
            raise bad(missing)
        return msg

    def _m_editmessagetext(self, params: dict[str, Any]) -> dict[str, Any]:
        msg = self._target(params, "message to edit not found")
        if msg.get("from", {}).get("id") != self.bot_id:
            raise bad("message can't be edited")
        if "text" not in msg:
            raise bad("there is no text in the message to edit")
        text, entities = self._formatted(params, "text", MAX_TEXT, required=True)
        markup = self._markup(params)
        if text == msg["text"] and (entities or None) == msg.get("entities") and markup == msg.get("reply_markup"):
            raise bad(NOT_MODIFIED)
        msg["text"] = text
        if entities:
            msg["entities"] = entities
        else:
            msg.pop("entities", None)
        if markup is not None:
            msg["reply_markup"] = markup
        else:
            msg.pop("reply_markup", None)
        msg["edit_date"] = int(time.time())
        msg["_history"].append(text)
        msg["_source"] = {"text": params.get("text"), "parse_mode": params.get("parse_mode")}
        return _public(msg)

    def _m_editmessagereplymarkup(self, params: dict[str, Any]) -> dict[str, Any]:
        msg = self._target(params, "message to edit not found")
        if msg.get("from", {}).get("id") != self.bot_id:
            raise bad("message can't be edited")
        markup = self._markup(params)
        if markup == msg.get("reply_markup"):
            raise bad(NOT_MODIFIED)
        if markup is not None:
            msg["reply_markup"] = markup
        else:
            msg.pop("reply_markup", None)
        msg["edit_date"] = int(time.time())
        return _public(msg)

    def _m_editmessagecaption(self, params: dict[str, Any]) -> dict[str, Any]:
        msg = self._target(params, "message to edit not found")
        if msg.get("from", {}).get("id") != self.bot_id:
            raise bad("message can't be edited")
        caption, entities = self._formatted(params, "caption", MAX_CAPTION, required=False)
        markup = self._markup(params)
        if caption == msg.get("caption") and markup == msg.get("reply_markup"):
            raise bad(NOT_MODIFIED)
        if caption is None:
            msg.pop("caption", None)
        else:
            msg["caption"] = caption
        if markup is not None:
            msg["reply_markup"] = markup
        else:
            msg.pop("reply_markup", None)
        msg["edit_date"] = int(time.time())
        return _public(msg)

    def _m_deletemessage(self, params: dict[str, Any]) -> bool:
        msg = self._target(params, "message to delete not found")
        msg["_deleted"] = True
        return True

    def _m_answercallbackquery(self, params: dict[str, Any]) -> bool:
        qid = str(params.get("callback_query_id") or "")
        query = self.callback_queries.get(qid)
        if query is None or query.get("answer") is not None:
            raise bad("query is too old and response timeout expired or query ID is invalid")
        text = params.get("text")
        if text is not None and len(str(text)) > MAX_CALLBACK_ANSWER:
            raise bad("MESSAGE_TOO_LONG")
        query["answer"] = {"text": text, "show_alert": _bool(params.get("show_alert")),
                           "url": params.get("url")}
        return True

    def _m_createforumtopic(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params)
        if chat["type"] == "private":
            if not self.has_topics_enabled:
                raise bad("the chat is not a forum")
            self._check_send_allowed(chat)
        elif not chat.get("is_forum"):
            raise bad("the chat is not a forum")
        elif chat["id"] not in self.bot_admin_in:
            raise bad("not enough rights to create a topic")
        name = str(params.get("name") or "")
        if not (1 <= len(name) <= 128):
            raise bad("TOPIC_TITLE_EMPTY" if not name else "TOPIC_TITLE_INVALID")
        icon_color = _int_or_none(params.get("icon_color")) or 7322096
        thread_id = self.new_message_id(chat["id"])
        topic = Topic(chat["id"], thread_id, name, icon_color)
        self.topics_by_chat.setdefault(chat["id"], {})[thread_id] = topic
        self.store_message({
            "message_id": thread_id,
            "message_thread_id": thread_id,
            "from": self.bot_user,
            "chat": dict(chat),
            "date": int(time.time()),
            "forum_topic_created": {"name": name, "icon_color": icon_color},
            "is_topic_message": True,
        })
        return {"message_thread_id": thread_id, "name": name, "icon_color": icon_color}

    def _topic_of(self, params: dict[str, Any]) -> Topic:
        chat = self._chat(params)
        if chat["type"] != "private" and not chat.get("is_forum"):
            raise bad("the chat is not a forum")
        thread = _int_or_none(params.get("message_thread_id"))
        topic = self.topic(chat["id"], thread or 0)
        if topic is None or topic.deleted:
            raise bad("message thread not found")
        return topic

    def _m_closeforumtopic(self, params: dict[str, Any]) -> bool:
        topic = self._topic_of(params)
        if topic.chat_id < 0 and topic.chat_id not in self.bot_admin_in:
            raise bad("not enough rights to manage topics")
        if topic.closed:
            raise bad("TOPIC_NOT_MODIFIED")
        topic.closed = True
        return True

    def _m_reopenforumtopic(self, params: dict[str, Any]) -> bool:
        topic = self._topic_of(params)
        if topic.chat_id < 0 and topic.chat_id not in self.bot_admin_in:
            raise bad("not enough rights to manage topics")
        if not topic.closed:
            raise bad("TOPIC_NOT_MODIFIED")
        topic.closed = False
        return True

    def _m_editforumtopic(self, params: dict[str, Any]) -> bool:
        topic = self._topic_of(params)
        name = params.get("name")
        if name is not None:
            if name == topic.name:
                raise bad("TOPIC_NOT_MODIFIED")
            topic.name = str(name)
        return True

    def _m_deleteforumtopic(self, params: dict[str, Any]) -> bool:
        topic = self._topic_of(params)
        topic.deleted = True
        return True

    def _m_copymessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params)
        source_chat = self._chat(params, "from_chat_id")
        source = self.message(source_chat["id"], _int_or_none(params.get("message_id")) or 0)
        if source is None or source.get("_deleted"):
            raise bad("message to copy not found")
        if any(k in source for k in ("forum_topic_created", "new_chat_members", "left_chat_member")):
            raise bad("message can't be copied")
        markup = self._markup(params)
        caption, entities = self._formatted(params, "caption", MAX_CAPTION, required=False)
        self._check_send_allowed(chat)
        msg = self._new_bot_message(chat, params)
        for key in ("text", "entities", "photo", "document", "voice", "video", "audio", "animation",
                    "sticker", "caption", "caption_entities", "location", "contact"):
            if key in source:
                msg[key] = source[key]
        if caption is not None:
            msg["caption"] = caption
            if entities:
                msg["caption_entities"] = entities
        if markup is not None:
            msg["reply_markup"] = markup
        msg["_copied_from"] = (source_chat["id"], source["message_id"])
        msg["_history"] = [msg.get("text") or msg.get("caption")]
        self.store_message(msg)
        return {"message_id": msg["message_id"]}

    def _media(self, kind: str, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params)
        value = params.get(kind)
        if value in (None, ""):
            raise bad(f"there is no {kind} in the request")
        if isinstance(value, str) and value.startswith("attach://"):
            upload = params.get(value[len("attach://"):])
            if not isinstance(upload, dict):
                raise bad(f"there is no {kind} in the request")
            rec = self.add_file(kind, _uploaded(kind, upload), name=upload["_upload"])
        elif isinstance(value, dict) and "_upload" in value:
            rec = self.add_file(kind, _uploaded(kind, value), name=value["_upload"])
        elif isinstance(value, str) and value.startswith(("http://", "https://")):
            raise bad("wrong file identifier/HTTP URL specified")
        else:
            rec = self.files.get(str(value))
            if rec is None:
                raise bad("wrong file identifier/HTTP URL specified")
            if rec.kind != kind and not (kind == "document" and rec.kind != "photo"):
                raise bad(f"can't use file of type {rec.kind.capitalize()} as {kind.capitalize()}")
        caption, entities = self._formatted(params, "caption", MAX_CAPTION, required=False)
        markup = self._markup(params)
        self._check_send_allowed(chat)
        msg = self._new_bot_message(chat, params)
        msg.update(media_payload(rec, kind))
        if caption is not None:
            msg["caption"] = caption
            if entities:
                msg["caption_entities"] = entities
        if markup is not None:
            msg["reply_markup"] = markup
        msg["_history"] = [caption]
        self.store_message(msg)
        return _public(msg)

    def _m_sendphoto(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._media("photo", params)

    def _m_senddocument(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._media("document", params)

    def _m_sendvoice(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._media("voice", params)

    def _m_sendvideo(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._media("video", params)

    def _m_sendaudio(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._media("audio", params)

    def _m_sendanimation(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._media("animation", params)

    def _m_sendchataction(self, params: dict[str, Any]) -> bool:
        chat = self._chat(params)
        self._check_send_allowed(chat)
        return True

    def _m_getfile(self, params: dict[str, Any]) -> dict[str, Any]:
        rec = self.files.get(str(params.get("file_id") or ""))
        if rec is None:
            raise bad("invalid file_id")
        if rec.size > DOWNLOAD_LIMIT:
            raise bad("file is too big")
        return {"file_id": rec.file_id, "file_unique_id": rec.unique_id, "file_size": rec.size,
                "file_path": rec.path}

    # ------------------------------------------------------------------ webhook delivery
    async def _client_session(self) -> ClientSession:
        if self._client is None or self._client.closed:
            self._client = ClientSession(timeout=ClientTimeout(total=30))
        return self._client

    def _secret_header(self) -> str | None:
        assert self.webhook is not None
        secret = self.webhook.get("secret_token")
        if self.webhook_secret_mode == "none":
            return None
        if self.webhook_secret_mode == "wrong":
            return (secret or "") + "-wrong"
        return secret

    async def _post(self, update: dict[str, Any], secret: str | None, attempt: int) -> tuple[int | None, str | None]:
        assert self.webhook is not None
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        session = await self._client_session()
        status: int | None = None
        error: str | None = None
        try:
            async with session.post(self.webhook["url"], data=json.dumps(update, ensure_ascii=False),
                                    headers=headers) as resp:
                status = resp.status
                reply_method = await _method_in_reply(resp) if status == 200 else None
        except Exception as e:  # connection refused, reset, timeout
            error = f"{type(e).__name__}: {e}"
            reply_method = None
        if reply_method is not None:
            # Telegram executes a method given in the webhook's answer (its result is not sent anywhere).
            name, params = reply_method
            await self._execute(Call(method=name, params=params, time=self.now()))
        self.webhook_posts.append(WebhookPost(update["update_id"], status, secret, attempt, self.now(), error))
        if status is None:
            self.webhook_last_error = (self.now(), f"Connection failed: {error}")
        elif not 200 <= status < 300:
            self.webhook_last_error = (self.now(), f"Wrong response from the webhook: {status}")
        return status, error

    async def _deliver_webhook(self) -> None:
        """Deliver queued updates to the webhook one by one, in order; a non-2xx answer
        is retried ``webhook_retries`` times, then the update is dropped (recorded in
        ``dropped_updates``); a refused connection is retried until the bot listens."""
        while self.webhook is not None:
            self._webhook_wakeup.clear()
            self._drop_filtered(self.webhook.get("allowed_updates"))
            if not self.updates:
                await self._notify()
                await self._webhook_wakeup.wait()
                continue
            update = self.updates[0]
            delivered = False
            attempt = 0
            refused = 0
            while attempt <= self.webhook_retries:
                if self.webhook is None:
                    return
                status, _ = await self._post(update, self._secret_header(), attempt + refused + 1)
                await self._notify()
                if status is not None and 200 <= status < 300:
                    delivered = True
                    break
                if status is None:
                    # Nobody listening (the bot is restarting): keep the update and try again,
                    # as Telegram does; only HTTP error answers use up the retries.
                    refused += 1
                    await asyncio.sleep(min(self.webhook_retry_delay * refused, 0.5))
                    continue
                attempt += 1
                if attempt <= self.webhook_retries:
                    await asyncio.sleep(self.webhook_retry_delay * attempt)
            self.updates = [u for u in self.updates if u["update_id"] != update["update_id"]]
            if delivered:
                self.confirmed_ids.add(update["update_id"])
            else:
                self.dropped_updates.append(update)
            await self._notify()

    # ------------------------------------------------------------------ callback queries
    def new_callback_id(self) -> str:
        return f"{self.bot_id}{next(self._callback_seq):08d}"

    def callback_answer(self, query_id: str) -> dict[str, Any] | None:
        q = self.callback_queries.get(query_id)
        return None if q is None else q.get("answer")


def _uploaded(kind: str, upload: dict[str, Any]) -> int:
    """The size of a file the bot uploads, refused as Telegram does over the bot's limit
    (10 MB for a photo: PHOTO_SAVE_FILE_INVALID; 50 MB otherwise: 413)."""
    size = int(upload["_size"])
    if kind == "photo" and not bytes(upload.get("_head") or b"").startswith(IMAGE_MAGIC):
        raise bad("IMAGE_PROCESS_FAILED")  # not a picture Telegram can read
    if size > UPLOAD_LIMIT.get(kind, UPLOAD_DEFAULT_LIMIT):
        if kind == "photo":
            raise bad("PHOTO_SAVE_FILE_INVALID")
        raise ApiError(413, "Request Entity Too Large")
    return size


def media_payload(rec: FileRecord, kind: str | None = None) -> dict[str, Any]:
    """The message fields Telegram sets for a file of this kind."""
    kind = kind or rec.kind
    base = {"file_id": rec.file_id, "file_unique_id": rec.unique_id, "file_size": rec.size}
    if kind == "photo":
        small = {**base, "file_id": rec.file_id + "-s", "file_unique_id": rec.unique_id + "s",
                 "width": 90, "height": 67, "file_size": max(1, rec.size // 20)}
        return {"photo": [small, {**base, "width": 1280, "height": 960}]}
    if kind == "document":
        doc = dict(base)
        if rec.name:
            doc["file_name"] = rec.name
        if rec.mime_type:
            doc["mime_type"] = rec.mime_type
        return {"document": doc}
    if kind == "voice":
        return {"voice": {**base, "duration": 3, "mime_type": rec.mime_type or "audio/ogg"}}
    if kind == "video":
        return {"video": {**base, "width": 640, "height": 480, "duration": 5,
                          **({"file_name": rec.name} if rec.name else {})}}
    if kind == "audio":
        return {"audio": {**base, "duration": 60, **({"file_name": rec.name} if rec.name else {})}}
    if kind == "animation":
        return {"animation": {**base, "width": 320, "height": 240, "duration": 2}}
    if kind == "sticker":
        return {"sticker": {**base, "type": "regular", "width": 512, "height": 512,
                            "is_animated": False, "is_video": False, "emoji": "👍"}}
    raise ValueError(kind)


async def _method_in_reply(resp: ClientResponse) -> tuple[str, dict[str, Any]] | None:
    """A Bot API method the webhook answered with (aiogram's webhook handler replies with
    multipart form-data when a handler returns a method)."""
    params: dict[str, Any] = {}
    try:
        if resp.content_type.startswith("multipart/"):
            reader = MultipartReader.from_response(resp)
            while True:
                part = await reader.next()
                if part is None:
                    break
                assert isinstance(part, BodyPartReader)
                if part.filename:
                    params[part.name or ""] = {"_upload": part.filename, "_size": len(await part.read())}
                else:
                    params[part.name or ""] = await part.text()
        else:
            body = await resp.read()
            if not body.strip():
                return None
            if resp.content_type == "application/json":
                params = json.loads(body)
            elif resp.content_type == "application/x-www-form-urlencoded":
                from urllib.parse import parse_qsl

                params = dict(parse_qsl(body.decode()))
            else:
                return None
    except ValueError:
        return None
    if not isinstance(params, dict) or "method" not in params:
        return None
    name = str(params.pop("method"))
    for key in JSON_FIELDS:
        if isinstance(params.get(key), str):
            with contextlib.suppress(ValueError):
                params[key] = json.loads(params[key])
    return name, params


def _public(msg: dict[str, Any], *, nested: bool = False) -> dict[str, Any]:
    """The message as the Bot API returns it (no private bookkeeping keys)."""
    out = {k: v for k, v in msg.items() if not k.startswith("_")}
    if nested:
        out.pop("reply_to_message", None)
    return out


def _int(value: Any) -> int:
    return int(value)


def _int_or_none(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("true", "1")


def buttons_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The inline buttons of a message, row by row flattened."""
    markup = message.get("reply_markup") or {}
    return [b for row in markup.get("inline_keyboard", []) for b in row]


__all__ = [
    "ApiError",
    "Call",
    "FakeTelegram",
    "FileRecord",
    "RateLimits",
    "Topic",
    "WebhookPost",
    "buttons_of",
    "media_payload",
]
