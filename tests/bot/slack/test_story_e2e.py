"""The whole life of a ticket in Slack, and one ticket across Telegram and Slack, end to end.

Real slack-bolt receives signed HTTP requests from the fake Slack Web API on loopback, the
real engine decides on a real database, the real outbox worker delivers through the real
Slack sender back to the fake. The story is the conversation issue's (anna in a DM with
the app, boris in the IT channel's card thread). The cross-platform test runs Telegram
(fake Bot API, real aiogram) and Slack in one desk: anna writes in Telegram with a photo,
boris claims and answers in Slack.
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
from bot.slack.frontend import PATH, SlackFrontend
from bot.slack.sender import SlackSender, telegram_fetcher
from handlers.texts import translator
from store.models import Status, Ticket
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram
from tests.support.desk import recorded
from tests.support.scenarios import make_config
from tests.support.slack import SlackChannel, SlackMessage, SlackUser, _Reading
from tests.support.telegram import TOKEN as TG_TOKEN
from tests.support.telegram import loopback_socket, serve, telegram_section

SLACK_TOKEN = "xoxb-0000000001-0000000002-storyTESTtoken"
SIGNING = "8f14e45fceea167a5a36dedd4bea2543"
IT_CHANNEL = "C00ITQUEUE"
WAIT = 20.0
ru = translator("ru")

PROBLEM = "не печатает принтер на третьем этаже"
QUESTION = "Какая модель принтера и что пишет на экране?"
ANSWER = "HP LaserJet 400 <!channel> <@U123> <http://evil|Reset password> & co"
NOTE = "Убрали замятую бумагу, принтер печатает"
NOT_FIXED = "не помогло, опять замятие"
REASON = "Замятие повторяется — нужен ремонт узла подачи"


@dataclass
class Desk:
    app: App
    slack: FakeSlack
    anna: SlackUser
    boris: SlackUser
    vera: SlackUser
    it: SlackChannel
    telegram: FakeTelegram | None = None

    async def ticket(self) -> Ticket:
        async with self.app.db.transaction() as s:
            return (await s.exec(select(Ticket).where(Ticket.id == 1))).one()


async def with_button(where: _Reading, label: str, thread_ts: str | None = None) -> SlackMessage:
    def check() -> SlackMessage | None:
        for m in reversed(where.messages(thread_ts)):
            if any(b == label or b.startswith(label) for b in m.buttons):
                return m
        return None

    try:
        found: SlackMessage = await where.fake.wait_for(check, WAIT)
    except TimeoutError:
        shown = [(m.text[:60], m.buttons) for m in where.messages(thread_ts)]
        raise AssertionError(f"no message with button {label!r} in {where.channel_id}: {shown}") from None
    return found


@asynccontextmanager
async def desk(db_url: str, *, with_telegram: bool = False,
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
        changes: list[Callable[[dict[str, Any]], None]] = [lambda data: data.__setitem__(
            "slack", {"bot_token": SLACK_TOKEN, "signing_secret": SIGNING, "api_base": slack.base_url})]
        if with_telegram:
            tg = FakeTelegram(token=TG_TOKEN, rate_limits=False)
            await tg.start()
            stack.push_async_callback(tg.close)
            section = telegram_section(tg, "polling")
            changes.append(lambda data: data.__setitem__("telegram", section))
        config = make_config(*changes, *config_changes)
        fronts: list[Any] = []
        senders: dict[str, Any] = {}
        telegram_front = None
        if tg is not None:
            from bot.telegram.frontend import TelegramFrontend

            telegram_front = TelegramFrontend(config, polling_timeout_s=1)
            telegram_front.sender.rate_policy = UNLIMITED  # type: ignore[attr-defined]
            fronts.append(telegram_front)
            senders["telegram"] = telegram_front.sender
        front = SlackFrontend(config)
        files = {"telegram": telegram_fetcher(telegram_front.bot)} if telegram_front is not None else None
        front.sender = SlackSender(front.client, rate_policy=UNLIMITED, files=files)
        fronts.append(front)
        senders["slack"] = front.sender
        app = build(config, senders=senders, database_url=db_url)
        await app.start()
        stack.push_async_callback(app.close)
        for f in fronts:
            f.bind(app)
        sock = loopback_socket()
        runner: web.AppRunner = await serve(front.routes(), sock)
        stack.push_async_callback(runner.cleanup)
        slack.request_url = f"http://127.0.0.1:{sock.getsockname()[1]}{PATH}"
        stop = asyncio.Event()
        for f in fronts:
            await f.start()
        if telegram_front is not None:
            stack.push_async_callback(telegram_front.close)
        worker = asyncio.create_task(app.worker.run(stop, idle_seconds=0.2))

        async def halt() -> None:
            for f in fronts:
                await f.stop()
            stop.set()
            await worker

        stack.push_async_callback(halt)
        yield Desk(app, slack, anna, boris, vera, it, tg)
    assert slack.block_errors == [], slack.block_errors
    if tg is not None:
        assert tg.html_errors == [], tg.html_errors


async def test_the_whole_story_in_slack(db_url: str) -> None:
    async with desk(db_url) as d:
        anna, boris, vera, it, fake = d.anna, d.boris, d.vera, d.it, d.slack
        team = translator(d.app.config.teams["it"].locale or d.app.config.desk.default_locale)

        # anna DMs the app; the KB answers first, she opens a ticket with the guessed category.
        await anna.says(PROBLEM)
        offer = await with_button(anna, ru("btn_open_ticket"))
        await anna.presses(offer, ru("btn_open_ticket"))
        yes = ru("btn_yes_category", category="").strip(" ,")
        guess = await with_button(anna, yes)
        await anna.presses(guess, next(b for b in guess.buttons if b.startswith(yes)))
        created = await anna.sees("#1")

        # The card in the IT channel; its thread is the ticket's conversation.
        card = await with_button(it, team("btn_claim"))
        await boris.presses(card, team("btn_claim"))
        await fake.wait_for(lambda: team("btn_claim") not in card.buttons or None, WAIT)  # updated in place
        assert "Boris" in card.text

        await boris.says(QUESTION, channel=it, thread_ts=card.ts)
        asked = await anna.sees(QUESTION, timeout=WAIT)
        root = asked.thread_ts or created.ts  # anna's side of the ticket: the thread of "#1 created"

        # anna's plain answer (in her ticket's thread) shows in the card's thread, literally.
        await anna.says(ANSWER, thread_ts=root)
        shown = await it.sees("HP LaserJet 400", thread_ts=card.ts, timeout=WAIT)
        assert shown.mentions == [] and shown.links == []  # <!channel>, <@U123>, the link stay inert
        # escaped once: Slack shows these characters literally
        assert "&lt;!channel&gt;" in shown.text and "&lt;http://evil|Reset password&gt; &amp; co" in shown.text

        await boris.says(f"/resolve {NOTE}", channel=it, thread_ts=card.ts)
        await anna.sees(NOTE, timeout=WAIT)
        assert (await d.ticket()).status == Status.RESOLVED

        await anna.says(NOT_FIXED, thread_ts=root)
        reopen_label = ru("btn_reopen_n", n=1)
        reopen = await with_button(anna, reopen_label, root)
        await anna.presses(reopen, reopen_label)
        await it.sees(NOT_FIXED[:12], thread_ts=card.ts, timeout=WAIT)
        assert (await d.ticket()).status != Status.RESOLVED

        await boris.says(f"/escalate {REASON}", channel=it, thread_ts=card.ts)
        told = await anna.sees(ru("escalated_requester", n=1)[:30], timeout=WAIT)
        assert "L2" not in told.text and "Boris" not in told.text
        assert (await d.ticket()).tier == "L2"

        await vera.says("/ticket 1")
        history = (await vera.sees(NOTE, timeout=WAIT)).text
        parts = [PROBLEM, QUESTION, "HP LaserJet 400", NOTE, NOT_FIXED, REASON]
        where = [history.find(p) for p in parts]
        assert -1 not in where, (parts, history)
        assert where == sorted(where), history


async def test_a_telegram_ticket_with_a_photo_is_handled_in_slack(sqlite_url: str) -> None:
    async with desk(sqlite_url, with_telegram=True) as d:
        assert d.telegram is not None
        tg, it, boris = d.telegram, d.it, d.boris
        anna = tg.user(100001, "Anna", language_code="ru")
        tg_it = tg.group(-1001000000001, "IT")
        team = translator(d.app.config.teams["it"].locale or d.app.config.desk.default_locale)

        await anna.says(PROBLEM)
        await anna.presses(await _tg_button(anna, ru("btn_open_ticket")), ru("btn_open_ticket"))
        yes = ru("btn_yes_category", category="").strip(" ,")
        guess = await _tg_button(anna, yes)
        await anna.presses(guess, next(b for b in guess.buttons if b.startswith(yes)))
        created = await anna.sees("#1", timeout=WAIT)
        # A reply maps to its ticket once the bot has recorded the message it replies to
        # (the fake shows it a moment before the outbox row is marked sent).
        await recorded(d.app, "telegram", str(created.chat_id), str(created.message_id))
        photo = await anna.sends_photo("вот экран", reply_to=created)

        # boris claims in Slack; the Telegram group's card follows.
        card = await with_button(it, team("btn_claim"))
        tg_card = await _tg_button(tg_it, team("btn_claim"))  # the same ticket's card in the Telegram group
        await boris.presses(card, team("btn_claim"))
        await it.sees("Boris", timeout=WAIT)
        await tg.wait_for(lambda: "Boris" in tg_card.text or None, WAIT)

        # The photo was copied into the card's thread in Slack.
        await it.sees("вот экран", thread_ts=card.ts, timeout=WAIT)
        uploads = await d.slack.wait_for(lambda: d.slack.calls_of("files.completeUploadExternal") or None, WAIT)
        assert uploads and photo["photo"][-1]["file_id"]

        # boris answers in Slack; anna gets it in Telegram.
        await boris.says(QUESTION, channel=it, thread_ts=card.ts)
        await anna.sees(QUESTION, timeout=WAIT)


async def _tg_button(person: Any, label: str) -> Any:
    def check() -> Any:
        for m in reversed(person.messages()):
            if any(b == label or b.startswith(label) for b in m.buttons):
                return m
        return None

    return await person.fake.wait_for(check, WAIT)
