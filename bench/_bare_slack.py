"""The baseline for ``bench/load.py``: a bare slack-bolt app that only answers each message.

``python bench/_bare_slack.py`` (environment: ``SLACK_BOT_TOKEN``, ``SLACK_SIGNING_SECRET``,
``SLACK_API_BASE``) serves ``POST /slack/events`` on 127.0.0.1 (a free port, printed as
``deskbot: listening on http://...`` like ``deskbot run``) through bolt's aiohttp adapter,
with the signature verified and ``process_before_response=True`` (as deskbot: the answer
goes out after the listener returned), and one listener: ``ack()`` then
``chat.postMessage`` of the message's text to its channel. No database, no engine, no
outbox: what one bolt process does per event when it does nothing else, behind the same
endpoint and the same fake. ``/healthz`` answers 200. SIGTERM stops it.

Like deskbot's frontend, its Web API client has one HTTP session for every call (slack_sdk
opens a session and a connection per call without one), so the baseline is the best a
bare bolt listener does here, not a handicapped one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient


async def main() -> None:
    base = os.environ["SLACK_API_BASE"]
    session = aiohttp.ClientSession()
    client = AsyncWebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=base if base.endswith("/") else base + "/",
                            session=session)
    bolt = AsyncApp(token=os.environ["SLACK_BOT_TOKEN"], signing_secret=os.environ["SLACK_SIGNING_SECRET"],
                    client=client, process_before_response=True, logger=logging.getLogger("bare.bolt"))

    @bolt.event("message")
    async def answer(ack: Any, event: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.chat_postMessage(channel=str(event["channel"]), text=str(event.get("text") or "ok"))

    async def handle(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_post("/slack/events", handle)
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
    await session.close()


if __name__ == "__main__":
    asyncio.run(main())
