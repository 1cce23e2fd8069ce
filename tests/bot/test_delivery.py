"""The outbox worker (``bot/delivery.py``) with a scripted fake sender, on SQLite and
PostgreSQL: order per chat, rate limits, blocked recipients, backoff, card edits, and
nothing lost across a restart."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from sqlmodel import col, select

from bot.app import build
from bot.config import Config
from bot.delivery import OutboxWorker, RecipientBlocked, RetryAfter, backoff
from handlers.events import Destination, Incoming, Reply
from store import outbox, tickets
from store.db import Database
from store.models import OutboxMessage, OutboxStatus, Person, TicketPost
from tests.support.clock import FakeClock
from tests.support.desk import RecordingSender

PLATFORM = "fake"


@dataclass
class ScriptedSender:
    """Records every call; raises the exceptions set up for a message text."""

    platform: str = PLATFORM
    calls: list[tuple[str, str, str, str | None]] = field(default_factory=list)  # kind, chat, text, edited id
    failures: dict[str, list[Exception]] = field(default_factory=dict)
    always: dict[str, Exception] = field(default_factory=dict)
    _next_id: int = 0

    def fail(self, text: str, *errors: Exception) -> None:
        """The next calls for ``text`` raise ``errors``, one each."""
        self.failures.setdefault(text, []).extend(errors)

    def _maybe_fail(self, text: str) -> None:
        if text in self.always:
            raise self.always[text]
        queued = self.failures.get(text)
        if queued:
            raise queued.pop(0)

    async def send(self, dest: Destination, reply: Reply) -> str | None:
        self.calls.append(("send", dest.chat_id, reply.text, None))
        self._maybe_fail(reply.text)
        self._next_id += 1
        return f"m{self._next_id}"

    async def edit(self, dest: Destination, message_id: str, reply: Reply) -> None:
        self.calls.append(("edit", dest.chat_id, reply.text, message_id))
        self._maybe_fail(reply.text)

    def sent_to(self, chat: str) -> list[str]:
        return [text for kind, c, text, _ in self.calls if c == chat]


@pytest.fixture
def sender() -> ScriptedSender:
    return ScriptedSender()


@pytest.fixture
def worker(database: Database, sender: ScriptedSender, clock: FakeClock) -> OutboxWorker:
    return OutboxWorker(database, {PLATFORM: sender}, clock)


async def enqueue(db: Database, clock: FakeClock, chat: str, text: str, *, platform: str = PLATFORM,
                  ticket_id: int | None = None, card: str | None = None) -> int:
    async with db.transaction() as s:
        row = await outbox.enqueue(s, platform=platform, chat_id=chat, payload=Reply(text).to_payload(),
                                   now=clock(), ticket_id=ticket_id, card=card)
        assert row.id is not None
        return row.id


async def row(db: Database, row_id: int) -> OutboxMessage:
    async with db.transaction() as s:
        return await s.get_one(OutboxMessage, row_id)


async def test_delivers_everything_in_order_per_chat(
    database: Database, worker: OutboxWorker, sender: ScriptedSender, clock: FakeClock
) -> None:
    ids = [await enqueue(database, clock, chat, text)
           for chat, text in [("A", "a1"), ("B", "b1"), ("A", "a2"), ("B", "b2"), ("A", "a3")]]
    other = await enqueue(database, clock, "A", "not for this worker", platform="elsewhere")

    assert await worker.deliver_pending() == 5

    assert sender.sent_to("A") == ["a1", "a2", "a3"]
    assert sender.sent_to("B") == ["b1", "b2"]
    for row_id in ids:
        r = await row(database, row_id)
        assert (r.status, r.attempts, r.sent_at) == (OutboxStatus.SENT, 1, clock.now)
        assert r.message_id is not None
    assert (await row(database, other)).status == OutboxStatus.PENDING
    assert await worker.deliver_pending() == 0
    assert len(sender.calls) == 5


async def test_retry_after_holds_the_chat_while_other_chats_proceed(
    database: Database, worker: OutboxWorker, sender: ScriptedSender, clock: FakeClock
) -> None:
    a1 = await enqueue(database, clock, "A", "a1")
    a2 = await enqueue(database, clock, "A", "a2")
    b1 = await enqueue(database, clock, "B", "b1")
    sender.fail("a1", RetryAfter(5))
    start = clock.now

    assert await worker.deliver_pending() == 1

    assert sender.calls == [("send", "A", "a1", None), ("send", "B", "b1", None)]
    r1 = await row(database, a1)
    assert (r1.status, r1.attempts, r1.next_attempt_at) == (OutboxStatus.PENDING, 1, start + timedelta(seconds=5))
    assert r1.last_error == "retry after 5s"
    assert (await row(database, a2)).status == OutboxStatus.PENDING  # waits behind a1
    assert (await row(database, b1)).status == OutboxStatus.SENT

    clock.advance(seconds=4)
    assert await worker.deliver_pending() == 0
    assert len(sender.calls) == 2  # a1 not due yet, a2 still behind it

    clock.advance(seconds=1)
    assert await worker.deliver_pending() == 2
    assert sender.sent_to("A") == ["a1", "a1", "a2"]
    assert [(await row(database, i)).status for i in (a1, a2)] == [OutboxStatus.SENT, OutboxStatus.SENT]


async def test_a_blocked_recipient_is_marked_and_not_retried(
    database: Database, worker: OutboxWorker, sender: ScriptedSender, clock: FakeClock
) -> None:
    a1 = await enqueue(database, clock, "A", "a1")
    b1 = await enqueue(database, clock, "B", "b1")
    sender.fail("a1", RecipientBlocked("bot was blocked by the user"))

    await worker.deliver_pending()

    r = await row(database, a1)
    assert (r.status, r.attempts, r.last_error) == (OutboxStatus.BLOCKED, 1, "bot was blocked by the user")
    assert (await row(database, b1)).status == OutboxStatus.SENT
    clock.advance(hours=1)
    assert await worker.deliver_pending() == 0
    assert [c[2] for c in sender.calls] == ["a1", "b1"]


async def test_other_failures_back_off_and_give_up_after_max_attempts(
    database: Database, worker: OutboxWorker, sender: ScriptedSender, clock: FakeClock
) -> None:
    a1 = await enqueue(database, clock, "A", "a1")
    a2 = await enqueue(database, clock, "A", "a2")
    sender.always["a1"] = ConnectionError("connection reset")

    delays = []
    for attempt in range(1, outbox.MAX_ATTEMPTS):
        await worker.deliver_pending()
        r = await row(database, a1)
        assert (r.status, r.attempts) == (OutboxStatus.PENDING, attempt)
        assert r.last_error == "ConnectionError: connection reset"
        delays.append(r.next_attempt_at - clock.now)
        if attempt == 1:  # not due a second before: no call
            clock.advance(seconds=delays[0].total_seconds() - 1)
            await worker.deliver_pending()
            assert len(sender.calls) == 1
            clock.advance(seconds=1)
        else:
            clock.now = r.next_attempt_at
    assert delays == [backoff(n) for n in range(1, outbox.MAX_ATTEMPTS)]
    assert delays[:3] == [timedelta(seconds=2), timedelta(seconds=4), timedelta(seconds=8)]
    assert sender.sent_to("A") == ["a1"] * (outbox.MAX_ATTEMPTS - 1)  # a2 waited behind a1 all along

    await worker.deliver_pending()  # the last attempt

    r = await row(database, a1)
    assert (r.status, r.attempts) == (OutboxStatus.FAILED, outbox.MAX_ATTEMPTS)
    clock.advance(hours=1)
    await worker.deliver_pending()
    assert sender.sent_to("A") == ["a1"] * outbox.MAX_ATTEMPTS + ["a2"]  # given up: the chat moves on
    assert (await row(database, a2)).status == OutboxStatus.SENT


def test_backoff_doubles_up_to_a_cap() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [2, 4, 8, 16]
    assert backoff(30) == timedelta(minutes=10)


async def test_a_card_is_sent_once_then_edited_in_place(
    database: Database, worker: OutboxWorker, sender: ScriptedSender, clock: FakeClock
) -> None:
    async with database.transaction() as s:
        person = Person(key="anna", name="Anna")
        s.add(person)
        await s.flush()
        assert person.id is not None
        ticket = await tickets.create_ticket(
            s, team="it", category="network", priority="normal", requester_id=person.id, text="VPN",
            platform=PLATFORM, now=clock(), first_response_due=None, resolution_due=None,
        )
        number = ticket.id
    assert number is not None
    await enqueue(database, clock, "Q", "card v1", ticket_id=number, card="queue")
    await enqueue(database, clock, "Q2", "card v1 elsewhere", ticket_id=number, card="queue")
    await enqueue(database, clock, "Q", "a plain message about the ticket", ticket_id=number)

    await worker.deliver_pending()

    async with database.transaction() as s:
        posts = list(await s.exec(select(TicketPost).order_by(col(TicketPost.id))))
    assert [(p.ticket_id, p.platform, p.chat_id, p.card, p.message_id) for p in posts] == [
        (number, PLATFORM, "Q", "queue", "m1"), (number, PLATFORM, "Q2", "queue", "m2")
    ]

    v2 = await enqueue(database, clock, "Q", "card v2", ticket_id=number, card="queue")
    sender.fail("card v3", RetryAfter(1))
    v3 = await enqueue(database, clock, "Q", "card v3", ticket_id=number, card="queue")
    await worker.deliver_pending()
    clock.advance(seconds=1)
    await worker.deliver_pending()

    assert sender.calls == [
        ("send", "Q", "card v1", None),
        ("send", "Q2", "card v1 elsewhere", None),
        ("send", "Q", "a plain message about the ticket", None),
        ("edit", "Q", "card v2", "m1"),
        ("edit", "Q", "card v3", "m1"),  # rate limited once, retried as an edit
        ("edit", "Q", "card v3", "m1"),
    ]
    assert [(await row(database, i)).message_id for i in (v2, v3)] == ["m1", "m1"]
    async with database.transaction() as s:
        assert len(list(await s.exec(select(TicketPost)))) == 2


async def test_run_delivers_until_stopped(database: Database, clock: FakeClock) -> None:
    stop = asyncio.Event()

    class StoppingSender(ScriptedSender):
        async def send(self, dest: Destination, reply: Reply) -> str | None:
            message_id = await super().send(dest, reply)
            if reply.text == "last":
                stop.set()
            return message_id

    sender = StoppingSender()
    worker = OutboxWorker(database, {PLATFORM: sender}, clock)
    for text in ("first", "last"):
        await enqueue(database, clock, "A", text)

    await asyncio.wait_for(worker.run(stop, idle_seconds=0.01), timeout=10)

    assert sender.sent_to("A") == ["first", "last"]


# --- a crash between the engine's commit and delivery loses nothing ----------------------------------


class NoKb:
    """A knowledge base that never has an answer (so the flow goes straight to category)."""

    def search(self, text: str, limit: int = 3, *, lang: str | None = None) -> Sequence[object]:
        return []

    def article(self, slug: str) -> None:
        return None

    def record_feedback(self, query: str, slug: str, solved: bool) -> None:
        raise AssertionError("no feedback expected")


def console_event(key: str, *, text: str = "", action: str | None = None) -> Incoming:
    return Incoming(platform="console", chat_id="anna", user_id="anna", event_key=key, text=text, action=action)


async def test_a_restart_after_commit_delivers_what_was_not_sent(config: Config, db_url: str, clock: FakeClock) -> None:
    before = RecordingSender()
    app = build(config, senders={"console": before}, database_url=db_url, clock=clock, kb=NoKb())  # type: ignore[arg-type]
    await app.start()
    await app.add_identities("console")
    await app.engine.handle(console_event("e1", text="не печатает принтер"))
    await app.engine.handle(console_event("e2", action="cat_ok"))
    await app.close()  # "crash": committed, never delivered
    assert before.messages == []

    after = RecordingSender()
    restarted = build(config, senders={"console": after}, database_url=db_url, clock=clock, kb=NoKb())  # type: ignore[arg-type]
    await restarted.start()
    try:
        while await restarted.worker.deliver_pending():
            pass
        anna = [m.text for m in after.messages if m.chat == "anna"]
        boris = [m for m in after.messages if m.chat == "boris"]
        assert anna[0].startswith("Оформим заявку. Это про «Оборудование и принтеры»?")
        assert anna[1].startswith("Заявка #1 создана: не печатает принтер")
        assert len(anna) == 2
        assert [(m.ticket_id, m.edited) for m in boris] == [(1, False)] and "Взять" in boris[0].labels()

        assert await restarted.worker.deliver_pending() == 0  # and nothing twice
        assert len(after.messages) == 3
        async with restarted.db.transaction() as s:
            assert await outbox.backlog(s) == 0
    finally:
        await restarted.close()


async def test_a_blocked_person_is_remembered_and_not_tried_again_until_they_write(
    database: Database, worker: OutboxWorker, sender: ScriptedSender, clock: FakeClock
) -> None:
    from store import people
    from store.models import Identity

    async def identity() -> Identity:
        async with database.transaction() as s:
            return (await s.exec(select(Identity).where(Identity.platform == PLATFORM))).one()

    async def write_from_anna() -> None:
        async with database.transaction() as s:
            await people.resolve_sender(s, PLATFORM, "u-anna", display_name="Anna", locale=None,
                                        chat_id="dm-anna", private=True, now=clock())

    await write_from_anna()
    first = await enqueue(database, clock, "dm-anna", "first")
    sender.fail("first", RecipientBlocked("Forbidden: bot was blocked by the user"))
    assert await worker.deliver_pending() == 1
    assert (await identity()).unreachable_at == clock.now
    assert (await row(database, first)).status == OutboxStatus.BLOCKED

    clock.advance(minutes=5)
    later = await enqueue(database, clock, "dm-anna", "later")
    other = await enqueue(database, clock, "dm-boris", "other")
    await worker.deliver_pending()
    assert sender.sent_to("dm-anna") == ["first"]  # "later" was not attempted
    assert sender.sent_to("dm-boris") == ["other"]  # other chats are not affected
    later_row = await row(database, later)
    assert (later_row.status, later_row.last_error) == (OutboxStatus.BLOCKED, "recipient unreachable")
    assert (await row(database, other)).status == OutboxStatus.SENT

    await write_from_anna()  # she unblocked the bot and wrote: reachable again
    assert (await identity()).unreachable_at is None
    again = await enqueue(database, clock, "dm-anna", "again")
    assert await worker.deliver_pending() == 1
    assert sender.sent_to("dm-anna") == ["first", "again"]
    assert (await row(database, again)).status == OutboxStatus.SENT


TOKEN_URL = "https://api.telegram.org/bot123456:ABC-DEF_secret/sendMessage"
DB_URL = "postgresql+asyncpg://desk:p@ss@db.local/desk"


async def test_last_error_never_keeps_a_bot_token_or_a_database_password(
    database: Database, worker: OutboxWorker, sender: ScriptedSender, clock: FakeClock
) -> None:
    a1 = await enqueue(database, clock, "A", "a1")
    b1 = await enqueue(database, clock, "B", "b1")
    sender.fail("a1", ConnectionError(f"cannot reach {TOKEN_URL}"))
    sender.fail("b1", RecipientBlocked(f"blocked at {TOKEN_URL} ({DB_URL})"))

    await worker.deliver_pending()

    a, b = await row(database, a1), await row(database, b1)
    assert a.last_error == "ConnectionError: cannot reach https://api.telegram.org/bot***/sendMessage"
    assert b.last_error == "blocked at https://api.telegram.org/bot***/sendMessage (postgresql+asyncpg://desk:***@db.local/desk)"
    assert "ABC-DEF" not in a.last_error + b.last_error and "p@ss" not in b.last_error
