"""The whole life of a ticket in Telegram, end to end (issue 8, must-show 1).

The real aiogram receives over loopback HTTP from the fake Bot API (polling or webhook),
the real engine decides on a real database, the real outbox worker delivers through the
real Telegram sender back to the fake. The story is the conversation issue's: anna files
a ticket; boris claims it from the IT group and asks a question; anna's plain answer
reaches his thread; boris resolves with a note; anna says it did not help and reopens it
with one tap; boris escalates with a reason; the requester is told; vera (L2) reads the
whole history with ``/ticket 1``.

It runs with anna's private chat with topics (Bot API 9.3 ``has_topics_enabled``) and
without, and with the IT group as a forum (a topic per ticket) and as a plain group
(replies to the card are the thread), in both receiving modes.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from sqlmodel import select

from bot.app import App, build
from bot.delivery import UNLIMITED
from bot.telegram.frontend import TelegramFrontend
from handlers.ports import Clock
from handlers.texts import translator
from store.models import Status, Ticket
from tests.fakes.telegram import FakeTelegram
from tests.support.buttons import with_button
from tests.support.desk import recorded
from tests.support.scenarios import make_config
from tests.support.telegram import (
    TOKEN,
    BotMessage,
    Group,
    Person,
    loopback_socket,
    pointing_at,
    serve,
    telegram_section,
)

IT_CHAT = -1001000000001
WAIT = 20.0  # seconds a step may take before the test fails (generous: CI machines are busy)
ru = translator("ru")
en = translator("en")

PROBLEM = "не печатает принтер на третьем этаже"
QUESTION = "Какая модель принтера и что пишет на экране?"
ANSWER = "HP LaserJet 400, пишет «замятие бумаги» <b>&amp;</b>"
NOTE = "Убрали замятую бумагу, принтер печатает"
NOT_FIXED = "не помогло, опять замятие"
REASON = "Замятие повторяется — нужен ремонт узла подачи"


@dataclass
class Story:
    fake: FakeTelegram
    app: App
    anna: Person
    boris: Person
    vera: Person
    it: Group
    topics: bool
    forum: bool

    async def ticket(self) -> Ticket:
        async with self.app.db.transaction() as s:
            return (await s.exec(select(Ticket).where(Ticket.id == 1))).one()


@asynccontextmanager
async def desk(db_url: str, mode: str, *, topics: bool, forum: bool, clock: Clock | None = None) -> AsyncIterator[Story]:
    fake = FakeTelegram(token=TOKEN, rate_limits=False, has_topics_enabled=topics)
    await fake.start()
    anna = fake.user(100001, "Anna", language_code="ru")
    boris = fake.user(100002, "Boris", language_code="ru")
    vera = fake.user(100003, "Vera", language_code="en")
    it = fake.group(IT_CHAT, "IT", forum=forum)
    sock: socket.socket | None = None
    config = make_config(lambda data: data.__setitem__("telegram", telegram_section(fake, mode)))
    if mode == "webhook":
        sock = loopback_socket()
        config = pointing_at(config, f"http://127.0.0.1:{sock.getsockname()[1]}/telegram/webhook")
    front = TelegramFrontend(config, polling_timeout_s=1)
    front.sender.rate_policy = UNLIMITED  # type: ignore[attr-defined]  # the fake's limits are off too
    app = build(config, senders={"telegram": front.sender}, database_url=db_url, clock=clock)
    await app.start()
    front.bind(app)
    runner: web.AppRunner | None = None
    if sock is not None:
        runner = await serve(front.routes(), sock)
    stop = asyncio.Event()
    await front.start()
    worker = asyncio.create_task(app.worker.run(stop, idle_seconds=0.2))
    try:
        yield Story(fake, app, anna, boris, vera, it, topics, forum)
    finally:
        await front.stop()
        stop.set()
        await worker
        if runner is not None:
            await runner.cleanup()
        await front.close()
        await app.close()
        await fake.close()
    assert fake.html_errors == [], fake.html_errors
    assert fake.internal_errors == [], fake.internal_errors


def in_thread(story: Story, message: BotMessage | None = None) -> dict[str, Any]:
    """Where boris writes about the ticket in the IT group: its topic, or a reply to the card."""
    if story.forum:
        topic = story.it.topic_named("#1 ")
        assert topic is not None
        return {"chat": story.it, "thread": topic.thread_id}
    assert message is not None
    return {"chat": story.it, "reply_to": message}


@dataclass
class Filed:
    anna_thread: int | None
    group_thread: int | None
    card: BotMessage


async def file_and_claim(story: Story) -> Filed:
    """anna files #1 (KB first, then the guessed category); boris claims it in the IT group."""
    filed = await file_ticket(story)
    team = translator(story.app.config.teams["it"].locale or story.app.config.desk.default_locale)  # the group's
    await story.boris.presses(filed.card, team("btn_claim"), chat=story.it)
    await story.fake.wait_for(lambda: team("btn_claim") not in filed.card.buttons or None, WAIT)  # edited in place
    assert "Boris" in filed.card.text
    return filed


async def file_ticket(story: Story) -> Filed:
    """anna files #1 (KB first, then the guessed category); its card reaches the IT group."""
    anna, it = story.anna, story.it

    # anna writes in the main chat; the KB answers first, she opens a ticket anyway.
    await anna.says(PROBLEM)
    offer = await with_button(anna, ru("btn_open_ticket"))
    await anna.presses(offer, ru("btn_open_ticket"))
    guess = await with_button(anna, ru("btn_yes_category", category="").strip(" ,"))
    label = next(b for b in guess.buttons if b.startswith(ru("btn_yes_category", category="").strip()))
    await anna.presses(guess, label)

    # Her ticket's conversation: its own topic where the bot has topics, else her main chat.
    anna_thread: int | None = None
    if story.topics:
        anna_topic = await anna.gets_topic("#1 ", timeout=WAIT)
        assert PROBLEM[:20] in anna_topic.name
        anna_thread = anna_topic.thread_id
    else:
        assert anna.topics() == []
    await anna.sees("#1", thread=anna_thread, timeout=WAIT)

    # The IT group gets the card: in the ticket's own topic (forum) or in the chat.
    group_thread: int | None = None
    if story.forum:
        topic = await it.gets_topic("#1 ", timeout=WAIT)
        group_thread = topic.thread_id
    else:
        assert it.topics() == []
    conf = story.app.config
    team = translator(conf.teams["it"].locale or conf.desk.default_locale)  # the group's language
    card = await with_button(it, team("btn_claim"), group_thread)
    return Filed(anna_thread, group_thread, card)


async def story_run(story: Story) -> None:
    anna, boris, vera, it = story.anna, story.boris, story.vera, story.it
    filed = await file_and_claim(story)
    anna_thread, group_thread, card = filed.anna_thread, filed.group_thread, filed.card

    # boris asks in the ticket's thread; the question reaches anna in hers.
    await boris.says(QUESTION, **in_thread(story, card))
    await anna.sees(QUESTION, thread=anna_thread, timeout=WAIT)

    # anna answers in plain words (in her topic, or just in the chat: the ticket waits on her).
    await anna.says(ANSWER, thread=anna_thread)
    shown = await it.sees("HP LaserJet 400", thread=group_thread, timeout=WAIT)
    assert "<b>&amp;</b>" in shown.text  # hostile markup shows as literal text

    # boris resolves with a note, in the thread, without typing the number.
    await boris.says(f"/resolve {NOTE}", **in_thread(story, card))
    await anna.sees(NOTE, thread=anna_thread, timeout=WAIT)
    assert (await story.ticket()).status == Status.RESOLVED
    if story.forum:
        await story.fake.wait_for(lambda: it.topic_named("#1 ").closed or None, WAIT)  # type: ignore[union-attr]

    # Not fixed: one tap reopens it to boris, with her words kept.
    await anna.says(NOT_FIXED, thread=anna_thread)
    reopen = await with_button(anna, ru("btn_reopen_n", n=1), anna_thread)
    await anna.presses(reopen, ru("btn_reopen_n", n=1))
    await it.sees(NOT_FIXED[:12], thread=group_thread, timeout=WAIT)
    ticket = await story.ticket()
    assert ticket.status != Status.RESOLVED and ticket.assignee_id is not None
    if story.forum:
        await story.fake.wait_for(lambda: (not it.topic_named("#1 ").closed) or None, WAIT)  # type: ignore[union-attr]

    # boris escalates with a reason; the requester is told, without names or tiers.
    await boris.says(f"/escalate {REASON}", **in_thread(story, card))
    told = await anna.sees(ru("escalated_requester", n=1)[:30], thread=anna_thread, timeout=WAIT)
    assert "L2" not in told.text and "Boris" not in told.text
    assert (await story.ticket()).tier == "L2"

    # vera (L2, English) reads the whole history in order.
    await vera.says("/ticket 1")
    history = (await vera.sees(NOTE, timeout=WAIT)).text
    parts = [PROBLEM, QUESTION, "HP LaserJet 400", NOTE, NOT_FIXED, REASON]
    where = [history.find(p) for p in parts]
    assert -1 not in where, (parts, history)
    assert where == sorted(where), history


@pytest.mark.parametrize(
    ("mode", "topics", "forum"),
    [
        ("polling", True, True),
        ("polling", False, False),
        ("webhook", True, False),
        ("webhook", False, True),
    ],
    ids=["polling-topics-forum", "polling-plain-replies", "webhook-topics-replies", "webhook-plain-forum"],
)
async def test_the_whole_story_in_telegram(sqlite_url: str, mode: str, topics: bool, forum: bool) -> None:
    async with desk(sqlite_url, mode, topics=topics, forum=forum) as story:
        await story_run(story)


@pytest.mark.postgres
async def test_the_whole_story_in_telegram_on_postgresql(clean_pg_url: str) -> None:
    async with desk(clean_pg_url, "polling", topics=True, forum=True) as story:
        await story_run(story)


async def test_a_photo_reaches_the_agents_thread_and_a_25_mb_document_gets_a_note(sqlite_url: str) -> None:
    async with desk(sqlite_url, "polling", topics=True, forum=True) as story:
        filed = await file_and_claim(story)
        anna, it, fake = story.anna, story.it, story.fake
        mark = fake.mark()
        update = await anna.sends_photo("вот что на экране", thread=filed.anna_thread)
        file_id = update["photo"][-1]["file_id"]
        sent = await fake.wait_for(
            lambda: next((c for c in fake.calls_of("sendPhoto", mark) if c.params.get("photo") == file_id), None), WAIT)
        assert str(sent.params.get("chat_id")) == str(it.id)
        assert str(sent.params.get("message_thread_id")) == str(filed.group_thread)  # in #1's topic
        await it.sees("вот что на экране", thread=filed.group_thread, timeout=WAIT)

        mark = fake.mark()
        big = await anna.sends_document("dump.zip", size=25 * 1024 * 1024, caption="лог", thread=filed.anna_thread)
        big_id = big["document"]["file_id"]
        note = await it.sees("dump.zip", thread=filed.group_thread, timeout=WAIT)
        assert "20" in note.text and "25" in note.text  # the limit and the file's size
        await anna.sees("dump.zip", thread=filed.anna_thread, timeout=WAIT)  # she is told too
        assert not [c for c in fake.calls_of("sendDocument", mark) if c.params.get("document") == big_id]


HOSTILE = "<b>bold?</b> </a> &amp; &lt; 5 > 3 & x 🙂🔥 \u200fשלום\u200e مرحبا \x00 end"


@pytest.mark.parametrize("forum", [True, False], ids=["forum", "reply-to-card"])
async def test_hostile_text_arrives_intact_and_literal(sqlite_url: str, forum: bool) -> None:
    async with desk(sqlite_url, "polling", topics=forum, forum=forum) as story:
        filed = await file_and_claim(story)
        anna, it = story.anna, story.it
        # In her topic, or (no topics) as a reply to the bot's message about #1.
        where: dict[str, Any] = {"thread": filed.anna_thread}
        if filed.anna_thread is None:
            about = anna.find("#1")
            assert about is not None
            await recorded(story.app, "telegram", str(about.chat_id), str(about.message_id))
            where = {"reply_to": about}
        await anna.says(HOSTILE, **where)
        shown = await it.sees("bold?", thread=filed.group_thread, timeout=WAIT)
        assert HOSTILE.replace("\x00", "").replace("  ", " ") in shown.text.replace("  ", " ")

        long = "\n".join(f"line {i:04d} " + "ж" * 60 for i in range(150))  # ~10,000 characters
        assert len(long) > 9_500
        await anna.says(long, **where)
        await it.sees("line 0149", thread=filed.group_thread, timeout=WAIT)
        texts = "\n".join(m.text for m in it.messages(filed.group_thread))
        for i in range(150):  # split on line boundaries: every line arrives whole
            assert f"line {i:04d} " + "ж" * 60 in texts
        assert all(len(m.text) <= 4096 for m in it.messages(filed.group_thread))

