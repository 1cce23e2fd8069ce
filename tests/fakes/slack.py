"""A fake Slack Web API (and Slack's side of the Events API) that bites.

An aiohttp server on 127.0.0.1, port 0, in the test's event loop. The real slack_sdk
client talks to it over loopback::

    fake = FakeSlack()
    await fake.start()
    client = AsyncWebClient(token=fake.token, base_url=fake.base_url)   # .../api/

Outbound (the app calls Slack): the methods the desk uses, read from a query string,
a form body or a JSON body (slack_sdk sends all three, depending on the method), with
``Authorization: Bearer xoxb-...`` (missing → ``not_authed``, wrong → ``invalid_auth``).
Answers are Slack's: HTTP 200 with ``{"ok": true, ...}`` or ``{"ok": false, "error":
"..."}``; only rate limiting is HTTP 429 with a ``Retry-After`` header. Block Kit limits
are enforced (``invalid_blocks`` / ``msg_too_long`` / ``invalid_arguments`` for views,
each counted in ``block_errors``), ``trigger_id`` s are single use and expire in 3 s,
``users.info`` gives ``locale`` only with ``include_locale=true`` (as Slack does),
``url_private`` without the bot token answers a 200 HTML login page (as Slack does).

Rate limits (``RateLimits``; ``FakeSlack(rate_limits=False)`` turns them off,
``inject_429`` still works): chat.postMessage is about 1 per second per channel —
a sliding window of 1 per ``period * (1 - tolerance)`` (0.9 s) — and the other methods
have their tier's per-minute window (chat.update 50/min, views.publish 100/min, ...).
A 429 bans its scope (the channel, the method, or every send for ``inject_429`` without
channel and method) for ``Retry-After`` seconds; a call in a banned scope is answered
429 again and counted in ``early_retries`` when the app could have known (same
connection as the 429, or later than ``early_grace``), else ``in_flight_during_ban``.

Inbound (Slack calls the app): set ``fake.request_url`` (the app's ``/slack/events``)
and the fake POSTs signed requests as Slack does (``X-Slack-Signature`` v0 HMAC-SHA256
of ``v0:{timestamp}:{body}`` with ``signing_secret``, ``X-Slack-Request-Timestamp``):
Events API callbacks, url_verification, slash commands and interactivity payloads.
Every POST is recorded in ``posts`` (status, body, elapsed). ``sign_mode="wrong"|"none"``,
``timestamp=`` and ``redeliver(post, times)`` (X-Slack-Retry-Num / -Reason, same
event_id) exercise verification and retries. Users act through tests/support/slack.py.

Socket Mode: ``apps.connections.open`` (app token ``xapp-...`` only) hands out a one-use
``ws://`` URL on the fake; with ``request_url`` None the same requests go to the
connected websocket as envelopes (events_api / slash_commands / interactive, with
``retry_attempt``) and count as 200 once acked; ``disconnect_sockets()`` sends Slack's
``disconnect`` so the client must reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
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
from urllib.parse import parse_qsl, urlencode

from aiohttp import ClientSession, ClientTimeout, web

from tests.fakes.waiting import CallLog

if TYPE_CHECKING:
    from tests.support.slack import SlackChannel, SlackUser

MAX_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_FIELDS = 10
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_ACTION_ID = 255
MAX_BLOCK_ID = 255
MAX_ACTIONS_ELEMENTS = 25
MAX_CONTEXT_ELEMENTS = 10
MAX_MESSAGE_TEXT = 40_000
MAX_VIEW_TITLE = 24
MAX_PRIVATE_METADATA = 3000
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150
MAX_OPTIONS = 100
MAX_LABEL = 2000
TRIGGER_TTL = 3.0
ACK_DEADLINE = 3.0

# Parameters slack_sdk sends JSON-encoded inside a form or query string.
JSON_PARAMS = frozenset({"blocks", "attachments", "view", "files", "metadata"})


class SlackError(Exception):
    """An error answer: ``{"ok": false, "error": code, ...extra}`` with HTTP ``status``."""

    def __init__(self, error: str, *, status: int = 200, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.headers = headers or {}
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"ok": False, "error": self.error, **self.extra}


@dataclass
class Call:
    """One request the app made: method, params merged from query, form and JSON body."""

    method: str
    params: dict[str, Any]
    time: float
    response: dict[str, Any] = field(default_factory=dict)
    status: int = 200
    connection: int | None = None
    content_type: str = ""
    retry_after: int | None = None  # a 429's Retry-After

    def __repr__(self) -> str:
        outcome = "ok" if self.ok else f"{self.status} {self.error}"
        shown = {k: (v[:60] + "…" if isinstance(v, str) and len(v) > 60 else v)
                 for k, v in self.params.items() if k != "blocks"}
        return f"Call({self.method} {shown} -> {outcome})"

    @property
    def ok(self) -> bool:
        return bool(self.response.get("ok"))

    @property
    def error(self) -> str | None:
        return None if self.ok else self.response.get("error")

    @property
    def channel(self) -> str | None:
        value = self.params.get("channel", self.params.get("channel_id"))
        return None if value is None else str(value)


@dataclass
class RateLimits:
    """chat.postMessage's "1 per second per channel" as a sliding window, shortened by
    ``tolerance``; ``methods`` are the ones counted per channel. ``tiers``: Slack's
    per-method workspace limits (Tier 2 = 20/min, Tier 3 = 50/min, Tier 4 = 100/min) as
    sliding windows over a minute for the other methods the desk calls. ``workspace``:
    chat.postMessage over all channels together (Slack keeps such a limit but publishes
    no number, so it is off unless set, e.g. ``(10, 1.0)``); a 429 from it bans the
    method everywhere."""

    per_channel: tuple[int, float] = (1, 1.0)
    workspace: tuple[int, float] | None = None
    tolerance: float = 0.1
    methods: frozenset[str] = frozenset({"chat.postMessage"})
    tiers: dict[str, tuple[int, float]] = field(default_factory=lambda: {
        "chat.update": (50, 60.0), "chat.delete": (50, 60.0), "chat.postEphemeral": (100, 60.0),
        "reactions.add": (50, 60.0), "reactions.remove": (50, 60.0), "conversations.open": (50, 60.0),
        "conversations.join": (50, 60.0), "conversations.members": (100, 60.0), "users.lookupByEmail": (100, 60.0), "conversations.info": (50, 60.0),
        "conversations.history": (50, 60.0), "conversations.replies": (50, 60.0),
        "users.info": (100, 60.0), "chat.getPermalink": (100, 60.0),
        "views.open": (100, 60.0), "views.update": (100, 60.0), "views.push": (100, 60.0),
        "views.publish": (100, 60.0), "files.getUploadURLExternal": (100, 60.0),
        "files.completeUploadExternal": (100, 60.0), "files.info": (100, 60.0),
        "apps.connections.open": (1, 1.0),
    })


# What ``inject_429`` without ``method`` hits: the calls that put something in front of people.
SEND_METHODS = frozenset({"chat.postMessage", "chat.update", "chat.postEphemeral", "chat.delete",
                          "files.completeUploadExternal", "reactions.add", "views.publish",
                          "views.update", "views.open"})


@dataclass
class InboundPost:
    """One POST the fake made to the app's request URL, and the app's answer."""

    kind: str  # event_callback, url_verification, command, block_actions, view_submission, ...
    body: bytes
    headers: dict[str, str]
    status: int | None  # None: the connection failed
    response_text: str = ""
    content_type: str = ""
    elapsed: float = 0.0
    error: str | None = None
    event_id: str | None = None
    retry_num: int = 0
    sent_at: float = 0.0
    transport: str = "http"  # or "socket" (Socket Mode envelope; status 200 = acked)
    envelope_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def late(self) -> bool:
        """Slack gives up on an answer after 3 s (and retries an event)."""
        return self.elapsed > ACK_DEADLINE

    @property
    def response_json(self) -> Any:
        """The ack body as JSON (None when empty or not JSON)."""
        if not self.response_text.strip():
            return None
        try:
            return json.loads(self.response_text)
        except ValueError:
            return None

    @property
    def payload(self) -> dict[str, Any]:
        """What was sent: the JSON body, or the decoded form (``payload`` unpacked)."""
        text = self.body.decode()
        if self.headers.get("Content-Type", "").startswith("application/json"):
            return dict(json.loads(text))
        form = dict(parse_qsl(text, keep_blank_values=True))
        if "payload" in form:
            return dict(json.loads(form["payload"]))
        return form

    def __repr__(self) -> str:
        return f"InboundPost({self.kind}, status={self.status}, retry={self.retry_num}, body={self.response_text[:80]!r})"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's request signature: ``v0=`` + HMAC-SHA256(secret, ``v0:{ts}:{body}``)."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


class FakeSlack(CallLog):
    """The fake Slack (see the module docstring).

    Options: ``token`` (xoxb), ``app_token`` (xapp, Socket Mode), ``signing_secret``,
    ``team_id``, ``bot_user_id``, ``bot_id``, ``rate_limits`` (True, False or a
    ``RateLimits``), ``request_url``, ``echo_bot_messages``, ``event_retries`` /
    ``event_retry_delay``, ``early_grace``.

    What a test reads: ``calls`` / ``calls_of(method)`` / ``mark()`` (also the pseudo
    methods "upload" and "response_url"), ``messages`` (channel -> list, current state,
    bot's and users'), ``bot_messages(channel, thread_ts)``, ``ephemerals`` (dicts with
    ``user``, ``channel``, ``text``, ``blocks``), ``views`` (id -> view), ``home`` (user ->
    published view), ``modals(user)`` (open modal stack), ``files``, ``block_errors``,
    ``too_many_requests``, ``early_retries``, ``in_flight_during_ban``, ``posts``
    (inbound, each with status and ack), ``late_posts``, ``bad_acks``, ``socket_connections``,
    ``internal_errors`` (should stay empty).
    What a test does: ``user``, ``channel``, ``add_user``, ``add_channel``, ``join``,
    ``archive``, ``delete_channel``, ``deactivate``, ``add_file``, ``inject_429``,
    ``advance`` (the fake's clock: trigger expiry, rate windows), ``new_trigger``,
    ``post_event``, ``post_command``, ``post_interaction``, ``url_verification``,
    ``redeliver``, ``disconnect_sockets``, ``wait_for``, ``wait_call``, ``wait_socket``.
    """

    def __init__(
        self,
        *,
        token: str = "xoxb-0000-fake-bot-token",
        app_token: str = "xapp-1-A0000DESK-0000-fake-app-token",
        signing_secret: str = "fake-signing-secret-0123456789",
        team_id: str = "T0000DESK",
        team_domain: str = "deskfake",
        bot_user_id: str = "U0000BOT",
        bot_id: str = "B0000BOT",
        app_id: str = "A0000DESK",
        rate_limits: RateLimits | bool = True,
        early_grace: float = 0.05,
        request_url: str | None = None,
        echo_bot_messages: bool = False,
        event_retries: int = 0,
        event_retry_delay: float = 0.05,
    ) -> None:
        self.token = token
        self.app_token = app_token
        self.signing_secret = signing_secret
        self.team_id = team_id
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.verification_token = "fake-verification-token"
        if rate_limits is True:
            self.rate_limits: RateLimits | None = RateLimits()
        elif rate_limits is False:
            self.rate_limits = None
        else:
            self.rate_limits = rate_limits
        self.early_grace = early_grace
        self.request_url = request_url
        # Slack sends the app its own messages as message events too (with bot_id); on
        # request, the fake does the same, so an app that does not ignore them loops.
        self.echo_bot_messages = echo_bot_messages
        # Slack retries a failed event delivery 3 times (after ~0 s, 1 min, 5 min); the
        # fake does it ``event_retries`` times, ``event_retry_delay`` apart.
        self.event_retries = event_retries
        self.event_retry_delay = event_retry_delay
        self._echo_tasks: set[asyncio.Task[InboundPost]] = set()

        self.calls: list[Call] = []
        self.internal_errors: list[tuple[Call, str]] = []
        self.block_errors: list[tuple[str, str]] = []  # (method, what was wrong)
        self.too_many_requests = 0
        self.early_retries = 0
        self.in_flight_during_ban = 0
        self.early_retry_calls: list[Call] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self.members: dict[str, set[str]] = {}  # channel -> user ids (the bot included)
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.ephemerals: list[dict[str, Any]] = []
        self.views: dict[str, dict[str, Any]] = {}
        self.home: dict[str, dict[str, Any]] = {}
        self.modal_stack: dict[str, list[str]] = {}  # user -> view ids, bottom first
        self.triggers: dict[str, dict[str, Any]] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self.posts: list[InboundPost] = []
        self.bad_acks: list[tuple[InboundPost, str]] = []  # ack bodies Slack would not accept
        self.clock_offset = 0.0
        # Socket Mode: used for inbound requests when request_url is None.
        self.socket_connections = 0  # websockets ever accepted
        self._sockets: list[web.WebSocketResponse] = []
        self._tickets: set[str] = set()
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._response_urls: dict[str, dict[str, Any]] = {}  # key -> user, channel, message_ts, uses

        self._ts_seq = itertools.count(1)
        self._id_seq = itertools.count(1)
        self._init_waiting()
        self._windows: dict[Any, deque[float]] = {}
        self._bans: dict[Any, tuple[float, float, int | None]] = {}
        self._inject: list[list[Any]] = []  # [remaining, retry_after, channel or None, method or None]
        self._runner: web.AppRunner | None = None
        self._client: ClientSession | None = None
        self.port = 0
        self.add_user(bot_user_id, "deskbot", is_bot=True)

    # ------------------------------------------------------------------ lifecycle
    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What slack_sdk's ``base_url`` (and the app's ``slack.api_base``) should be."""
        return f"{self.origin}/api/"

    async def start(self) -> FakeSlack:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._handle)
        app.router.add_post("/upload/v1/{file_id}", self._handle_upload)
        app.router.add_get("/files-pri/{team_file}/{name}", self._handle_download)
        app.router.add_get("/link/", self._handle_socket)
        app.router.add_post("/response/{key}", self._handle_response_url)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        return self

    async def close(self) -> None:
        for task in list(self._echo_tasks):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        for ws in list(self._sockets):
            with contextlib.suppress(Exception):
                await ws.close()
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeSlack:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def now(self) -> float:
        return time.monotonic() + self.clock_offset

    def advance(self, seconds: float) -> None:
        """Move the fake's clock on (trigger expiry, rate windows) without sleeping."""
        self.clock_offset += seconds

    # ------------------------------------------------------------------ waiting
    def describe(self, call: Call) -> str:
        return f"{call.method}{'' if call.ok else '!' + str(call.error)}"

    # ------------------------------------------------------------------ state set-up
    def new_ts(self) -> str:
        """A message timestamp: unique, increasing, Slack's "seconds.micros" shape."""
        n = next(self._ts_seq)
        return f"{1700000000 + n}.{100 + n % 900:06d}"

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._id_seq):08d}"

    def add_user(self, user_id: str, real_name: str, *, display_name: str | None = None,
                 locale: str = "en-US", tz: str = "Europe/London", tz_offset: int | None = None,
                 is_bot: bool = False, email: str | None = None) -> dict[str, Any]:
        name = user_id.lower() if display_name is None else display_name.lower().replace(" ", ".")
        user: dict[str, Any] = {
            "id": user_id, "team_id": self.team_id, "name": name, "deleted": False,
            "real_name": real_name, "tz": tz, "tz_label": tz,
            "tz_offset": tz_offset if tz_offset is not None else _tz_offset(tz),
            "is_bot": is_bot, "is_admin": False, "locale": locale,
            "profile": {"real_name": real_name, "display_name": display_name or real_name.split()[0],
                        "real_name_normalized": real_name,
                        "display_name_normalized": display_name or real_name.split()[0],
                        **({"email": email} if email else {}), "team": self.team_id},
        }
        if is_bot:
            user["profile"]["bot_id"] = self.bot_id
        self.users[user_id] = user
        return user

    def dm_id(self, user_id: str) -> str:
        return "D" + user_id[1:]

    def dm(self, user_id: str) -> dict[str, Any]:
        """The app's direct-message channel with ``user_id`` (created on first use)."""
        channel_id = self.dm_id(user_id)
        if channel_id not in self.channels:
            self.channels[channel_id] = {
                "id": channel_id, "created": 1700000000, "is_im": True, "is_org_shared": False,
                "user": user_id, "is_user_deleted": False, "priority": 0, "is_archived": False,
                "is_open": True,
            }
            self.members[channel_id] = {user_id, self.bot_user_id}
            self.messages.setdefault(channel_id, [])
        return self.channels[channel_id]

    def add_channel(self, channel_id: str, name: str, *, members: list[str] | tuple[str, ...] = (),
                    bot_member: bool = True) -> dict[str, Any]:
        private = channel_id.startswith("G")
        channel = {
            "id": channel_id, "name": name, "is_channel": not private, "is_group": private,
            "is_im": False, "is_mpim": False, "is_private": private, "is_archived": False,
            "is_general": False, "is_shared": False, "is_ext_shared": False, "is_org_shared": False,
            "created": 1700000000, "creator": "U0000ADMIN", "name_normalized": name,
            "is_member": bot_member, "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
        }
        self.channels[channel_id] = channel
        self.members[channel_id] = set(members) | ({self.bot_user_id} if bot_member else set())
        self.messages.setdefault(channel_id, [])
        return channel

    def app_in(self, channel_id: str) -> bool:
        """Whether the app gets events from this channel (a DM, or the bot is a member)."""
        channel = self.channels.get(channel_id) or {}
        return bool(channel.get("is_im")) or self.bot_user_id in self.members.get(channel_id, set())

    def join(self, channel_id: str, user_id: str) -> None:
        self.members.setdefault(channel_id, set()).add(user_id)
        if user_id == self.bot_user_id:
            self.channels[channel_id]["is_member"] = True

    def user(self, user_id: str, real_name: str, **kwargs: Any) -> SlackUser:
        """A person who acts through the story DSL (tests/support/slack.py)."""
        from tests.support.slack import SlackUser

        return SlackUser(self, self.add_user(user_id, real_name, **kwargs))

    def channel(self, channel_id: str, name: str, **kwargs: Any) -> SlackChannel:
        from tests.support.slack import SlackChannel

        return SlackChannel(self, self.add_channel(channel_id, name, **kwargs))

    def archive(self, channel_id: str) -> None:
        """The channel was archived: posting to it answers ``is_archived``."""
        self.channels[channel_id]["is_archived"] = True

    def delete_channel(self, channel_id: str) -> None:
        """The channel is gone: ``channel_not_found``."""
        self.channels.pop(channel_id, None)

    def deactivate(self, user_id: str) -> None:
        """The user's account was deactivated: DMs answer ``account_inactive``."""
        self.users[user_id]["deleted"] = True

    def inject_429(self, count: int = 1, retry_after: int = 1, *, channel: str | None = None,
                   method: str | None = None) -> None:
        """The next ``count`` calls of ``method`` (default: any of SEND_METHODS), to
        ``channel`` when given, answer 429 with ``Retry-After: retry_after`` and ban
        that scope for as long."""
        self._inject.append([count, retry_after, channel, method])

    def new_trigger(self, user_id: str) -> str:
        trigger_id = f"{next(self._id_seq)}.{self.team_id[1:]}.{hashlib.sha1(str(time.time()).encode()).hexdigest()[:16]}"
        self.triggers[trigger_id] = {"user": user_id, "issued": self.now(), "used": False}
        return trigger_id

    def new_response_url(self, user_id: str, channel_id: str, message_ts: str | None = None) -> str:
        """A ``response_url`` for a command or an action (bolt's ``respond()`` posts to it)."""
        key = hashlib.sha1(f"{time.time()}{next(self._id_seq)}".encode()).hexdigest()[:20]
        self._response_urls[key] = {"user": user_id, "channel": channel_id, "message_ts": message_ts,
                                    "uses": 0, "issued": self.now()}
        return f"{self.origin}/response/{key}"

    def add_file(self, name: str, content: bytes, *, user: str | None = None,
                 mimetype: str | None = None, title: str | None = None) -> dict[str, Any]:
        file_id = self.new_id("F")
        url = f"{self.origin}/files-pri/{self.team_id}-{file_id}/{name}"
        record = {
            "id": file_id, "created": int(time.time()), "timestamp": int(time.time()),
            "name": name, "title": title or name, "mimetype": mimetype or _guess_mime(name),
            "filetype": name.rsplit(".", 1)[-1].lower() if "." in name else "binary",
            "user": user or self.bot_user_id, "size": len(content), "mode": "hosted",
            "is_external": False, "is_public": False, "url_private": url,
            "url_private_download": url + "?download=1",
            "permalink": f"https://{self.team_domain}.slack.com/files/{user}/{file_id}/{name}",
            "channels": [], "groups": [], "ims": [], "shares": {},
            "_content": content,
        }
        self.files[file_id] = record
        return record

    # ------------------------------------------------------------------ reading state
    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        for m in self.messages.get(channel, []):
            if m["ts"] == ts:
                return m
        return None

    def bot_messages(self, channel: str, thread_ts: str | None = None) -> list[dict[str, Any]]:
        """The bot's messages in a channel, current state; with ``thread_ts``, the replies
        in that thread (not the root)."""
        out = []
        for m in self.messages.get(channel, []):
            if m.get("bot_id") != self.bot_id or m.get("_deleted"):
                continue
            if thread_ts is not None and (m.get("thread_ts") != thread_ts or m["ts"] == thread_ts):
                continue
            out.append(m)
        return out

    def ephemerals_for(self, user_id: str, channel: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.ephemerals if e["user"] == user_id and not e.get("_deleted")
                and (channel is None or e["channel"] == channel)]

    @property
    def late_posts(self) -> list[InboundPost]:
        """Requests the app answered after Slack's 3 s deadline (or never)."""
        return [p for p in self.posts if p.late or p.status is None]

    def modals(self, user_id: str) -> list[dict[str, Any]]:
        """The user's open modal stack (bottom first), current state."""
        return [self.views[v] for v in self.modal_stack.get(user_id, [])]

    # ------------------------------------------------------------------ HTTP: Web API
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        call = Call(method=method, params={}, time=self.now(), connection=id(request.transport),
                    content_type=request.content_type)
        headers: dict[str, str] = {}
        try:
            call.params, token = await self._read_params(request)
            if token is None:
                raise SlackError("not_authed")
            if method == "apps.connections.open":
                if token.startswith("xoxb-"):
                    raise SlackError("not_allowed_token_type")
                if not hmac.compare_digest(token, self.app_token):
                    raise SlackError("invalid_auth")
            elif token.startswith("xapp-"):
                raise SlackError("not_allowed_token_type")
            elif not hmac.compare_digest(token, self.token):
                raise SlackError("invalid_auth")
            handler = getattr(self, "_m_" + method.replace(".", "_"), None)
            if handler is None:
                raise SlackError("unknown_method", req_method=method)
            self._check_rate(call)
            result = handler(call.params)
            call.response = {"ok": True, **result}
        except SlackError as e:
            call.response, call.status, headers = e.body(), e.status, e.headers
        except Exception as e:  # a request the fake could not handle: kept for the test
            self.internal_errors.append((call, traceback.format_exc()))
            call.response = {"ok": False, "error": "fatal_error", "detail": f"fake: {type(e).__name__}: {e}"}
        self.calls.append(call)
        await self.notify()
        return web.json_response(call.response, status=call.status, headers=headers,
                                 dumps=lambda o: json.dumps(o, ensure_ascii=False))

    async def _read_params(self, request: web.Request) -> tuple[dict[str, Any], str | None]:
        raw: dict[str, Any] = dict(request.query)
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            for key, value in form.items():
                raw[key] = ({"_upload": value.filename, "_size": len(value.file.read())}
                            if isinstance(value, web.FileField) else value)
            body = b""
        else:
            body = await request.read()
        if request.content_type == "application/json" and body:
            try:
                loaded = json.loads(body)
            except ValueError:
                raise SlackError("invalid_json") from None
            if not isinstance(loaded, dict):
                raise SlackError("invalid_json")
            raw.update(loaded)
        elif body:
            raw.update(dict(parse_qsl(body.decode(), keep_blank_values=True)))
        token: str | None = None
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            token = auth[len("Bearer "):].strip()
        elif "token" in raw:
            token = str(raw["token"])
        raw.pop("token", None)
        params: dict[str, Any] = {}
        for key, value in raw.items():
            if key in JSON_PARAMS and isinstance(value, str):
                try:
                    params[key] = json.loads(value) if value else None
                except ValueError:
                    raise SlackError("invalid_blocks" if key == "blocks" else "invalid_arguments",
                                     response_metadata={"messages": [f"[ERROR] {key} is not valid JSON"]}) from None
            else:
                params[key] = value
        return params, token

    async def _handle_upload(self, request: web.Request) -> web.StreamResponse:
        file_id = request.match_info["file_id"]
        data = await request.read()
        record = self.files.get(file_id)
        call = Call(method="upload", params={"file_id": file_id, "size": len(data)}, time=self.now())
        if record is None or not record.get("_pending"):
            call.status, call.response = 404, {"ok": False, "error": "file_not_found"}
            self.calls.append(call)
            await self.notify()
            return web.Response(status=404, text="file not found", content_type="text/plain")
        record["_content"] = data
        record["size"] = len(data)
        record["_uploaded"] = True
        call.response = {"ok": True}
        self.calls.append(call)
        await self.notify()
        return web.Response(status=200, text=f"OK - {len(data)}", content_type="text/plain")

    async def _handle_response_url(self, request: web.Request) -> web.StreamResponse:
        """A message sent to a response_url: ephemeral (default) or in_channel, or
        replacing/deleting the message an action came from; at most 5 uses in 30 minutes."""
        key = request.match_info["key"]
        call = Call(method="response_url", params={}, time=self.now(), content_type=request.content_type)
        try:
            try:
                params = json.loads(await request.read() or b"{}")
            except ValueError:
                raise SlackError("invalid_payload", status=400) from None
            call.params = params
            target = self._response_urls.get(key)
            if target is None:
                raise SlackError("no_service", status=404)
            if target["uses"] >= 5 or self.now() - target["issued"] > 30 * 60:
                raise SlackError("used_up", status=404)
            channel = self.channels.get(target["channel"])
            if channel is None:
                raise SlackError("channel_not_found", status=404)
            ephemeral = next((e for e in self.ephemerals if e["ts"] == target["message_ts"]), None)
            if _bool(params.get("delete_original", False)):
                original = self.message(channel["id"], target["message_ts"] or "") or ephemeral
                if original is None:
                    raise SlackError("message_not_found", status=404)
                original["_deleted"] = True
            else:
                try:
                    blocks = self._check_blocks("response_url", params.get("blocks"))
                    text = self._check_message_text("response_url", params, blocks)
                except SlackError as e:
                    raise SlackError(e.error, status=400) from None
                if _bool(params.get("replace_original", False)) and ephemeral is not None:
                    ephemeral.update(text=text, blocks=blocks, _replaced=True)
                elif _bool(params.get("replace_original", False)):
                    original = self.message(channel["id"], target["message_ts"] or "")
                    if original is None:
                        raise SlackError("message_not_found", status=404)
                    original["text"] = text
                    if blocks:
                        original["blocks"] = blocks
                    else:
                        original.pop("blocks", None)
                    original["edited"] = {"user": self.bot_user_id, "ts": self.new_ts()}
                    original.setdefault("_history", []).append(text)
                elif params.get("response_type") == "in_channel":
                    msg = self._bot_message(channel, text, blocks, params)
                    thread = params.get("thread_ts")
                    if thread:
                        msg["thread_ts"] = thread
                    self.messages.setdefault(channel["id"], []).append(msg)
                else:
                    self.ephemerals.append({"channel": channel["id"], "user": target["user"], "text": text,
                                            "blocks": blocks, "thread_ts": params.get("thread_ts"),
                                            "ts": self.new_ts(), "_mrkdwn": _bool(params.get("mrkdwn", True)),
                                            "_via": "response_url"})
            target["uses"] += 1
            call.response = {"ok": True}
        except SlackError as e:
            call.response, call.status = e.body(), e.status
        self.calls.append(call)
        await self.notify()
        return web.json_response(call.response, status=call.status)

    async def _handle_download(self, request: web.Request) -> web.StreamResponse:
        team_file = request.match_info["team_file"]
        file_id = team_file.split("-", 1)[-1]
        auth = request.headers.get("Authorization", "")
        record = self.files.get(file_id)
        if auth != f"Bearer {self.token}":
            # Slack answers an unauthenticated url_private with its sign-in page.
            return web.Response(status=200, text="<!DOCTYPE html><html><body>Sign in to Slack</body></html>",
                                content_type="text/html")
        if record is None or record.get("_pending"):
            return web.Response(status=404, text="Not Found", content_type="text/plain")
        return web.Response(body=record["_content"], content_type=record["mimetype"])

    # ------------------------------------------------------------------ rate limits
    def _check_rate(self, call: Call) -> None:
        """429 when a ban from an earlier 429 still runs, an injected 429 is due, or a
        window is full. Ban scopes: ("all",) for SEND_METHODS, ("method", m), and
        ("channel", c) for the per-channel methods."""
        method = call.method
        channel = self._channel_key(call.channel)
        per_channel = self.rate_limits.methods if self.rate_limits else frozenset({"chat.postMessage"})
        scopes: list[Any] = [("method", method)]
        if method in SEND_METHODS:
            scopes.append(("all",))
        if method in per_channel and channel:
            scopes.append(("channel", channel))
        now = call.time
        running = [self._bans[k] for k in scopes if k in self._bans and self._bans[k][0] - now > 0.001]
        if running:
            knew = any(conn == call.connection or now - issued > self.early_grace for _, issued, conn in running)
            if knew:
                self.early_retries += 1
                self.early_retry_calls.append(call)
            else:
                self.in_flight_during_ban += 1
            raise self._too_many(math.ceil(max(until for until, _, _ in running) - now), None, call)
        for inj in self._inject:
            remaining, retry_after, inj_channel, inj_method = inj
            if remaining <= 0:
                continue
            if inj_method is not None and inj_method != method:
                continue
            if inj_method is None and method not in SEND_METHODS:
                continue
            if inj_channel is not None and inj_channel != channel:
                continue
            inj[0] -= 1
            self._inject = [i for i in self._inject if i[0] > 0]
            if inj_channel is not None and method in per_channel:
                scope: Any = ("channel", channel)
            elif inj_method is not None or inj_channel is not None:
                scope = ("method", method)
            else:
                scope = ("all",)
            raise self._too_many(retry_after, scope, call)
        if self.rate_limits is None:
            return
        windows: list[tuple[Any, int, float]] = []
        if method in per_channel and channel:
            count, period = self.rate_limits.per_channel
            windows.append((("channel", channel), count, period * (1 - self.rate_limits.tolerance)))
        if method in per_channel and self.rate_limits.workspace is not None:
            count, period = self.rate_limits.workspace
            windows.append((("method", method), count, period * (1 - self.rate_limits.tolerance)))
        tier = self.rate_limits.tiers.get(method)
        if tier is not None:
            windows.append((("method", method), tier[0], tier[1]))
        for key, count, span in windows:
            window = self._windows.setdefault(key, deque())
            while window and now - window[0] >= span:
                window.popleft()
            if len(window) >= count:
                raise self._too_many(math.ceil(window[0] + span - now), key, call)
        for key, _, _ in windows:
            self._windows[key].append(now)

    def _channel_key(self, channel: str | None) -> str | None:
        """The channel id a ``channel`` parameter means (a user id: their DM; #name)."""
        if channel is None:
            return None
        if channel.startswith("U") and channel in self.users:
            return self.dm_id(channel)
        if channel.startswith("#"):
            return next((c["id"] for c in self.channels.values() if c.get("name") == channel[1:]), channel)
        return channel

    def _too_many(self, retry_after: int, key: Any, call: Call) -> SlackError:
        retry_after = max(1, retry_after)
        self.too_many_requests += 1
        call.retry_after = retry_after
        if key is not None:
            self._bans[key] = (call.time + retry_after, call.time, call.connection)
        return SlackError("ratelimited", status=429, headers={"Retry-After": str(retry_after)})

    # ------------------------------------------------------------------ Block Kit
    def _block_error(self, method: str, problem: str, code: str = "invalid_blocks") -> SlackError:
        self.block_errors.append((method, problem))
        return SlackError(code, errors=[problem], response_metadata={"messages": [f"[ERROR] {problem}"]})

    def _check_blocks(self, method: str, blocks: Any, *, limit: int = MAX_BLOCKS,
                      code: str = "invalid_blocks") -> list[dict[str, Any]]:
        if blocks is None:
            return []
        if not isinstance(blocks, list):
            raise self._block_error(method, "blocks must be an array", code)
        if len(blocks) > limit:
            raise self._block_error(method, f"no more than {limit} items allowed [json-pointer:/blocks]", code)
        action_ids: set[str] = set()
        block_ids: set[str] = set()
        for i, block in enumerate(blocks):
            where = f"/blocks/{i}"
            if not isinstance(block, dict) or "type" not in block:
                raise self._block_error(method, f"missing required field: type [json-pointer:{where}]", code)
            block_id = block.get("block_id")
            if block_id is not None:
                if len(str(block_id)) > MAX_BLOCK_ID or block_id in block_ids:
                    raise self._block_error(method, f"invalid or duplicate block_id [json-pointer:{where}/block_id]", code)
                block_ids.add(block_id)
            kind = block["type"]
            if kind == "section":
                text = block.get("text")
                fields = block.get("fields")
                if text is None and not fields:
                    raise self._block_error(method, f"must provide text or fields [json-pointer:{where}]", code)
                if text is not None:
                    self._check_text(method, text, MAX_SECTION_TEXT, f"{where}/text", code)
                if fields is not None:
                    if len(fields) > MAX_FIELDS:
                        raise self._block_error(method, f"no more than 10 items allowed [json-pointer:{where}/fields]", code)
                    for j, f in enumerate(fields):
                        self._check_text(method, f, MAX_FIELD_TEXT, f"{where}/fields/{j}", code)
                if block.get("accessory") is not None:
                    self._check_element(method, block["accessory"], f"{where}/accessory", action_ids, code)
            elif kind == "header":
                self._check_text(method, block.get("text"), MAX_HEADER_TEXT, f"{where}/text", code, plain=True)
            elif kind == "context":
                elements = block.get("elements") or []
                if not elements or len(elements) > MAX_CONTEXT_ELEMENTS:
                    raise self._block_error(method, f"context needs 1-10 elements [json-pointer:{where}/elements]", code)
                for j, el in enumerate(elements):
                    if el.get("type") in ("mrkdwn", "plain_text"):
                        self._check_text(method, el, MAX_SECTION_TEXT, f"{where}/elements/{j}", code)
            elif kind == "actions":
                elements = block.get("elements") or []
                if not elements or len(elements) > MAX_ACTIONS_ELEMENTS:
                    raise self._block_error(method, f"actions needs 1-25 elements [json-pointer:{where}/elements]", code)
                for j, el in enumerate(elements):
                    self._check_element(method, el, f"{where}/elements/{j}", action_ids, code)
            elif kind == "input":
                self._check_text(method, block.get("label"), MAX_LABEL, f"{where}/label", code, plain=True)
                if not isinstance(block.get("element"), dict):
                    raise self._block_error(method, f"missing required field: element [json-pointer:{where}]", code)
                self._check_element(method, block["element"], f"{where}/element", action_ids, code)
            elif kind == "image":
                if not block.get("image_url") and not block.get("slack_file") or not block.get("alt_text"):
                    raise self._block_error(method, f"image needs image_url and alt_text [json-pointer:{where}]", code)
            elif kind in ("divider", "rich_text", "file", "video", "markdown"):
                pass
            else:
                raise self._block_error(method, f"unsupported type: {kind} [json-pointer:{where}/type]", code)
        return blocks

    def _check_text(self, method: str, obj: Any, limit: int, where: str, code: str, *, plain: bool = False) -> None:
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            raise self._block_error(method, f"must be a text object [json-pointer:{where}]", code)
        allowed = ("plain_text",) if plain else ("plain_text", "mrkdwn")
        if obj.get("type") not in allowed:
            raise self._block_error(method, f"must be one of {allowed} [json-pointer:{where}/type]", code)
        if not obj["text"]:
            raise self._block_error(method, f"must be more than 0 characters [json-pointer:{where}/text]", code)
        if len(obj["text"]) > limit:
            raise self._block_error(method, f"must be less than {limit + 1} characters [json-pointer:{where}/text]", code)

    def _check_element(self, method: str, el: Any, where: str, action_ids: set[str], code: str) -> None:
        if not isinstance(el, dict) or "type" not in el:
            raise self._block_error(method, f"missing required field: type [json-pointer:{where}]", code)
        action_id = el.get("action_id")
        if action_id is not None:
            if len(str(action_id)) > MAX_ACTION_ID:
                raise self._block_error(method, f"action_id too long [json-pointer:{where}/action_id]", code)
            if action_id in action_ids:
                raise self._block_error(method, f"action_id already exists: {action_id} [json-pointer:{where}/action_id]", code)
            action_ids.add(action_id)
        kind = el["type"]
        if kind == "button":
            self._check_text(method, el.get("text"), MAX_BUTTON_TEXT, f"{where}/text", code, plain=True)
            if el.get("value") is not None and len(str(el["value"])) > MAX_BUTTON_VALUE:
                raise self._block_error(method, f"must be less than {MAX_BUTTON_VALUE + 1} characters [json-pointer:{where}/value]", code)
            if el.get("style") not in (None, "primary", "danger"):
                raise self._block_error(method, f"invalid style [json-pointer:{where}/style]", code)
            if el.get("url") is not None and len(el["url"]) > 3000:
                raise self._block_error(method, f"url too long [json-pointer:{where}/url]", code)
        elif kind in ("static_select", "radio_buttons", "checkboxes", "multi_static_select", "overflow"):
            options = el.get("options")
            groups = el.get("option_groups")
            if options is None and groups is None:
                raise self._block_error(method, f"must provide options [json-pointer:{where}]", code)
            for j, opt in enumerate(options or [o for g in groups for o in g.get("options", [])]):
                self._check_text(method, opt.get("text"), MAX_OPTION_TEXT, f"{where}/options/{j}/text", code,
                                 plain=kind != "radio_buttons" and kind != "checkboxes")
                if len(str(opt.get("value", ""))) > MAX_OPTION_VALUE or not opt.get("value"):
                    raise self._block_error(method, f"option value must be 1-150 characters [json-pointer:{where}/options/{j}/value]", code)
            if options is not None and len(options) > MAX_OPTIONS:
                raise self._block_error(method, f"no more than 100 options [json-pointer:{where}/options]", code)
        elif kind in ("plain_text_input", "datepicker", "timepicker", "users_select", "conversations_select",
                      "channels_select", "external_select", "number_input", "email_text_input", "url_text_input",
                      "file_input", "image", "multi_users_select", "rich_text_input", "datetimepicker"):
            pass
        else:
            raise self._block_error(method, f"unsupported element type: {kind} [json-pointer:{where}/type]", code)

    def _check_message_text(self, method: str, params: dict[str, Any], blocks: list[dict[str, Any]]) -> str:
        text = params.get("text")
        text = "" if text is None else str(text)
        if not text and not blocks and not params.get("attachments"):
            raise SlackError("no_text")
        if len(text) > MAX_MESSAGE_TEXT:
            self.block_errors.append((method, f"text of {len(text)} characters"))
            raise SlackError("msg_too_long")
        return text

    def _check_view(self, method: str, view: Any) -> dict[str, Any]:
        code = "invalid_arguments"
        if not isinstance(view, dict):
            raise self._block_error(method, "view must be an object", code)
        kind = view.get("type")
        if kind not in ("modal", "home"):
            raise self._block_error(method, "view type must be modal or home [json-pointer:/view/type]", code)
        if kind == "modal":
            for key in ("title", "submit", "close"):
                if key in view or key == "title":
                    self._check_text(method, view.get(key), MAX_VIEW_TITLE, f"/view/{key}", code, plain=True)
        blocks = self._check_blocks(method, view.get("blocks"), limit=MAX_VIEW_BLOCKS, code=code)
        if kind == "modal" and any(b["type"] == "input" for b in blocks) and "submit" not in view:
            raise self._block_error(method, "a modal with inputs needs submit [json-pointer:/view/submit]", code)
        if len(str(view.get("private_metadata") or "")) > MAX_PRIVATE_METADATA:
            raise self._block_error(method, "private_metadata too long [json-pointer:/view/private_metadata]", code)
        if len(str(view.get("callback_id") or "")) > 255:
            raise self._block_error(method, "callback_id too long [json-pointer:/view/callback_id]", code)
        return view

    # ------------------------------------------------------------------ methods
    def _channel(self, params: dict[str, Any], key: str = "channel", *, post: bool = False) -> dict[str, Any]:
        channel_id = str(params.get(key) or "")
        if not channel_id:
            raise SlackError("channel_not_found")
        if channel_id.startswith("#"):  # chat.postMessage also takes a channel's name
            channel_id = next((c["id"] for c in self.channels.values() if c.get("name") == channel_id[1:]), "")
        if channel_id.startswith("U") and post:
            if channel_id not in self.users:
                raise SlackError("channel_not_found")
            channel_id = self.dm(channel_id)["id"]
        channel = self.channels.get(channel_id)
        if channel is None:
            raise SlackError("channel_not_found")
        if post:
            if channel.get("is_archived"):
                raise SlackError("is_archived")
            if channel.get("is_im"):
                if self.users.get(channel["user"], {}).get("deleted"):
                    raise SlackError("account_inactive")
            elif self.bot_user_id not in self.members.get(channel_id, set()):
                raise SlackError("not_in_channel")
        return channel

    def _m_auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": f"https://{self.team_domain}.slack.com/", "team": "Desk Fake", "user": "deskbot",
                "team_id": self.team_id, "user_id": self.bot_user_id, "bot_id": self.bot_id,
                "is_enterprise_install": False}

    def _bot_message(self, channel: dict[str, Any], text: str, blocks: list[dict[str, Any]],
                     params: dict[str, Any]) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "type": "message", "user": self.bot_user_id, "bot_id": self.bot_id, "app_id": self.app_id,
            "text": text, "ts": self.new_ts(), "team": self.team_id,
            "bot_profile": {"id": self.bot_id, "app_id": self.app_id, "name": "deskbot", "deleted": False,
                            "team_id": self.team_id},
        }
        if blocks:
            msg["blocks"] = blocks
        if params.get("attachments"):
            msg["attachments"] = params["attachments"]
        if params.get("metadata"):
            msg["metadata"] = params["metadata"]
        msg["_channel"] = channel["id"]
        msg["_history"] = [text]
        msg["_mrkdwn"] = _bool(params.get("mrkdwn", True))
        return msg

    def _thread_root(self, channel: dict[str, Any], thread_ts: Any) -> str | None:
        if thread_ts in (None, ""):
            return None
        root = self.message(channel["id"], str(thread_ts))
        if root is None:
            raise SlackError("thread_not_found")
        # A reply to a reply goes to the same thread.
        return str(root.get("thread_ts") or root["ts"])

    def _m_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params, post=True)
        blocks = self._check_blocks("chat.postMessage", params.get("blocks"))
        text = self._check_message_text("chat.postMessage", params, blocks)
        thread = self._thread_root(channel, params.get("thread_ts"))
        msg = self._bot_message(channel, text, blocks, params)
        if thread is not None:
            msg["thread_ts"] = thread
            msg["parent_user_id"] = (self.message(channel["id"], thread) or {}).get("user")
            root = self.message(channel["id"], thread)
            if root is not None:
                root["reply_count"] = root.get("reply_count", 0) + 1
                root.setdefault("thread_ts", thread)
        self.messages.setdefault(channel["id"], []).append(msg)
        self._echo(channel, msg)
        return {"channel": channel["id"], "ts": msg["ts"], "message": _public(msg)}

    def _echo(self, channel: dict[str, Any], msg: dict[str, Any]) -> None:
        if not self.echo_bot_messages or not (self.request_url or self._sockets):
            return
        event = {**_public(msg), "channel": channel["id"], "event_ts": msg["ts"],
                 "channel_type": "im" if channel.get("is_im") else ("group" if channel.get("is_private") else "channel")}
        task = asyncio.get_running_loop().create_task(self.post_event(event))
        self._echo_tasks.add(task)
        task.add_done_callback(self._echo_tasks.discard)

    def _m_chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        if channel.get("is_archived"):
            raise SlackError("is_archived")
        msg = self.message(channel["id"], str(params.get("ts") or ""))
        if msg is None or msg.get("_deleted"):
            raise SlackError("message_not_found")
        if msg.get("bot_id") != self.bot_id:
            raise SlackError("cant_update_message")
        blocks = self._check_blocks("chat.update", params.get("blocks")) if "blocks" in params else msg.get("blocks", [])
        if "text" in params or blocks:
            text = self._check_message_text("chat.update", {**params, "text": params.get("text", msg["text"])}, blocks)
        else:
            text = msg["text"]
        msg["text"] = text
        if blocks:
            msg["blocks"] = blocks
        else:
            msg.pop("blocks", None)
        msg["edited"] = {"user": self.bot_user_id, "ts": self.new_ts()}
        msg["_history"].append(text)
        return {"channel": channel["id"], "ts": msg["ts"], "text": text, "message": _public(msg)}

    def _m_chat_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        msg = self.message(channel["id"], str(params.get("ts") or ""))
        if msg is None or msg.get("_deleted"):
            raise SlackError("message_not_found")
        if msg.get("bot_id") != self.bot_id:
            raise SlackError("cant_delete_message")
        msg["_deleted"] = True
        return {"channel": channel["id"], "ts": msg["ts"]}

    def _m_chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params, post=True)
        user = str(params.get("user") or "")
        if user not in self.users:
            raise SlackError("user_not_found")
        if user not in self.members.get(channel["id"], set()):
            raise SlackError("user_not_in_channel")
        blocks = self._check_blocks("chat.postEphemeral", params.get("blocks"))
        text = self._check_message_text("chat.postEphemeral", params, blocks)
        ts = self.new_ts()
        self.ephemerals.append({"channel": channel["id"], "user": user, "text": text, "blocks": blocks,
                                "thread_ts": params.get("thread_ts"), "ts": ts,
                                "_mrkdwn": _bool(params.get("mrkdwn", True))})
        return {"message_ts": ts}

    def _m_chat_getPermalink(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        ts = str(params.get("message_ts") or "")
        if self.message(channel["id"], ts) is None:
            raise SlackError("message_not_found")
        return {"channel": channel["id"],
                "permalink": f"https://{self.team_domain}.slack.com/archives/{channel['id']}/p{ts.replace('.', '')}"}

    def _m_conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("channel"):
            return {"channel": {"id": self._channel(params)["id"]}, "no_op": True, "already_open": True}
        users = [u for u in str(params.get("users") or "").split(",") if u]
        if not users:
            raise SlackError("users_list_not_supplied")
        if len(users) > 1:
            raise SlackError("not_supported", detail="the fake opens 1:1 DMs only")
        user = self.users.get(users[0])
        if user is None:
            raise SlackError("user_not_found")
        if user["deleted"]:
            raise SlackError("user_disabled")
        existed = self.dm_id(users[0]) in self.channels
        channel = self.dm(users[0])
        out: dict[str, Any] = {"channel": {"id": channel["id"]}}
        if existed:
            out.update(no_op=True, already_open=True)
        if _bool(params.get("return_im", False)):
            out["channel"] = dict(channel)
        return out

    def _history(self, channel: dict[str, Any], params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.bot_user_id not in self.members.get(channel["id"], set()):
            raise SlackError("not_in_channel")
        keep_metadata = _bool(params.get("include_all_metadata", False))
        out = []
        for m in self.messages.get(channel["id"], []):
            if m.get("_deleted"):
                continue
            shown = _public(m)
            if not keep_metadata:
                shown.pop("metadata", None)
            out.append(shown)
        return out

    def _m_conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        """Top-level messages, newest first (``limit``, ``oldest``, ``latest``)."""
        channel = self._channel(params)
        msgs = [m for m in self._history(channel, params) if m.get("thread_ts") in (None, m["ts"])]
        msgs = [m for m in msgs if float(m["ts"]) >= float(params.get("oldest") or 0)
                and float(m["ts"]) <= float(params.get("latest") or 1e12)]
        msgs.reverse()
        limit = int(params.get("limit") or 100)
        return {"messages": msgs[:limit], "has_more": len(msgs) > limit, "pin_count": 0,
                "response_metadata": {"next_cursor": ""}}

    def _m_conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        """A thread: the root first, then its replies, oldest first."""
        channel = self._channel(params)
        ts = str(params.get("ts") or "")
        root = self.message(channel["id"], ts)
        if root is None:
            raise SlackError("thread_not_found")
        thread = str(root.get("thread_ts") or root["ts"])
        msgs = [m for m in self._history(channel, params) if m["ts"] == thread or m.get("thread_ts") == thread]
        msgs = [m for m in msgs if float(m["ts"]) >= float(params.get("oldest") or 0)]
        limit = int(params.get("limit") or 1000)
        return {"messages": msgs[:limit], "has_more": len(msgs) > limit,
                "response_metadata": {"next_cursor": ""}}

    def _m_conversations_join(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        if channel.get("is_im") or channel.get("is_private"):
            raise SlackError("method_not_supported_for_channel_type")
        if channel.get("is_archived"):
            raise SlackError("is_archived")
        already = self.bot_user_id in self.members.get(channel["id"], set())
        self.join(channel["id"], self.bot_user_id)
        out: dict[str, Any] = {"channel": dict(channel)}
        if already:
            out["warning"] = "already_in_channel"
            out["response_metadata"] = {"warnings": ["already_in_channel"]}
        return out

    def _m_conversations_members(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        return {"members": sorted(self.members.get(channel["id"], set())),
                "response_metadata": {"next_cursor": ""}}

    def _m_users_lookupByEmail(self, params: dict[str, Any]) -> dict[str, Any]:
        email = str(params.get("email") or "").lower()
        for user in self.users.values():
            if str(user["profile"].get("email", "")).lower() == email and email:
                return {"user": json.loads(json.dumps(user))}
        raise SlackError("users_not_found")

    def _m_reactions_remove(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        msg = self.message(channel["id"], str(params.get("timestamp") or ""))
        if msg is None:
            raise SlackError("message_not_found")
        name = str(params.get("name") or "").strip(":")
        entry = next((r for r in msg.get("reactions", []) if r["name"] == name), None)
        if entry is None or self.bot_user_id not in entry["users"]:
            raise SlackError("no_reaction")
        entry["users"].remove(self.bot_user_id)
        entry["count"] -= 1
        if not entry["users"]:
            msg["reactions"].remove(entry)
        return {}

    def _m_conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        return {"channel": dict(channel)}

    def _m_users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(params.get("user") or ""))
        if user is None:
            raise SlackError("user_not_found")
        out = json.loads(json.dumps(user))
        if not _bool(params.get("include_locale", False)):
            out.pop("locale", None)
        return {"user": out}

    def _take_trigger(self, params: dict[str, Any]) -> str:
        trigger_id = str(params.get("trigger_id") or params.get("interactivity_pointer") or "")
        trigger = self.triggers.get(trigger_id)
        if trigger is None:
            raise SlackError("invalid_trigger_id")
        if trigger["used"] or self.now() - trigger["issued"] > TRIGGER_TTL:
            raise SlackError("expired_trigger_id")
        trigger["used"] = True
        return str(trigger["user"])

    def _store_view(self, view: dict[str, Any], *, user: str, view_id: str | None = None,
                    root: str | None = None, previous: str | None = None) -> dict[str, Any]:
        view_id = view_id or self.new_id("V")
        stored = {
            "id": view_id, "team_id": self.team_id, "type": view["type"],
            "title": view.get("title"), "submit": view.get("submit"), "close": view.get("close"),
            "blocks": view.get("blocks", []), "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""), "external_id": view.get("external_id", ""),
            "state": {"values": {}}, "hash": f"{int(time.time())}.{next(self._id_seq):08x}",
            "clear_on_close": bool(view.get("clear_on_close")), "notify_on_close": bool(view.get("notify_on_close")),
            "root_view_id": root or view_id, "previous_view_id": previous, "app_id": self.app_id,
            "bot_id": self.bot_id, "_user": user, "_history": [view],
        }
        old = self.views.get(view_id)
        if old is not None:
            stored["_history"] = old["_history"] + [view]
            stored["root_view_id"] = old["root_view_id"]
            stored["previous_view_id"] = old["previous_view_id"]
        self.views[view_id] = stored
        return stored

    def _m_views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        view = self._check_view("views.open", params.get("view"))
        if view["type"] != "modal":
            raise SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] views.open needs a modal"]})
        user = self._take_trigger(params)
        stored = self._store_view(view, user=user)
        self.modal_stack[user] = [stored["id"]]
        return {"view": _public(stored)}

    def _m_views_push(self, params: dict[str, Any]) -> dict[str, Any]:
        view = self._check_view("views.push", params.get("view"))
        user = self._take_trigger(params)
        stack = self.modal_stack.get(user) or []
        if not stack:
            raise SlackError("not_found")
        if len(stack) >= 3:
            raise SlackError("push_limit_reached")
        stored = self._store_view(view, user=user, root=stack[0], previous=stack[-1])
        stack.append(stored["id"])
        return {"view": _public(stored)}

    def _m_views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        view = self._check_view("views.update", params.get("view"))
        view_id = params.get("view_id")
        if not view_id and params.get("external_id"):
            view_id = next((v["id"] for v in self.views.values() if v["external_id"] == params["external_id"]), None)
        current = self.views.get(str(view_id or ""))
        if current is None:
            raise SlackError("not_found")
        if params.get("hash") and params["hash"] != current["hash"]:
            raise SlackError("hash_conflict")
        stored = self._store_view(view, user=current["_user"], view_id=current["id"])
        return {"view": _public(stored)}

    def _m_views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        view = self._check_view("views.publish", params.get("view"))
        if view["type"] != "home":
            raise SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] views.publish needs a home view"]})
        user = str(params.get("user_id") or "")
        if user not in self.users:
            raise SlackError("user_not_found")
        current = self.home.get(user)
        if current is not None and params.get("hash") and params["hash"] != current["hash"]:
            raise SlackError("hash_conflict")
        stored = self._store_view(view, user=user, view_id=current["id"] if current else None)
        self.home[user] = stored
        return {"view": _public(stored)}

    def _m_reactions_add(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        if channel.get("is_archived"):
            raise SlackError("is_archived")
        msg = self.message(channel["id"], str(params.get("timestamp") or ""))
        if msg is None:
            raise SlackError("message_not_found")
        name = str(params.get("name") or "").strip(":")
        if not re.fullmatch(r"[a-z0-9_+\-']+", name):
            raise SlackError("invalid_name")
        reactions = msg.setdefault("reactions", [])
        entry = next((r for r in reactions if r["name"] == name), None)
        if entry is None:
            entry = {"name": name, "users": [], "count": 0}
            reactions.append(entry)
        if self.bot_user_id in entry["users"]:
            raise SlackError("already_reacted")
        entry["users"].append(self.bot_user_id)
        entry["count"] += 1
        return {}

    def _m_files_getUploadURLExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        name = str(params.get("filename") or "")
        try:
            length = int(params.get("length") or 0)
        except ValueError:
            length = 0
        if not name or length <= 0:
            raise SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] filename and length are required"]})
        if length > 1024 * 1024 * 1024:
            raise SlackError("file_too_large")
        record = self.add_file(name, b"", mimetype=None)
        record["_pending"] = True
        record["_length"] = length
        record["alt_txt"] = params.get("alt_txt")
        return {"upload_url": f"{self.origin}/upload/v1/{record['id']}", "file_id": record["id"]}

    def _m_files_completeUploadExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        entries = params.get("files")
        if not isinstance(entries, list) or not entries:
            raise SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] files is required"]})
        records = []
        for entry in entries:
            record = self.files.get(str(entry.get("id") or ""))
            if record is None or not record.get("_pending"):
                raise SlackError("file_not_found")
            if not record.get("_uploaded"):
                raise SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] file was not uploaded"]})
            if record["size"] != record["_length"]:
                raise SlackError("invalid_arguments",
                                 response_metadata={"messages": ["[ERROR] uploaded size differs from length"]})
            records.append((record, entry))
        channel = None
        thread = None
        if params.get("channel_id") or params.get("channels"):
            channel = self._channel({"channel": params.get("channel_id") or str(params["channels"]).split(",")[0]},
                                    post=True)
            thread = self._thread_root(channel, params.get("thread_ts"))
        out = []
        for record, entry in records:
            record["_pending"] = False
            if entry.get("title"):
                record["title"] = entry["title"]
            out.append({k: v for k, v in record.items() if not k.startswith("_")})
        if channel is not None:
            msg = self._bot_message(channel, str(params.get("initial_comment") or ""), [], {})
            msg["files"] = [dict(f) for f in out]
            msg["upload"] = True
            if thread is not None:
                msg["thread_ts"] = thread
            self.messages.setdefault(channel["id"], []).append(msg)
            for record, _ in records:
                key = "ims" if channel.get("is_im") else ("groups" if channel.get("is_private") else "channels")
                record[key].append(channel["id"])
                record["shares"].setdefault("private" if channel.get("is_private") or channel.get("is_im")
                                            else "public", {})[channel["id"]] = [
                    {"ts": msg["ts"], **({"thread_ts": thread} if thread else {})}]
        return {"files": out}

    def _m_files_upload(self, params: dict[str, Any]) -> dict[str, Any]:
        # Slack retired files.upload (use files_upload_v2: getUploadURLExternal + complete).
        raise SlackError("method_deprecated")

    def _m_files_info(self, params: dict[str, Any]) -> dict[str, Any]:
        record = self.files.get(str(params.get("file") or ""))
        if record is None or record.get("_pending"):
            raise SlackError("file_not_found")
        return {"file": {k: v for k, v in record.items() if not k.startswith("_")}}

    def _m_apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        ticket = hashlib.sha1(f"{time.time()}{next(self._id_seq)}".encode()).hexdigest()
        self._tickets.add(ticket)
        return {"url": f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={self.app_id}"}

    # ------------------------------------------------------------------ Socket Mode
    @property
    def socket_connected(self) -> bool:
        return any(not ws.closed for ws in self._sockets)

    async def _handle_socket(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            return web.Response(status=401, text="invalid ticket")
        self._tickets.discard(ticket)  # a URL is good for one connection
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        self.socket_connections += 1
        await ws.send_json({"type": "hello", "num_connections": len(self._sockets),
                            "debug_info": {"host": "fake-slack", "approximate_connection_time": 18060},
                            "connection_info": {"app_id": self.app_id}})
        await self.notify()
        try:
            async for msg in ws:
                if msg.type != web.WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(msg.data)
                except ValueError:
                    continue
                future = self._acks.pop(str(data.get("envelope_id")), None)
                if future is not None and not future.done():
                    future.set_result(data)
        finally:
            self._sockets = [s for s in self._sockets if s is not ws]
            await self.notify()
        return ws

    async def disconnect_sockets(self, reason: str = "refresh_requested") -> None:
        """Slack's ``disconnect`` message: the client is expected to reconnect."""
        for ws in list(self._sockets):
            if not ws.closed:
                await ws.send_json({"type": "disconnect", "reason": reason,
                                    "debug_info": {"host": "fake-slack"}})

    async def wait_socket(self, timeout: float = 5.0) -> None:
        """Wait until the app holds a Socket Mode connection."""
        try:
            await self.wait_for(lambda: self.socket_connected, timeout)
        except TimeoutError:
            raise AssertionError("no request_url set and no Socket Mode connection: set "
                                 "fake.request_url (HTTP) or start the app with the app token") from None

    async def _post_socket(self, post: InboundPost, ack_timeout: float) -> None:
        """Deliver one request as a Socket Mode envelope and wait for its ack."""
        content_type = post.headers["Content-Type"]
        text = post.body.decode()
        if content_type.startswith("application/json"):
            envelope_type, payload = "events_api", json.loads(text)
        else:
            form = dict(parse_qsl(text, keep_blank_values=True))
            if "payload" in form:
                envelope_type, payload = "interactive", json.loads(form["payload"])
            else:
                envelope_type, payload = "slash_commands", form
        if payload.get("type") == "url_verification":
            raise AssertionError("url_verification is not sent over Socket Mode")
        envelope_id = f"{next(self._id_seq):08x}-fake-envelope"
        envelope: dict[str, Any] = {"envelope_id": envelope_id, "payload": payload, "type": envelope_type,
                                    "accepts_response_payload": envelope_type != "events_api"}
        if envelope_type == "events_api":
            envelope["retry_attempt"] = post.retry_num
            envelope["retry_reason"] = post.headers.get("X-Slack-Retry-Reason", "")
        post.transport = "socket"
        post.envelope_id = envelope_id
        await self.wait_socket()
        ws = next(s for s in self._sockets if not s.closed)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acks[envelope_id] = future
        started = time.monotonic()
        await ws.send_json(envelope)
        try:
            ack = await asyncio.wait_for(future, ack_timeout)
        except TimeoutError:
            post.error = "no ack"
            self._acks.pop(envelope_id, None)
        else:
            post.status = 200
            post.content_type = "application/json"
            post.response_text = json.dumps(ack["payload"]) if ack.get("payload") is not None else ""
        post.elapsed = time.monotonic() - started

    # ------------------------------------------------------------------ inbound: Slack → app
    async def _client_session(self) -> ClientSession:
        if self._client is None or self._client.closed:
            # Slack stops waiting after 3 s; 10 s keeps a hung app from stalling a test long.
            self._client = ClientSession(timeout=ClientTimeout(total=10))
        return self._client

    async def post_raw(self, body: bytes, content_type: str, *, kind: str, sign_mode: str = "right",
                       timestamp: int | None = None, retry_num: int = 0, retry_reason: str = "http_timeout",
                       event_id: str | None = None, url: str | None = None,
                       ack_timeout: float = ACK_DEADLINE + 2) -> InboundPost:
        """POST ``body`` to the app as Slack does. ``sign_mode``: "right", "wrong" (a bad
        signature), "none" (no signature headers); ``timestamp`` (default now) for old
        requests; ``retry_num`` > 0 adds X-Slack-Retry-Num/-Reason.

        Without ``request_url`` (and ``url``) the request goes over Socket Mode instead:
        as an envelope on the app's websocket (waiting for it to connect), and the post
        counts as 200 when the app acks it within ``ack_timeout``."""
        target = url or self.request_url
        ts = str(int(time.time()) if timestamp is None else timestamp)
        headers = {"Content-Type": content_type, "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)"}
        if sign_mode == "right":
            headers["X-Slack-Request-Timestamp"] = ts
            headers["X-Slack-Signature"] = sign(self.signing_secret, ts, body)
        elif sign_mode == "wrong":
            headers["X-Slack-Request-Timestamp"] = ts
            headers["X-Slack-Signature"] = sign(self.signing_secret + "-wrong", ts, body)
        elif sign_mode != "none":
            raise ValueError(sign_mode)
        if retry_num:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = retry_reason
        post = InboundPost(kind=kind, body=body, headers=headers, status=None, event_id=event_id,
                           retry_num=retry_num, sent_at=self.now())
        if not target:
            await self._post_socket(post, ack_timeout)
        else:
            session = await self._client_session()
            started = time.monotonic()
            try:
                async with session.post(target, data=body, headers=headers) as resp:
                    post.status = resp.status
                    post.content_type = resp.content_type
                    post.response_text = await resp.text()
            except Exception as e:  # connection refused, reset, timeout
                post.error = f"{type(e).__name__}: {e}"
            post.elapsed = time.monotonic() - started
        self.posts.append(post)
        if kind == "view_submission" and post.ok:
            self._apply_view_ack(post)
        if kind == "command" and post.ok:
            self._apply_command_ack(post)
        await self.notify()
        return post

    def envelope(self, event: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
        """The Events API ``event_callback`` wrapper Slack puts around an event."""
        return {
            "token": self.verification_token, "team_id": self.team_id, "context_team_id": self.team_id,
            "api_app_id": self.app_id, "event": event, "type": "event_callback",
            "event_id": event_id or self.new_id("Ev"), "event_time": int(time.time()),
            "authorizations": [{"enterprise_id": None, "team_id": self.team_id, "user_id": self.bot_user_id,
                                "is_bot": True, "is_enterprise_install": False}],
            "is_ext_shared_channel": False,
        }

    async def post_event(self, event: dict[str, Any], *, event_id: str | None = None,
                         retries: int | None = None, retry_delay: float | None = None,
                         **options: Any) -> InboundPost:
        """POST one Events API callback (``event`` wrapped in its envelope). With
        ``retries`` (default ``self.event_retries``, 0) a failed delivery — no 2xx, no
        connection, or later than 3 s — is sent again like Slack does, with
        X-Slack-Retry-Num and the same event_id, ``retry_delay`` apart; the last
        attempt's post is returned (all of them are in ``posts``)."""
        envelope = self.envelope(event, event_id=event_id)
        body = json.dumps(envelope, ensure_ascii=False).encode()
        post = await self.post_raw(body, "application/json", kind="event_callback",
                                   event_id=envelope["event_id"], **options)
        left = self.event_retries if retries is None else retries
        delay = self.event_retry_delay if retry_delay is None else retry_delay
        while left > 0 and (not post.ok or post.late):
            left -= 1
            await asyncio.sleep(delay)  # Slack's back-off between attempts, not test synchronisation
            reason = "http_timeout" if post.late else ("http_error" if post.status else "unknown_error")
            post = await self.post_raw(body, "application/json", kind="event_callback",
                                       event_id=envelope["event_id"], retry_num=post.retry_num + 1,
                                       retry_reason=reason, **options)
        return post

    async def redeliver(self, post: InboundPost, times: int = 1, *, reason: str = "http_timeout",
                        **options: Any) -> list[InboundPost]:
        """Slack's retries of an event: the same body (same event_id), re-signed, with
        X-Slack-Retry-Num 1..times."""
        out = []
        for n in range(1, times + 1):
            out.append(await self.post_raw(post.body, post.headers["Content-Type"], kind=post.kind,
                                           event_id=post.event_id, retry_num=post.retry_num + n,
                                           retry_reason=reason, **options))
        return out

    async def url_verification(self, challenge: str = "fake-challenge-3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", **options: Any) -> InboundPost:
        body = json.dumps({"token": self.verification_token, "challenge": challenge,
                           "type": "url_verification"}).encode()
        return await self.post_raw(body, "application/json", kind="url_verification", **options)

    async def post_command(self, user_id: str, command: str, text: str = "", *, channel_id: str | None = None,
                           trigger_id: str | None = None, **options: Any) -> InboundPost:
        """A slash command as Slack POSTs it (form-encoded, with a fresh trigger_id)."""
        channel = self.channels.get(channel_id) if channel_id else self.dm(user_id)
        assert channel is not None, f"no channel {channel_id}"
        form = {
            "token": self.verification_token, "team_id": self.team_id, "team_domain": self.team_domain,
            "channel_id": channel["id"], "channel_name": "directmessage" if channel.get("is_im") else channel["name"],
            "user_id": user_id, "user_name": self.users[user_id]["name"], "command": command, "text": text,
            "api_app_id": self.app_id, "is_enterprise_install": "false",
            "response_url": self.new_response_url(user_id, channel["id"]),
            "trigger_id": trigger_id or self.new_trigger(user_id),
        }
        body = urlencode(form).encode()
        return await self.post_raw(body, "application/x-www-form-urlencoded", kind="command", **options)

    async def post_interaction(self, payload: dict[str, Any], **options: Any) -> InboundPost:
        """An interactivity payload (block_actions, view_submission, message_action, ...)
        as Slack POSTs it: form field ``payload`` holding the JSON."""
        body = urlencode({"payload": json.dumps(payload, ensure_ascii=False)}).encode()
        return await self.post_raw(body, "application/x-www-form-urlencoded", kind=str(payload["type"]), **options)

    def user_ref(self, user_id: str) -> dict[str, Any]:
        user = self.users[user_id]
        return {"id": user_id, "username": user["name"], "name": user["name"], "team_id": self.team_id}

    def team_ref(self) -> dict[str, Any]:
        return {"id": self.team_id, "domain": self.team_domain}

    def _apply_command_ack(self, post: InboundPost) -> None:
        """A slash command's ack with a body is shown as Slack shows it: a message to the
        user only (default) or to the channel (``response_type: in_channel``)."""
        if not post.response_text.strip():
            return
        form = post.payload
        ack = post.response_json
        if not isinstance(ack, dict):
            ack = {"text": post.response_text}
        channel = self.channels.get(form["channel_id"])
        try:
            blocks = self._check_blocks("command ack", ack.get("blocks"))
            text = self._check_message_text("command ack", ack, blocks)
        except SlackError as e:
            self.bad_acks.append((post, e.error))
            return
        if ack.get("response_type") == "in_channel" and channel is not None:
            msg = self._bot_message(channel, text, blocks, ack)
            self.messages.setdefault(channel["id"], []).append(msg)
        else:
            self.ephemerals.append({"channel": form["channel_id"], "user": form["user_id"], "text": text,
                                    "blocks": blocks, "thread_ts": None, "ts": self.new_ts(),
                                    "_mrkdwn": _bool(ack.get("mrkdwn", True)), "_via": "ack"})

    def _apply_view_ack(self, post: InboundPost) -> None:
        """What Slack does with a view_submission's ack: no body closes the modal; errors
        keep it open (recorded on the view); update/push/clear change the stack."""
        payload = post.payload
        view_id = payload["view"]["id"]
        user = payload["user"]["id"]
        view = self.views.get(view_id)
        ack = post.response_json
        stack = self.modal_stack.get(user, [])
        action = ack.get("response_action") if isinstance(ack, dict) else None
        if view is not None:
            view["_last_ack"] = ack
        if action == "errors":
            errors = ack.get("errors") if isinstance(ack.get("errors"), dict) else {}
            inputs = {b.get("block_id") for b in (view or {}).get("blocks", []) if b.get("type") == "input"}
            unknown = sorted(set(errors) - inputs)
            if not errors or unknown:
                # Slack shows "We had some trouble connecting" and no field errors.
                self.bad_acks.append((post, f"errors for blocks that are not inputs: {unknown}"))
                return
            if view is not None:
                view["_errors"] = errors
            return
        if action == "update" and view is not None:
            try:
                self._store_view(self._check_view("view_submission ack", ack.get("view")), user=user, view_id=view_id)
            except SlackError as e:
                self.bad_acks.append((post, e.error))
            return
        if action == "push":
            try:
                new = self._store_view(self._check_view("view_submission ack", ack.get("view")), user=user,
                                       root=stack[0] if stack else None, previous=view_id)
                stack.append(new["id"])
            except SlackError as e:
                self.bad_acks.append((post, e.error))
            return
        if action is not None and action != "clear":
            self.bad_acks.append((post, f"unknown response_action {action!r}"))
            return
        if action == "clear":
            self.modal_stack[user] = []
            return
        if view_id in stack:
            self.modal_stack[user] = stack[: stack.index(view_id)]


def _public(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if not k.startswith("_")}


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("true", "1")


def _tz_offset(tz: str) -> int:
    try:
        from datetime import datetime
        from zoneinfo import ZoneInfo

        offset = datetime.now(ZoneInfo(tz)).utcoffset()
        return int(offset.total_seconds()) if offset else 0
    except Exception:
        return 0


def _guess_mime(name: str) -> str:
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif",
            "pdf": "application/pdf", "txt": "text/plain", "mp4": "video/mp4",
            "ogg": "audio/ogg"}.get(ext, "application/octet-stream")


_SPECIAL = re.compile(r"<([^<>]*)>")
# *bold*, _italic_, ~strike~ and `code` as a client shows them: the markers disappear
# when they open after a non-word character and close before one.
_FORMATTING = [re.compile(rf"(?<![\w{m}]){re.escape(m)}(?=\S)([^{m}\n]*?\S){re.escape(m)}(?![\w{m}])")
               for m in ("*", "_", "~", "`")]


def render_mrkdwn(text: str, users: dict[str, dict[str, Any]] | None = None,
                  channels: dict[str, dict[str, Any]] | None = None) -> tuple[str, list[str], list[str]]:
    """What a Slack client shows for mrkdwn ``text``: ``(shown, mentions, links)``.

    ``<!channel>`` → "@channel" (a mention), ``<@U1>`` → "@name" (a mention), ``<url|label>``
    → "label" (a link), ``*bold*`` / ``_italic_`` / ``~strike~`` / ```code``` lose their
    markers, then ``&lt;`` ``&gt;`` ``&amp;`` are decoded. Text the app escaped
    properly comes out literally with no mentions and no links.
    """
    mentions: list[str] = []
    links: list[str] = []

    def replace(m: re.Match[str]) -> str:
        inner = m.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("!"):
            mentions.append(target)
            name = target[1:].split("^")[0]
            return label or f"@{name}"
        if target.startswith("@"):
            mentions.append(target)
            user = (users or {}).get(target[1:])
            return label or "@" + (user["profile"]["display_name"] if user else target[1:])
        if target.startswith("#"):
            channel = (channels or {}).get(target[1:])
            return label or "#" + (channel.get("name", target[1:]) if channel else target[1:])
        links.append(target)
        return label or target

    shown = _SPECIAL.sub(replace, text)
    for pattern in _FORMATTING:
        shown = pattern.sub(r"\1", shown)
    shown = shown.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return shown, mentions, links


__all__ = [
    "Call",
    "FakeSlack",
    "InboundPost",
    "RateLimits",
    "SlackError",
    "render_mrkdwn",
    "sign",
]
