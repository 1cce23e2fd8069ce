"""A frontend for ``deskbot run`` tests: the :class:`bot.frontend.Frontend` protocol over HTTP.

People "say" things and "press" buttons by POSTing to ``/loop/event`` on the run server
(as a webhook platform would deliver them); the answer is the replies the engine wrote
for the speaker, so a test can press the buttons it got. Everything the outbox worker
delivers is recorded by :class:`LoopSender`. ``/loop/event`` answers only after the
event's transaction committed, and 503 once the frontend is stopping.

Run as ``python -m tests.bot.loop_frontend --config C run --listen 127.0.0.1:0`` it is the
real ``deskbot`` command line serving this frontend in place of the configured platforms
(the process tests use that: signals, exit code, logs).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import sys
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.app import App
from handlers.events import Destination, Incoming, Reply

PLATFORM = "loop"


@dataclass
class LoopSender:
    platform: str = PLATFORM
    sent: list[tuple[str, str]] = field(default_factory=list)  # (chat, plain text)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))  # type: ignore[type-arg]
    _changed: asyncio.Condition | None = None

    def _cond(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    async def send(self, dest: Destination, reply: Reply) -> str | None:
        self.sent.append((dest.chat_id, reply.plain))
        async with self._cond():
            self._cond().notify_all()
        return str(next(self._ids))

    async def edit(self, dest: Destination, message_id: str, reply: Reply) -> None:
        await self.send(dest, reply)

    async def wait_for(self, chat: str, needle: str, timeout: float = 10.0) -> str:
        """The first text ``chat`` received containing ``needle`` (waits for the worker)."""

        def found() -> str | None:
            return next((text for c, text in self.sent if c == chat and needle in text), None)

        async with asyncio.timeout(timeout):
            async with self._cond():
                await self._cond().wait_for(lambda: found() is not None)
        result = found()
        assert result is not None
        return result


class LoopFrontend:
    """Implements :class:`bot.frontend.Frontend`; ``connected`` can be turned off by a test."""

    platform = PLATFORM
    runner_only = False
    registers = False

    def __init__(self, config: Any = None) -> None:
        self.config = config
        self.sender = LoopSender()
        self.app: App | None = None
        self.connected = False
        self.started = asyncio.Event()
        self.stopped = asyncio.Event()
        self.in_hand = 0
        self._idle = asyncio.Condition()
        self.handled_before_stop = 0
        # A test sets this to hold an event inside the engine call (to stop mid-event).
        self.hold: asyncio.Event | None = None
        self.holding = asyncio.Event()

    def bind(self, app: App) -> None:
        self.app = app

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/loop/event", self._event)]

    async def start(self) -> None:
        assert self.app is not None, "bind() comes before start()"
        await self.app.add_identities(self.platform)
        if self.config is not None and self.config.telegram.enabled:
            # What a client library might log on a failed connect: the token in the URL path,
            # the webhook secret in a header dump. The run process must redact both.
            tg = self.config.telegram
            logging.getLogger("aiogram.dispatcher").warning(
                "connect %s/bot%s/getMe failed; headers %r", tg.api_base, tg.token.get_secret_value(),
                {"X-Telegram-Bot-Api-Secret-Token": tg.webhook.secret.get_secret_value()},
            )
        self.connected = True
        self.started.set()

    async def stop(self) -> None:
        self.connected = False
        self.stopped.set()
        async with self._idle:
            await self._idle.wait_for(lambda: self.in_hand == 0)

    def health(self) -> dict[str, Any]:
        return {"connected": self.connected, "in_hand": self.in_hand}

    async def _event(self, request: web.Request) -> web.Response:
        if self.stopped.is_set() or self.app is None:
            return web.json_response({"error": "stopping"}, status=503)
        body = await request.json()
        who = body["who"]
        inc = Incoming(
            platform=self.platform, chat_id=who, user_id=who, event_key=f"loop:{body['key']}",
            text=body.get("text", ""), action=body.get("action"), ticket_id=body.get("ticket_id"),
            value=body.get("value"),
        )
        self.in_hand += 1
        try:
            if self.hold is not None:
                self.holding.set()
                await self.hold.wait()
            outcome = await self.app.engine.handle(inc)
        finally:
            self.in_hand -= 1
            async with self._idle:
                self._idle.notify_all()
        replies = [
            {"text": o.reply.plain, "ticket": o.reply.ticket_id,
             "buttons": [b.to_dict() for row in o.reply.buttons for b in row]}
            for o in outcome.outgoing if o.destination.chat_id == who
        ]
        return web.json_response({"duplicate": outcome.duplicate, "replies": replies})


def main(argv: list[str]) -> int:
    """The real ``deskbot`` command line (``main(argv)``), with this frontend standing in for
    the configured platforms: ``python -m tests.bot.loop_frontend --config C run ...``."""
    import bot.run
    from bot.cli import main as cli_main

    def frontends(config: Any) -> list[Any]:
        return [LoopFrontend(config)]

    bot.run.build_frontends = frontends
    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
