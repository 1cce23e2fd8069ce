"""The Telegram webhook: ``POST /telegram/webhook``, answered only after the update committed.

Telegram resends an update until it gets a 2xx, so the answer is the confirmation:

* the ``X-Telegram-Bot-Api-Secret-Token`` header is compared with the configured secret
  in constant time (``hmac.compare_digest``); missing or wrong → 401 and nothing is read
  or stored;
* the update is handled — the engine's transaction committed — *before* the 200. aiogram's
  ``SimpleRequestHandler`` defaults to ``handle_in_background=True`` (200 first, handle
  later: a crash in between loses the update) and even without it
  ``Dispatcher.feed_webhook_update`` moves a handler slower than 55 s to the background and
  answers; neither is used here;
* a handler error → 500, so Telegram delivers the update again (the engine's inbox makes
  that harmless); while stopping → 503 for new requests, the ones in hand finish;
* an update aiogram's models cannot read is logged and answered 200: it would fail the
  same way on every redelivery (polling skips it alike).
"""

from __future__ import annotations

import asyncio
import hmac
import logging

from aiogram import Bot, Dispatcher
from aiogram.types import Update
from aiohttp import web
from pydantic import ValidationError

log = logging.getLogger("deskbot.telegram.webhook")

PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class WebhookReceiver:
    def __init__(self, bot: Bot, dispatcher: Dispatcher, secret: str) -> None:
        if not secret:
            raise ValueError("a webhook needs a secret (telegram.webhook.secret)")
        self.bot = bot
        self.dispatcher = dispatcher
        self._secret = secret.encode()
        self._accepting = False
        self._in_hand = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.handled = 0
        self.refused = 0
        self.skipped = 0

    def route(self) -> web.RouteDef:
        return web.post(PATH, self.handle)

    @property
    def accepting(self) -> bool:
        return self._accepting

    def open(self) -> None:
        self._accepting = True

    async def stop(self) -> None:
        """Refuse new updates (503: Telegram retries later) and wait for those in hand."""
        self._accepting = False
        await self._idle.wait()

    def authentic(self, request: web.Request) -> bool:
        given = request.headers.get(SECRET_HEADER, "").encode()
        return hmac.compare_digest(given, self._secret)

    async def handle(self, request: web.Request) -> web.Response:
        if not self.authentic(request):
            self.refused += 1
            log.warning("webhook request refused: missing or wrong secret token (from %s)", request.remote)
            return web.Response(status=401, text="Unauthorized")
        if not self._accepting:
            return web.Response(status=503, text="stopping")
        self._in_hand += 1
        self._idle.clear()
        try:
            try:
                body = await request.json()
                update_id = int(body["update_id"])
            except (ValueError, TypeError, KeyError):
                log.warning("webhook body is not an update")
                return web.Response(status=400, text="not an update")
            try:
                update = Update.model_validate(body, context={"bot": self.bot})
            except ValidationError as exc:
                # Telegram would send it again and again; it would fail the same way each time.
                log.error("update %s cannot be read: %s; skipping it", update_id,
                          "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3]))
                self.skipped += 1
                return web.json_response({})
            try:
                await self.dispatcher.feed_update(self.bot, update)
            except Exception:  # noqa: BLE001 - Telegram redelivers on a non-2xx answer
                log.exception("update %s failed; answering 500 so Telegram redelivers it", update.update_id)
                return web.Response(status=500, text="failed")
            self.handled += 1
            return web.json_response({})
        finally:
            self._in_hand -= 1
            if self._in_hand == 0:
                self._idle.set()
