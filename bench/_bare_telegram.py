"""The baseline for ``bench/load.py``: a bare aiogram bot that only answers each message.

``python bench/_bare_telegram.py`` (environment: ``TELEGRAM_BOT_TOKEN``,
``TELEGRAM_WEBHOOK_SECRET``, ``TELEGRAM_API_BASE``) serves ``POST /telegram/webhook`` on
127.0.0.1 (a free port, printed as ``deskbot: listening on http://...`` like ``deskbot
run``) with aiogram's own ``SimpleRequestHandler`` — the secret header checked, the
update handled before the 200 (``handle_in_background=False``, as deskbot answers only
after its commit) — and one handler: ``message.answer(message.text)``, a ``sendMessage``
to the fake. No database, no engine, no outbox: what one aiogram process does per update
when it does nothing else, behind the same webhook and the same fake. ``/healthz``
answers 200. SIGTERM stops it.

It gets deskbot's fix for aiogram under pydantic 2.11+ (``pin_response_type``: the
parsed-answer model is kept, not rebuilt after each garbage collection), so the baseline
is the best a bare aiogram handler does here, not a handicapped one.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiogram import Bot, Dispatcher, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Message
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from bot.telegram.frontend import pin_response_type


async def main() -> None:
    bot = Bot(os.environ["TELEGRAM_BOT_TOKEN"],
              session=AiohttpSession(api=TelegramAPIServer.from_base(os.environ["TELEGRAM_API_BASE"])))
    bot.session.middleware(pin_response_type)
    router = Router()

    @router.message()
    async def answer(message: Message) -> None:
        await message.answer(message.text or "ok")

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    app = web.Application()
    SimpleRequestHandler(dispatcher, bot, handle_in_background=False,
                         secret_token=os.environ["TELEGRAM_WEBHOOK_SECRET"]).register(app, path="/telegram/webhook")

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    print(f"deskbot: listening on http://127.0.0.1:{port}", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await runner.cleanup()
    await bot.session.close()


if __name__ == "__main__":
    asyncio.run(main())
