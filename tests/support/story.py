"""One desk serving Slack (and, when asked, Telegram) end to end, for story tests.

Real slack-bolt receives from the fake Slack Web API — signed HTTP requests on loopback, or
Socket Mode envelopes on the fake's websocket (``socket_mode=True``) — the real engine
decides on a real database, the real outbox worker delivers through the real senders. With
``with_telegram=True`` the same desk also runs the real aiogram frontend against the fake
Bot API, and the two senders copy each other's files (``bot.run.share_files``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlmodel import select

from bot.app import App, build
from bot.delivery import UNLIMITED
from bot.run import share_files
from bot.slack.frontend import PATH, SlackFrontend
from store.models import Ticket
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram
from tests.support.buttons import with_button
from tests.support.desk import recorded
from tests.support.scenarios import make_config
from tests.support.slack import SlackChannel, SlackUser, slack_section
from tests.support.telegram import TOKEN as TG_TOKEN
from tests.support.telegram import loopback_socket, serve, telegram_section

SLACK_TOKEN = "xoxb-0000000001-0000000002-storyTESTtoken"
SIGNING = "8f14e45fceea167a5a36dedd4bea2543"
IT_CHANNEL = "C00ITQUEUE"
WAIT = 20.0


@dataclass
class Desk:
    app: App
    slack: FakeSlack
    anna: SlackUser
    boris: SlackUser
    vera: SlackUser
    it: SlackChannel
    front: SlackFrontend
    telegram: FakeTelegram | None = None

    async def ticket(self, number: int = 1) -> Ticket:
        async with self.app.db.transaction() as s:
            return (await s.exec(select(Ticket).where(Ticket.id == number))).one()

    async def recorded(self, platform: str, chat_id: str | int, message_id: str | int) -> None:
        """Wait until the outbox worker recorded the bot's message as sent. The platform shows
        it a moment earlier; a reply to it finds its ticket only once it is recorded (no person
        answers that fast, a test does)."""
        await recorded(self.app, platform, str(chat_id), str(message_id), WAIT)


tg_button = with_button  # a Telegram chat or group: the same search


@asynccontextmanager
async def desk(db_url: str, *, with_telegram: bool = False, socket_mode: bool = False,
               config_changes: tuple[Callable[[dict[str, Any]], None], ...] = ()) -> AsyncIterator[Desk]:
    async with AsyncExitStack() as stack:
        slack = FakeSlack(token=SLACK_TOKEN, signing_secret=SIGNING, rate_limits=False)
        await slack.start()
        stack.push_async_callback(slack.close)
        anna = slack.user("U0000ANNA", "Anna Ivanova", locale="ru-RU", tz="Europe/Moscow")
        boris = slack.user("U000BORIS", "Boris Petrov", locale="ru-RU", tz="Europe/Moscow")
        vera = slack.user("U0000VERA", "Vera Sokolova", locale="en-US")
        it = slack.channel(IT_CHANNEL, "it-queue", members=["U000BORIS", "U0000VERA"])
        tg: FakeTelegram | None = None
        section = slack_section(slack, socket_mode=socket_mode)
        changes: list[Callable[[dict[str, Any]], None]] = [lambda data: data.__setitem__("slack", section)]
        if with_telegram:
            tg = FakeTelegram(token=TG_TOKEN, rate_limits=False)
            await tg.start()
            stack.push_async_callback(tg.close)
            tg_section = telegram_section(tg, "polling")
            changes.append(lambda data: data.__setitem__("telegram", tg_section))
        config = make_config(*changes, *config_changes)
        fronts: list[Any] = []
        telegram_front = None
        if tg is not None:
            from bot.telegram.frontend import TelegramFrontend

            telegram_front = TelegramFrontend(config, polling_timeout_s=1)
            telegram_front.sender.rate_policy = UNLIMITED  # type: ignore[attr-defined]
            fronts.append(telegram_front)
        front = SlackFrontend(config)
        front.sender.rate_policy = UNLIMITED  # type: ignore[attr-defined]
        fronts.append(front)
        if telegram_front is not None:
            share_files(telegram_front, front)  # as deskbot run wires them
        app = build(config, senders={f.platform: f.sender for f in fronts}, database_url=db_url)
        await app.start()
        stack.push_async_callback(app.close)
        for f in fronts:
            f.bind(app)
        if not socket_mode:
            sock = loopback_socket()
            runner: web.AppRunner = await serve(front.routes(), sock)
            stack.push_async_callback(runner.cleanup)
            slack.request_url = f"http://127.0.0.1:{sock.getsockname()[1]}{PATH}"
        stop = asyncio.Event()
        for f in fronts:
            await f.start()
        if telegram_front is not None:
            stack.push_async_callback(telegram_front.close)
        stack.push_async_callback(front.close)  # its HTTP session, after the worker stopped
        worker = asyncio.create_task(app.worker.run(stop, idle_seconds=0.2))

        async def halt() -> None:
            for f in fronts:
                await f.stop()
            stop.set()
            await worker

        stack.push_async_callback(halt)
        yield Desk(app, slack, anna, boris, vera, it, front, tg)
    assert slack.block_errors == [], slack.block_errors
    if tg is not None:
        assert tg.html_errors == [], tg.html_errors
