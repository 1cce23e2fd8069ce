"""The Slack frontend: one bolt ``AsyncApp``, served over HTTP or Socket Mode.

``deskbot run`` builds it from the config, passes :attr:`SlackFrontend.sender` to
:func:`bot.app.build`, binds the built app, mounts :meth:`routes` (``POST /slack/events``:
the Events API, interactivity and slash commands on one URL) on its HTTP server and calls
:meth:`start` (``auth.test``; Socket Mode connects when ``slack.app_token`` is set).

Nothing acknowledged is lost
----------------------------
Slack wants an answer within 3 s and redelivers an event that got none or a non-2xx
(``X-Slack-Retry-Num``, the same ``event_id``). The app runs with
``process_before_response=True``: every listener calls ``ack()`` first, but bolt only
records it and sends the response once the listener returned — after the engine's
transaction (with the event's inbox row) committed. So a crash after ``ack()`` loses
nothing: Slack never saw the 200 and sends the event again, and it is handled then. A
listener that raises is answered 500 (redelivered); a redelivery of an event already
committed finds its key (``slack:<team>:<event_id>``, see :mod:`bot.slack.translate`)
in the inbox and has no effect. The engine's work is a few database statements, well
within the 3 s. Socket Mode is the same: the envelope is acknowledged with bolt's
response, after the listener returned.

Authenticity: bolt's request verification checks ``X-Slack-Signature`` (HMAC-SHA256 of
``v0:<timestamp>:<body>`` with the signing secret) and rejects a
``X-Slack-Request-Timestamp`` more than 5 minutes away — 401, and no listener runs, so
nothing is stored.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Config
from bot.slack.handoff import Handoff
from bot.slack.listeners import register

if TYPE_CHECKING:
    from bot.app import App
    from bot.delivery import Sender

log = logging.getLogger("deskbot.slack")

PATH = "/slack/events"


def _secret(value: Any) -> str:
    getter = getattr(value, "get_secret_value", None)
    return str(getter() if getter is not None else (value or ""))


def api_base(url: str) -> str:
    return url if url.endswith("/") else url + "/"


class SlackFrontend:
    platform = "slack"
    runner_only = False  # events arrive by HTTP (or Socket Mode, which any process may hold)
    registers = False  # the request URL is set in the Slack app's settings, not by the bot

    def __init__(self, config: Config, *, sender: Sender | None = None, desk: Handoff | None = None) -> None:
        sl = config.slack
        self.config = config
        token = _secret(sl.bot_token)
        self.app_token = _secret(sl.app_token)
        self.client = AsyncWebClient(token=token, base_url=api_base(sl.api_base))
        self.bolt = AsyncApp(token=token, signing_secret=_secret(sl.signing_secret), client=self.client,
                             process_before_response=True, logger=logging.getLogger("deskbot.slack.bolt"))
        self.desk = desk if desk is not None else Handoff()
        register(self.bolt, self.desk, config)
        if sender is None:
            from bot.slack.sender import SlackSender  # helper S-OUT's module (s-out)

            sender = SlackSender(self.client)
        self.sender: Sender = sender
        self.mode = "socket" if self.app_token else "http"
        self.socket: Any = None  # AsyncSocketModeHandler once started in Socket Mode
        self.auth: dict[str, Any] | None = None
        self._app: App | None = None
        self._accepting = False
        self._in_hand = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.refused = 0
        self._own_session = False

    # --- Frontend protocol --------------------------------------------------------

    def bind(self, app: App) -> None:
        self._app = app
        self.desk.app = app
        bind = getattr(self.sender, "bind", None)
        if bind is not None:
            bind(app.db)

    def routes(self) -> list[web.RouteDef]:
        # Served in Socket Mode too: harmless (signed requests only) and useful behind both.
        return [web.post(PATH, self.handle)]

    async def start(self) -> None:
        if self._app is None:
            raise RuntimeError("bind(app) before start()")
        if self.client.session is None:
            # One HTTP session (kept-alive connections) for every Web API call: without it
            # slack_sdk opens a new session and TCP connection per call (bench/load.py).
            self.client.session = aiohttp.ClientSession()
            self._own_session = True
        resp = await self.client.auth_test()
        self.auth = {"team_id": resp.get("team_id"), "user_id": resp.get("user_id"), "bot_id": resp.get("bot_id"),
                     "team": resp.get("team"), "user": resp.get("user")}
        self._accepting = True
        if self.app_token:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            self.socket = AsyncSocketModeHandler(self.bolt, self.app_token, web_client=self.client)
            await self.socket.connect_async()
            log.info("slack socket mode connected for %s", self.auth.get("team"))
        else:
            log.info("slack events served on %s for %s", PATH, self.auth.get("team"))

    async def stop(self) -> None:
        """Refuse new requests (503: Slack retries later) and wait for those in hand."""
        self._accepting = False
        if self.socket is not None:
            socket, self.socket = self.socket, None
            try:
                await socket.close_async()
            except Exception as exc:  # noqa: BLE001 - stopping anyway
                log.warning("socket mode close failed: %s", type(exc).__name__)
        await self._idle.wait()

    async def close(self) -> None:
        """Close the Web API session opened by :meth:`start` (after the outbox worker, which
        sends through it, stopped)."""
        if self._own_session and self.client.session is not None:
            session, self.client.session = self.client.session, None
            self._own_session = False
            await session.close()

    def health(self) -> dict[str, Any]:
        connected = self.auth is not None and self._accepting
        if self.mode == "socket":
            # The WebSocket is up (slack_sdk reconnects on its own while the client is not closed).
            client = getattr(self.socket, "client", None)
            session = getattr(client, "current_session", None)
            connected = (connected and client is not None and not getattr(client, "closed", False)
                         and session is not None and not session.closed)
        return {"connected": bool(connected), "mode": self.mode,
                "team": (self.auth or {}).get("team"), "handled": self.desk.handled, "refused": self.refused}

    # --- HTTP ---------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.Response:
        """``POST /slack/events`` through bolt's aiohttp adapter (bolt verifies the signature)."""
        if not self._accepting:
            return web.Response(status=503, text="stopping")
        self._in_hand += 1
        self._idle.clear()
        try:
            bolt_resp = await self.bolt.async_dispatch(await to_bolt_request(request))
            if bolt_resp.status == 401:
                self.refused += 1
                log.warning("slack request refused: bad or missing signature (from %s)", request.remote)
            return await to_aiohttp_response(bolt_resp)
        finally:
            self._in_hand -= 1
            if self._in_hand == 0:
                self._idle.set()
