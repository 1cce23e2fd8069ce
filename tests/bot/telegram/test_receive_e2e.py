"""Receiving end to end: the real aiogram over loopback HTTP against the fake Bot API, the
real engine on a real database, in polling and in webhook mode.

The desk's replies are written to the outbox and delivered to a recording sender (the
Telegram sender is tested on its own), so what is checked here is what receiving
decides: which updates are handled, how often, with which effect, and how every button
press is answered.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import func
from sqlmodel import select

from bot.app import App, build
from bot.telegram import callbacks
from bot.telegram.frontend import GROUP_COMMANDS, PRIVATE_COMMANDS, TelegramFrontend
from bot.telegram.handoff import Handoff
from bot.telegram.routers import ALLOWED_UPDATES
from handlers.events import Button, Incoming, Outcome
from store.models import InboxEvent, OutboxMessage, Status, Ticket
from tests.fakes.telegram import FakeTelegram
from tests.support.clock import FakeClock
from tests.support.desk import Desk, RecordingSender
from tests.support.scenarios import FakeKb, make_config, open_ticket
from tests.support.telegram import (
    SECRET,
    TOKEN,
    Group,
    Person,
    loopback_socket,
    pointing_at,
    serve,
    telegram_section,
)

ANNA, BORIS = 100001, 100002  # telegram ids of anna (requester) and boris (IT agent) in config.yaml
IT_CHAT, HR_CHAT = -1001000000001, -1001000000002
MODES = ["polling", "webhook"]


class Watching(Handoff):
    """The real hand-off, remembering each event's outcome (to compare with the answer)."""

    def __init__(self) -> None:
        super().__init__()
        self.outcomes: dict[str, Outcome] = {}
        self.seen: dict[str, Incoming] = {}

    async def handle(self, inc: Incoming) -> Outcome:
        self.seen[inc.event_key] = inc
        outcome = await super().handle(inc)
        self.outcomes[inc.event_key] = outcome
        return outcome


@dataclass
class Running:
    fake: FakeTelegram
    front: TelegramFrontend
    app: App
    console: Desk
    mode: str

    def key(self, update: dict[str, Any]) -> str:
        return f"telegram:{self.fake.bot_id}:{update['update_id']}"

    async def handled(self, update: dict[str, Any]) -> None:
        await self.fake.wait_confirmed(update["update_id"])

    async def count(self, model: Any, *where: Any) -> int:
        async with self.app.db.transaction() as s:
            n: int = (await s.exec(select(func.count()).select_from(model).where(*where))).one()
            return n

    async def telegram_outbox(self, chat: int | None = None) -> list[OutboxMessage]:
        async with self.app.db.transaction() as s:
            q = select(OutboxMessage).where(OutboxMessage.platform == "telegram")
            if chat is not None:
                q = q.where(OutboxMessage.chat_id == str(chat))
            return list(await s.exec(q.order_by(OutboxMessage.id)))  # type: ignore[arg-type]

    async def tickets(self) -> list[tuple[Any, ...]]:
        async with self.app.db.transaction() as s:
            rows = await s.exec(select(Ticket).order_by(Ticket.id))  # type: ignore[arg-type]
            return [(t.id, t.status, t.assignee_id, t.tier, t.team) for t in rows]


@asynccontextmanager
async def running(db_url: str, mode: str = "polling", *, start: bool = True,
                  **fake_options: Any) -> AsyncIterator[Running]:
    fake = FakeTelegram(token=TOKEN, rate_limits=False, **fake_options)
    await fake.start()
    sock: socket.socket | None = None
    url = None
    if mode == "webhook":
        sock = loopback_socket()
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/telegram/webhook"
    config = make_config(lambda data: data.__setitem__("telegram", telegram_section(fake, mode)))
    if url is not None:
        config = pointing_at(config, url)
    front = TelegramFrontend(config, sender=RecordingSender(platform="telegram"), desk=Watching(),
                             polling_timeout_s=5)
    app = build(config, senders={"telegram": front.sender, "console": RecordingSender()},
                database_url=db_url, clock=FakeClock(), kb=FakeKb())
    await app.start()
    console = await Desk.open(app)
    front.bind(app)
    runner: web.AppRunner | None = None
    if sock is not None:
        runner = await serve(front.routes(), sock)
    try:
        if start:
            await front.start()
        yield Running(fake, front, app, console, mode)
    finally:
        await front.stop()
        await front.close()
        if runner is not None:
            await runner.cleanup()
        await app.close()
        await fake.close()


def people(fake: FakeTelegram) -> tuple[Person, Person, Group]:
    return (fake.user(ANNA, "Anna", last_name="Ivanova", language_code="ru"),
            fake.user(BORIS, "Boris", language_code="ru"),
            fake.group(IT_CHAT, "IT", forum=False))


# --- start -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_start_registers_menus_and_the_receiving_mode(sqlite_url: str, mode: str) -> None:
    async with running(sqlite_url, mode) as r:
        fake = r.fake
        assert r.front.desk.bot_id == fake.bot_id
        menus = {key: [c["command"] for c in cmds] for key, cmds in fake.commands.items()}
        for lang in ("en", "ru", ""):
            assert menus[(_scope_key(fake, "all_private_chats"), lang)] == list(PRIVATE_COMMANDS)
            assert menus[(_scope_key(fake, "all_group_chats"), lang)] == list(GROUP_COMMANDS)
        ru = {c["command"]: c["description"] for c in fake.commands[(_scope_key(fake, "all_private_chats"), "ru")]}
        assert ru["new"] == "Новый запрос"
        if mode == "polling":
            assert fake.calls_of("deleteWebhook")
            await fake.wait_call("getUpdates")
            assert fake.poll_allowed_updates == ALLOWED_UPDATES
        else:
            assert fake.webhook is not None
            assert fake.webhook["secret_token"] == SECRET
            assert fake.webhook["allowed_updates"] == ALLOWED_UPDATES
            assert fake.webhook["url"].endswith("/telegram/webhook")
            assert not fake.calls_of("getUpdates")
        assert r.front.health()["connected"] is True


def _scope_key(fake: FakeTelegram, scope: str) -> str:
    return fake._scope_key({"scope": {"type": scope}})


# --- one effect however often an update comes --------------------------------------------


def update_of(message: dict[str, Any]) -> dict[str, Any]:
    """The update that carried a message the fake stored (as Telegram would send it again)."""
    return {"update_id": message["_update_id"],
            "message": {k: v for k, v in message.items() if not k.startswith("_")}}


@pytest.mark.parametrize("mode", MODES)
async def test_the_same_update_five_times_has_one_effect(db_url: str, mode: str) -> None:
    async with running(db_url, mode, start=False) as r:
        anna, _, _ = people(r.fake)
        first = await anna.says("не работает VPN")
        if mode == "polling":
            # Telegram hands out an unconfirmed update again on every getUpdates: here the
            # same update is waiting five times when the poller starts.
            for _ in range(4):
                await r.fake.push_update(update_of(first), redeliver=True)
            await r.front.start()
            await r.handled({"update_id": first["_update_id"]})
        else:
            await r.front.start()
            await r.handled({"update_id": first["_update_id"]})
            statuses = [await r.fake.post_webhook(update_of(first)) for _ in range(4)]
            assert statuses == [200, 200, 200, 200]
        key = r.key({"update_id": first["_update_id"]})
        assert await r.count(InboxEvent, InboxEvent.event_key == key) == 1
        replies = await r.telegram_outbox(ANNA)
        assert len(replies) == 1  # the KB suggestions, once
        assert r.front.desk.handled == 5  # five deliveries reached the engine; four were no-ops
        assert sum(o.duplicate for o in r.front.desk.outcomes.values()) <= 1  # keyed per event


# --- the webhook's secret --------------------------------------------------------------------


@pytest.mark.parametrize("secret", [None, "wrong-secret", SECRET + "x", SECRET[:-1], ""])
async def test_webhook_without_the_right_secret_is_401_and_stores_nothing(sqlite_url: str, secret: str | None) -> None:
    async with running(sqlite_url, "webhook") as r:
        anna, _, _ = people(r.fake)
        msg = anna._message(None, None, None, {"text": "не работает VPN"})
        body = {"message": {k: v for k, v in msg.items() if not k.startswith("_")}}
        assert await r.fake.post_webhook(body, secret=secret) == 401
        assert await r.count(InboxEvent) == 0
        assert await r.telegram_outbox() == []
        assert r.front.desk.handled == 0
        # The same update with the secret is taken (so the 401 was about the secret only).
        assert await r.fake.post_webhook(body) == 200
        assert await r.count(InboxEvent) == 1


async def test_webhook_handler_error_is_500_so_telegram_redelivers(sqlite_url: str) -> None:
    async with running(sqlite_url, "webhook", webhook_retries=1, webhook_retry_delay=0.01) as r:
        anna, _, _ = people(r.fake)
        real = r.front.desk.app
        assert real is not None
        failing = {"left": 1}
        original = real.engine.handle

        async def flaky(inc: Incoming) -> Outcome:
            if failing["left"]:
                failing["left"] -= 1
                raise RuntimeError("database went away")
            return await original(inc)

        real.engine.handle = flaky  # type: ignore[method-assign]
        update = await anna.says("не работает VPN")
        await r.handled({"update_id": update["_update_id"]})
        statuses = [p.status for p in r.fake.webhook_posts if p.update_id == update["_update_id"]]
        assert statuses == [500, 200]
        assert await r.count(InboxEvent) == 1
        assert len(await r.telegram_outbox(ANNA)) == 1


# --- button presses: always answered; a forged one changes nothing ----------------------


def card_in(fake: FakeTelegram, chat: int, text: str = "card") -> dict[str, Any]:
    """A message of the bot in ``chat`` to press forged buttons on."""
    return fake.store_message({"message_id": fake.new_message_id(chat), "from": fake.bot_user,
                               "chat": dict(fake.chats[chat]), "date": 1, "text": text})


@pytest.mark.parametrize("mode", MODES)
async def test_forged_presses_are_refused_and_change_nothing(sqlite_url: str, mode: str) -> None:
    async with running(sqlite_url, mode) as r:
        anna, boris, it = people(r.fake)
        desk = r.console
        it_ticket = await open_ticket(desk, "anna", "не работает VPN")
        hr_ticket = await open_ticket(desk, "anna", "сколько дней отпуска у меня осталось")
        closed = await open_ticket(desk, "anna", "сломался принтер на 3 этаже")
        await desk.say("boris", f"/take {closed}")
        await desk.say("boris", f"/resolve {closed}")
        before = await r.tickets()
        teams = {row[0]: row[4] for row in before}
        assert (teams[it_ticket], teams[hr_ticket], teams[closed]) == ("it", "hr", "it")
        assert {row[0]: row[1] for row in before}[closed] == Status.RESOLVED
        outbox_before = len(await r.telegram_outbox())

        card = card_in(r.fake, IT_CHAT)
        forged = {
            "garbage": "nonsense",
            "old prefix": "b0|claim|%d|" % it_ticket,
            "too long for any button": "b1|claim|" + "9" * 50,
            "another team's ticket": callbacks.encode(Button("Claim", "claim", hr_ticket)),
            "a closed ticket": callbacks.encode(Button("Claim", "claim", closed)),
            "a requester action by an agent": callbacks.encode(Button("5", "rate", closed, "5")),
        }
        for what, data in forged.items():
            press = await boris.presses_data(card, data, chat=it)
            answer = await press.answered()
            outcome = r.front.desk.outcomes[r.key(press.update)]
            # Answered exactly as the engine decided: its refusal as an alert, else quietly.
            assert answer["show_alert"] is bool(outcome.alert), what
            assert (answer.get("text") or None) == outcome.alert, what
            assert not outcome.duplicate, what
            assert outcome.alert or outcome.outgoing, f"{what}: refused without a word"
        assert await r.tickets() == before
        # Every press reached the engine once (it re-authorised each); a refusal not shown as
        # an alert went only to where the press was — never to anna or the HR team.
        keys = [k for k in r.front.desk.outcomes]
        assert len(keys) == len(forged)
        assert await r.count(InboxEvent, InboxEvent.event_key.in_(keys)) == len(forged)  # type: ignore[attr-defined]
        new = (await r.telegram_outbox())[outbox_before:]
        assert {m.chat_id for m in new} <= {str(IT_CHAT), str(BORIS)}


@pytest.mark.parametrize("mode", MODES)
async def test_every_press_is_answered_even_on_an_inaccessible_message(sqlite_url: str, mode: str) -> None:
    async with running(sqlite_url, mode) as r:
        anna, _, _ = people(r.fake)
        card = card_in(r.fake, ANNA)
        press = await anna.presses_data(card, "garbage")
        answer = await press.answered()
        assert answer is not None
        assert len(r.fake.calls_of("answerCallbackQuery")) == 1


# --- what is not text ----------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_unsupported_content_is_answered_in_private_and_ignored_in_group_chatter(sqlite_url: str, mode: str) -> None:
    async with running(sqlite_url, mode) as r:
        anna, boris, it = people(r.fake)
        sent = [await anna.sends_sticker(), await anna.sends_location(), await anna.sends_contact()]
        for update in sent:
            await r.handled({"update_id": update["_update_id"]})
        answers = await r.telegram_outbox(ANNA)
        assert len(answers) == len(sent)
        assert all(a.payload["text"] for a in answers)
        for update in sent:
            outcome = r.front.desk.outcomes[r.key({"update_id": update["_update_id"]})]
            assert [o.destination.chat_id for o in outcome.outgoing] == [str(ANNA)]

        chatter = [await boris.sends_sticker(chat=it), await boris.says("обед?", chat=it)]
        for update in chatter:
            await r.handled({"update_id": update["_update_id"]})
        keys = [r.key({"update_id": u["_update_id"]}) for u in chatter]
        assert await r.count(InboxEvent, InboxEvent.event_key.in_(keys)) == 0  # type: ignore[attr-defined]
        assert await r.telegram_outbox(IT_CHAT) == []


@pytest.mark.parametrize("mode", MODES)
async def test_blocking_the_bot_reaches_the_desk(sqlite_url: str, mode: str) -> None:
    async with running(sqlite_url, mode) as r:
        anna, _, _ = people(r.fake)
        for update in (await anna.blocks_bot(), await anna.unblocks_bot()):
            await r.handled(update)
            assert r.key(update) in r.front.desk.outcomes


async def test_stop_in_polling_mode_is_prompt_and_confirms_what_was_handled(sqlite_url: str) -> None:
    import asyncio

    async with running(sqlite_url, "polling") as r:
        anna, _, _ = people(r.fake)
        update = await anna.says("не работает VPN")
        await r.handled({"update_id": update["_update_id"]})
        await r.fake.wait_call("getUpdates", lambda c: c.params.get("offset") is not None)
        loop = asyncio.get_running_loop()
        began = loop.time()
        await asyncio.wait_for(r.front.stop(), 5)
        assert loop.time() - began < 2  # the 5 s long poll was not waited out
        assert r.front.health()["connected"] is False
        assert r.fake.updates == []



@pytest.mark.parametrize("mode", MODES)
async def test_files_forwards_and_edits_arrive_as_aiogram_parsed_them(sqlite_url: str, mode: str) -> None:
    async with running(sqlite_url, mode) as r:
        anna, boris, _ = people(r.fake)
        photo = await anna.sends_photo("скриншот ошибки", size=150_000)
        document = await anna.sends_document("big.log", size=25 * 1024 * 1024, mime_type="text/plain")
        forwarded = await anna.forwards("ошибка 0x80070005", origin=boris)
        said = await anna.says("VPN не работает")
        edit = await anna.edits(said, "VPN не работает с понедельника")
        for m in (photo, document, forwarded, said):
            await r.handled({"update_id": m["_update_id"]})
        await r.handled(edit)
        seen = r.front.desk.seen
        got = seen[r.key({"update_id": photo["_update_id"]})]
        assert got.text == "скриншот ошибки"
        assert [(a.kind, a.size, a.platform) for a in got.attachments] == [("photo", 150_000, "telegram")]
        assert got.attachments[0].file_id == photo["photo"][-1]["file_id"]  # the largest size
        doc = seen[r.key({"update_id": document["_update_id"]})].attachments
        assert [(a.kind, a.name, a.mime_type, a.size) for a in doc] == [
            ("document", "big.log", "text/plain", 25 * 1024 * 1024)]
        assert seen[r.key({"update_id": forwarded["_update_id"]})].forwarded_from == "Boris"
        edited = seen[r.key(edit)]
        assert (edited.edit_of, edited.text) == (str(said["message_id"]), "VPN не работает с понедельника")
        assert all(r.key({"update_id": m["_update_id"]}) in r.front.desk.outcomes for m in (photo, document))
