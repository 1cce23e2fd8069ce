"""A small stand-in for the Slack Web API (until tests/fakes/slack.py lands): the calls the
receiving side makes, in Slack's shapes, on 127.0.0.1, with the Bearer token enforced; and
request signing as Slack does it (``v0=HMAC-SHA256(secret, "v0:<ts>:<body>")``)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

TOKEN = "xoxb-0000000001-0000000002-receiveTESTtoken"
SECRET = "8f14e45fceea167a5a36dedd4bea2543"
TEAM = "T0DESK"
BOT_USER = "U0DESKBOT"
LOCALES = {"U0000ANNA": "ru-RU", "U000BORIS": "en-US"}


def sign(body: str, *, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    mac = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={mac}"}


def event_body(event: dict[str, Any], event_id: str) -> str:
    return json.dumps({"token": "x", "team_id": TEAM, "api_app_id": "A0DESK", "type": "event_callback",
                       "event_id": event_id, "event_time": int(time.time()), "event": event,
                       "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}]})


def form_payload(payload: dict[str, Any]) -> str:
    """An interactivity request body (``payload=<json>``, form-encoded)."""
    return urlencode({"payload": json.dumps(payload)})


def form(fields: dict[str, str]) -> str:
    return urlencode(fields)


class MiniSlack:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.history: dict[tuple[str, str], dict[str, Any]] = {}  # (channel, ts) → message
        self._dm = itertools.count(1)
        self.dms: dict[str, str] = {}
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._call)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}/api/"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def calls_of(self, method: str) -> list[dict[str, Any]]:
        return [args for name, args in self.calls if name == method]

    async def _call(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        args: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                args.update(await request.json())
            else:
                args.update(dict(await request.post()))
        self.calls.append((method, args))
        handler = getattr(self, "m_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        return web.json_response(handler(args))

    def m_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": "https://desk.slack.com/", "team": "Desk", "user": "deskbot", "team_id": TEAM,
                "user_id": BOT_USER, "bot_id": "B0DESKBOT", "is_enterprise_install": False}

    def m_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = str(args.get("user"))
        return {"ok": True, "user": {"id": user, "name": user.lower(), "locale": LOCALES.get(user, "en-US"),
                                     "profile": {"display_name": "", "real_name": f"Real {user}"}}}

    def m_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "message_ts": f"{time.time():.6f}"}

    def m_conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        user = str(args.get("users"))
        channel = self.dms.setdefault(user, f"D{next(self._dm):08d}")
        return {"ok": True, "channel": {"id": channel}}

    def m_conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        msg = self.history.get((str(args.get("channel")), str(args.get("latest"))))
        return {"ok": True, "messages": [msg] if msg else [], "has_more": False}

    def m_conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        msg = self.history.get((str(args.get("channel")), str(args.get("ts"))))
        return {"ok": True, "messages": [msg] if msg else [], "has_more": False}
