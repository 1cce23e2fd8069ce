"""The outbox worker (``bot/delivery.py``) with a scripted fake sender, on SQLite and
PostgreSQL: order per chat, rate limits, blocked recipients, backoff, card edits, and
nothing lost across a restart."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import col, select

from bot.app import build
from bot.config import Config
from bot.delivery import OutboxWorker, RateLimit, RatePolicy, RecipientBlocked, RetryAfter, backoff, make_limiter
from handlers.events import Destination, Incoming, Reply
from store import outbox, tickets
from store.db import Database
from store.models import OutboxMessage, OutboxStatus, Person, TicketPost
from tests.support.clock import FakeClock
from tests.support.desk import RecordingSender

PLATFORM = "fake"


@dataclass
class ScriptedSender:
    """Records every call; raises the exceptions set up for a message text; can hold a send
    open (``hold``) until the test releases it, and declare a rate policy and costs."""

    platform: str = PLATFORM
    calls: list[tuple[str, str, str, str | None]] = field(default_factory=list)  # kind, chat, text, edited id
    failures: dict[str, list[Exception]] = field(default_factory=dict)
    always: dict[str, Exception] = field(default_factory=dict)
    rate_policy: RatePolicy | None = None
    costs: dict[str, int] = field(default_factory=dict)  # text -> platform calls it takes
    gone: set[str] = field(default_factory=set)  # message ids that no longer exist (edit sends anew)
    holds: dict[str, asyncio.Event] = field(default_factory=dict)  # text -> released when set
    costed: list[str] = field(default_factory=list)  # texts whose cost the worker asked for
    times: dict[str, float] = field(default_factory=dict)  # text -> loop time of its (last) call
    in_flight: int = 0
    max_in_flight: int = 0
    finished: int = 0
    _next_id: int = 0
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def fail(self, text: str, *errors: Exception) -> None:
        """The next calls for ``text`` raise ``errors``, one each."""
        self.failures.setdefault(text, []).extend(errors)

    def hold(self, text: str) -> asyncio.Event:
        """The call for ``text`` stays in flight until the returned event is set."""
        return self.holds.setdefault(text, asyncio.Event())

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until ``predicate()`` holds (re-checked after every call the sender sees)."""
        async with asyncio.timeout(timeout):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

    def cost(self, dest: Destination, reply: Reply) -> int:
        self.costed.append(reply.text)
        self._changed.set()
        return self.costs.get(reply.text, 1)

    async def _call(self, kind: str, dest: Destination, reply: Reply, edited: str | None) -> None:
        self.calls.append((kind, dest.chat_id, reply.text, edited))
        self.times[reply.text] = asyncio.get_running_loop().time()
        self._changed.set()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            gate = self.holds.get(reply.text)
            if gate is not None:
                await gate.wait()
            if reply.text in self.always:
                raise self.always[reply.text]
            queued = self.failures.get(reply.text)
            if queued:
                raise queued.pop(0)
        finally:
            self.in_flight -= 1
            self.finished += 1
            self._changed.set()

    async def send(self, dest: Destination, reply: Reply) -> str | None:
        await self._call("send", dest, reply, None)
        self._next_id += 1
        return f"m{self._next_id}"

    async def edit(self, dest: Destination, message_id: str, reply: Reply) -> str | None:
        await self._call("edit", dest, reply, message_id)
        if message_id in self.gone:
            self._next_id += 1
            return f"m{self._next_id}"
        return None

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
    # a 429 is not a failed attempt: it never uses up MAX_ATTEMPTS
    assert (r1.status, r1.attempts, r1.next_attempt_at) == (OutboxStatus.PENDING, 0, start + timedelta(seconds=5))
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


# --- concurrency, rate limits and shutdown ------------------------------------------------------------


class LoopClock:
    """Moves the running event loop's clock forward by hand. aiolimiter and asyncio's timers
    read ``loop.time()``, so a test can let "a minute" pass without waiting for it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._real = loop.time
        self.offset = 0.0

    def time(self) -> float:
        return self._real() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture
async def loop_clock(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[LoopClock]:
    loop = asyncio.get_running_loop()
    lc = LoopClock(loop)
    monkeypatch.setattr(loop, "time", lc.time)
    yield lc


async def eventually(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait for a state the worker reaches on its own (checked each turn of the loop)."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.001)


async def drive(loop_clock: LoopClock, task: asyncio.Task[int], step: float = 0.25) -> int:
    """Let loop time run fast until ``task`` is done (the test then asserts on loop times)."""
    while not task.done():
        loop_clock.advance(step)
        await asyncio.sleep(0.001)
    return task.result()


async def statuses(db: Database, *row_ids: int) -> list[str]:
    return [(await row(db, i)).status for i in row_ids]


async def test_chats_are_served_concurrently_with_one_message_in_flight_per_chat(
    database: Database, sender: ScriptedSender, clock: FakeClock
) -> None:
    worker = OutboxWorker(database, {PLATFORM: sender}, clock, concurrency=64)
    ids = [await enqueue(database, clock, chat, text)
           for chat, text in [("A", "a1"), ("A", "a2"), ("B", "b1"), ("C", "c1"), ("C", "c2")]]
    gates = [sender.hold(text) for text in ("a1", "b1", "c1")]

    passing = asyncio.create_task(worker.deliver_pending())
    await sender.wait_for(lambda: sender.in_flight == 3)

    assert sorted(c[2] for c in sender.calls) == ["a1", "b1", "c1"]  # all three chats at once...
    assert "a2" not in sender.costed and "c2" not in sender.costed  # ...but never two of one chat
    for gate in gates:
        gate.set()
    assert await asyncio.wait_for(passing, 10) == 5
    assert sender.sent_to("A") == ["a1", "a2"] and sender.sent_to("C") == ["c1", "c2"]
    assert await statuses(database, *ids) == [OutboxStatus.SENT] * 5


async def test_concurrency_bounds_the_sends_in_flight(
    database: Database, sender: ScriptedSender, clock: FakeClock
) -> None:
    worker = OutboxWorker(database, {PLATFORM: sender}, clock, concurrency=2)
    for n in range(6):
        await enqueue(database, clock, f"chat{n}", f"t{n}")
    gates = {f"t{n}": sender.hold(f"t{n}") for n in range(6)}

    passing = asyncio.create_task(worker.deliver_pending())
    for n in range(6):  # release one at a time: the next chat starts only then
        await sender.wait_for(lambda: sender.finished == n and sender.in_flight == min(2, 6 - n))
        assert len(sender.calls) == n + sender.in_flight
        gates[sender.calls[n][2]].set()
    assert await asyncio.wait_for(passing, 10) == 6
    assert sender.max_in_flight == 2


async def test_a_busy_database_after_a_send_delays_the_record_instead_of_sending_again(
    database: Database, sender: ScriptedSender, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite's write lock held past busy_timeout by a long event transaction: the outcome of a
    send that went out is written once the lock is free, and the message is not sent twice."""
    a1 = await enqueue(database, clock, "A", "a1")
    a2 = await enqueue(database, clock, "A", "a2")
    real = database.transaction
    busy = 0

    @contextlib.asynccontextmanager
    async def transaction() -> AsyncIterator[object]:
        nonlocal busy
        if sender.calls and busy < 2:  # the first two tries to record a1's outcome
            busy += 1
            raise OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked"))
        async with real() as s:
            yield s

    monkeypatch.setattr(database, "transaction", transaction)
    seen: list[str] = []
    worker = OutboxWorker(database, {PLATFORM: sender}, clock, on_send=lambda _p, outcome: seen.append(outcome))
    monkeypatch.setattr("bot.delivery.RECORD_RETRY_SECONDS", 0.01)

    assert await worker.deliver_pending() == 2
    assert busy == 2
    assert sender.sent_to("A") == ["a1", "a2"]  # a1 once, though recording it failed twice
    assert await statuses(database, a1, a2) == [OutboxStatus.SENT, OutboxStatus.SENT]
    assert seen == ["sent", "sent"]  # the metrics hook counted each send once


@pytest.mark.parametrize(("per_second", "burst"), [(1, 1), (10, 1), (20, 2), (30, 2)])
async def test_a_limiter_lets_a_second_send_through_at_once_only_at_fast_rates(per_second: int, burst: int) -> None:
    """A rested limiter's bucket: one token below 20/s (a send over the rate there is a large
    share of a sliding window's allowance), two from 20/s up (absorbing the event loop's lateness)."""
    limiter = make_limiter(RateLimit(per_second, 1.0))
    for _ in range(burst):
        assert limiter.has_capacity()
        await limiter.acquire()
    assert not limiter.has_capacity()  # the next one waits for the steady rate


@pytest.mark.parametrize("bound", ["concurrency", "max_chats"])
async def test_a_slow_platform_does_not_hold_back_another(
    database: Database, clock: FakeClock, bound: str
) -> None:
    """Send slots and lanes are per platform: while a slow platform's sends take every slot
    (or lane) it may have, another platform's rows still go out. ``bound`` is the one set to 1."""
    slow, fast = ScriptedSender(platform="slow"), ScriptedSender(platform="fast")
    limits = {"concurrency": 1, "max_chats": 1000} if bound == "concurrency" else {"concurrency": 64, "max_chats": 1}
    worker = OutboxWorker(database, {"slow": slow, "fast": fast}, clock, **limits)
    await enqueue(database, clock, "S1", "s1", platform="slow")  # the oldest rows are the slow platform's
    await enqueue(database, clock, "S2", "s2", platform="slow")
    for n in range(3):
        await enqueue(database, clock, f"F{n}", f"f{n}", platform="fast")
    gate = slow.hold("s1")

    passing = asyncio.create_task(worker.deliver_pending())
    await slow.wait_for(lambda: slow.in_flight == 1)
    await fast.wait_for(lambda: fast.finished == 3)  # the fast platform got through while s1 is stuck
    assert sorted(fast.sent_to(f"F{n}")[0] for n in range(3)) == ["f0", "f1", "f2"]
    assert slow.calls == [("send", "S1", "s1", None)]  # still one slow send at a time (its bound is 1)
    gate.set()
    assert await asyncio.wait_for(passing, 10) == 5
    assert slow.max_in_flight == 1


async def test_the_sequential_worker_sends_one_at_a_time(
    database: Database, sender: ScriptedSender, clock: FakeClock
) -> None:
    worker = OutboxWorker(database, {PLATFORM: sender}, clock, concurrency=1)
    for chat, text in [("A", "a1"), ("B", "b1"), ("A", "a2"), ("C", "c1")]:
        await enqueue(database, clock, chat, text)
    assert await worker.deliver_pending() == 4
    assert sender.max_in_flight == 1
    assert sender.sent_to("A") == ["a1", "a2"]


async def test_a_platform_wide_retry_after_pauses_every_chat_until_it_expires(
    database: Database, sender: ScriptedSender, clock: FakeClock
) -> None:
    seen: list[tuple[str, str]] = []
    worker = OutboxWorker(database, {PLATFORM: sender}, clock, concurrency=1,
                          on_send=lambda platform, outcome: seen.append((platform, outcome)))
    a1 = await enqueue(database, clock, "A", "a1")
    b1 = await enqueue(database, clock, "B", "b1")
    sender.fail("a1", RetryAfter(3, scope="platform"))
    start = clock.now

    assert await worker.deliver_pending() == 0

    assert [c[2] for c in sender.calls] == ["a1"]  # b1 was not tried during the pause
    assert worker.paused_until(PLATFORM) == start + timedelta(seconds=3)
    r = await row(database, a1)
    assert (r.status, r.attempts, r.next_attempt_at) == (OutboxStatus.PENDING, 0, start + timedelta(seconds=3))
    assert r.last_error == "retry after 3s (platform)"
    assert (await row(database, b1)).attempts == 0  # untouched: it keeps its place
    assert seen == [(PLATFORM, "retry_after")]

    clock.advance(seconds=2.9)
    assert await worker.deliver_pending() == 0
    assert len(sender.calls) == 1

    clock.advance(seconds=0.1)
    assert worker.paused_until(PLATFORM) is None
    assert await worker.deliver_pending() == 2
    assert [c[2] for c in sender.calls] == ["a1", "a1", "b1"]
    assert await statuses(database, a1, b1) == [OutboxStatus.SENT, OutboxStatus.SENT]
    assert seen[1:] == [(PLATFORM, "sent"), (PLATFORM, "sent")]


async def test_a_platform_pause_stops_chats_waiting_for_their_turn(
    database: Database, sender: ScriptedSender, clock: FakeClock
) -> None:
    """With sends in flight at once, the 429 of one stops the others that have not gone out yet."""
    worker = OutboxWorker(database, {PLATFORM: sender}, clock, concurrency=1)
    a1 = await enqueue(database, clock, "A", "a1")
    others = [await enqueue(database, clock, f"chat{n}", f"t{n}") for n in range(5)]
    gate = sender.hold("a1")
    sender.fail("a1", RetryAfter(1, scope="platform"))

    passing = asyncio.create_task(worker.deliver_pending())
    await sender.wait_for(lambda: sender.in_flight == 1)
    await sender.wait_for(lambda: len(sender.costed) == 6)  # the others queue for the one slot
    gate.set()
    assert await asyncio.wait_for(passing, 10) == 0

    assert [c[2] for c in sender.calls] == ["a1"]
    assert await statuses(database, a1, *others) == [OutboxStatus.PENDING] * 6
    clock.advance(seconds=1)
    assert await worker.deliver_pending() == 6


async def test_rate_limiting_never_uses_up_the_attempts(
    database: Database, worker: OutboxWorker, sender: ScriptedSender, clock: FakeClock
) -> None:
    a1 = await enqueue(database, clock, "A", "a1")
    sender.fail("a1", *[RetryAfter(1) for _ in range(2 * outbox.MAX_ATTEMPTS)])
    for _ in range(2 * outbox.MAX_ATTEMPTS):
        assert await worker.deliver_pending() == 0
        assert (await row(database, a1)).status == OutboxStatus.PENDING
        clock.advance(seconds=1)
    assert await worker.deliver_pending() == 1
    r = await row(database, a1)
    assert (r.status, r.attempts) == (OutboxStatus.SENT, 1)
    assert len(sender.calls) == 2 * outbox.MAX_ATTEMPTS + 1


async def test_a_chat_limit_spaces_the_messages_of_one_chat_not_of_others(
    database: Database, sender: ScriptedSender, clock: FakeClock, loop_clock: LoopClock
) -> None:
    sender.rate_policy = RatePolicy(per_chat=lambda chat: RateLimit(20, 60) if chat.startswith("-") else None)
    worker = OutboxWorker(database, {PLATFORM: sender}, clock)
    for chat, text in [("-1", "g1"), ("-1", "g2"), ("7", "p1"), ("7", "p2"), ("7", "p3")]:
        await enqueue(database, clock, chat, text)

    passing = asyncio.create_task(worker.deliver_pending())
    await sender.wait_for(lambda: "g2" in sender.costed and sender.sent_to("7") == ["p1", "p2", "p3"])
    assert sender.sent_to("-1") == ["g1"]  # the group's second message waits for its turn
    loop_clock.advance(3)  # 20 per minute: one every 3 s
    assert await asyncio.wait_for(passing, 10) == 5

    assert sender.sent_to("-1") == ["g1", "g2"]
    assert sender.times["g2"] - sender.times["g1"] >= 3
    assert sender.times["p3"] - sender.times["p1"] < 3  # the private chat had no limit


async def test_the_overall_limit_is_taken_per_platform_call_a_reply_costs(
    database: Database, sender: ScriptedSender, clock: FakeClock, loop_clock: LoopClock
) -> None:
    sender.rate_policy = RatePolicy(overall=RateLimit(2, 1))
    sender.costs["long"] = 3  # e.g. a text split into three messages
    worker = OutboxWorker(database, {PLATFORM: sender}, clock)
    for chat, text in [("A", "long"), ("A", "after"), ("B", "b1"), ("C", "c1"), ("D", "d1")]:
        await enqueue(database, clock, chat, text)

    started = loop_clock.time()
    assert await drive(loop_clock, asyncio.create_task(worker.deliver_pending())) == 5

    times = sorted(sender.times.values())
    # 7 tokens at 2 a second, evenly spaced (a bucket of one: no burst on top of the rate)
    assert times[-1] - started >= 3
    assert all(b - a >= 0.5 for a, b in zip(times, times[1:], strict=False))
    assert sender.sent_to("A") == ["long", "after"]
    assert sender.times["long"] - started >= 1  # its three tokens took at least two intervals


async def test_idle_chat_limiters_are_forgotten(
    database: Database, sender: ScriptedSender, clock: FakeClock, loop_clock: LoopClock
) -> None:
    sender.rate_policy = RatePolicy(per_chat=lambda chat: RateLimit(1, 3600))
    worker = OutboxWorker(database, {PLATFORM: sender}, clock)
    for n in range(200):
        await enqueue(database, clock, str(n), f"t{n}")
    assert await worker.deliver_pending() == 200
    assert worker.prune_limiters() == 0  # every chat just used its hour

    loop_clock.advance(3600)
    assert worker.prune_limiters() == 200
    assert worker.prune_limiters() == 0
    await enqueue(database, clock, "5", "again")  # a forgotten chat starts with a fresh bucket
    assert await worker.deliver_pending() == 1
    assert sender.sent_to("5") == ["t5", "again"]


async def test_an_edit_of_a_message_that_is_gone_becomes_the_cards_new_post(
    database: Database, sender: ScriptedSender, clock: FakeClock
) -> None:
    seen: list[str] = []
    worker = OutboxWorker(database, {PLATFORM: sender}, clock, on_send=lambda _p, outcome: seen.append(outcome))
    number = await new_ticket(database, clock)
    await enqueue(database, clock, "Q", "card v1", ticket_id=number, card="queue")
    await worker.deliver_pending()
    sender.gone.add("m1")  # someone deleted the card
    v2 = await enqueue(database, clock, "Q", "card v2", ticket_id=number, card="queue")
    v3 = await enqueue(database, clock, "Q", "card v3", ticket_id=number, card="queue")

    assert await worker.deliver_pending() == 2

    assert sender.calls == [("send", "Q", "card v1", None), ("edit", "Q", "card v2", "m1"),
                            ("edit", "Q", "card v3", "m2")]  # the next edit goes to the new message
    assert [(await row(database, i)).message_id for i in (v2, v3)] == ["m2", "m2"]
    async with database.transaction() as s:
        post = await outbox.find_post(s, number, PLATFORM, "Q", "queue")
    assert post is not None and post.message_id == "m2"
    assert seen == ["sent", "sent", "edited"]


async def new_ticket(db: Database, clock: FakeClock) -> int:
    async with db.transaction() as s:
        person = Person(key="anna", name="Anna")
        s.add(person)
        await s.flush()
        assert person.id is not None
        ticket = await tickets.create_ticket(
            s, team="it", category="network", priority="normal", requester_id=person.id, text="VPN",
            platform=PLATFORM, now=clock(), first_response_due=None, resolution_due=None,
        )
        assert ticket.id is not None
        return ticket.id


async def test_the_send_hook_sees_every_outcome(database: Database, sender: ScriptedSender, clock: FakeClock) -> None:
    seen: list[tuple[str, str]] = []
    worker = OutboxWorker(database, {PLATFORM: sender}, clock, on_send=lambda p, o: seen.append((p, o)))
    for chat, text in [("A", "ok"), ("B", "slow down"), ("C", "blocked"), ("D", "broken")]:
        await enqueue(database, clock, chat, text)
    sender.fail("slow down", RetryAfter(1))
    sender.fail("blocked", RecipientBlocked("Forbidden"))
    sender.fail("broken", TimeoutError())

    assert await worker.deliver_pending() == 2
    assert sorted(seen) == [(PLATFORM, "blocked"), (PLATFORM, "error"), (PLATFORM, "retry_after"), (PLATFORM, "sent")]


async def test_backlog_counts_pending_rows_and_the_age_of_the_oldest(
    database: Database, worker: OutboxWorker, sender: ScriptedSender, clock: FakeClock
) -> None:
    assert await worker.backlog() == (0, None)
    await enqueue(database, clock, "A", "a1")
    clock.advance(seconds=30)
    await enqueue(database, clock, "B", "b1")
    sender.always["a1"] = ConnectionError("down")
    clock.advance(seconds=15)
    assert await worker.backlog() == (2, 45.0)
    await worker.deliver_pending()
    assert await worker.backlog() == (1, 45.0)  # a1 waits for its retry


async def test_a_crash_between_sending_and_recording_sends_again_and_loses_nothing(
    database: Database, worker: OutboxWorker, sender: ScriptedSender, clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a1 = await enqueue(database, clock, "A", "a1")
    real = outbox.record

    async def crash(*args: object, **kwargs: object) -> None:
        raise ConnectionError("database went away")

    monkeypatch.setattr(outbox, "record", crash)
    assert await worker.deliver_pending() == 0
    assert (await row(database, a1)).status == OutboxStatus.PENDING  # sent, but not recorded

    monkeypatch.setattr(outbox, "record", real)
    restarted = OutboxWorker(database, {PLATFORM: sender}, clock)
    assert await restarted.deliver_pending() == 0  # still claimed by the dead worker: not yet
    clock.advance(seconds=outbox.CLAIM_SECONDS)  # its lease runs out
    assert await restarted.deliver_pending() == 1
    assert sender.sent_to("A") == ["a1", "a1"]  # at least once: twice, never zero times
    assert (await row(database, a1)).status == OutboxStatus.SENT


async def test_shutdown_lets_sends_in_flight_finish_and_leaves_the_rest_pending(
    database: Database, sender: ScriptedSender, clock: FakeClock, loop_clock: LoopClock
) -> None:
    sender.rate_policy = RatePolicy(per_chat=lambda chat: RateLimit(1, 60))
    worker = OutboxWorker(database, {PLATFORM: sender}, clock)
    a1 = await enqueue(database, clock, "A", "a1")
    a2 = await enqueue(database, clock, "A", "a2")  # waits a minute behind a1
    b1 = await enqueue(database, clock, "B", "b1")
    gate = sender.hold("b1")
    stop = asyncio.Event()

    running = asyncio.create_task(worker.run(stop, idle_seconds=3600))
    await sender.wait_for(lambda: "a2" in sender.costed and sender.in_flight == 1)
    assert worker.active_chats == 2
    stop.set()
    await eventually(lambda: worker.stopping and worker.active_chats == 1)  # A stopped waiting
    assert not running.done()  # b1 is still in flight: run waits for it
    gate.set()
    await asyncio.wait_for(running, 10)

    assert await statuses(database, a1, a2, b1) == [OutboxStatus.SENT, OutboxStatus.PENDING, OutboxStatus.SENT]
    assert [c[2] for c in sender.calls] == ["a1", "b1"]
    later = OutboxWorker(database, {PLATFORM: sender}, clock)  # the next start sends what was left
    assert await later.deliver_pending() == 1
    assert sender.sent_to("A") == ["a1", "a2"]


async def test_shutdown_gives_up_on_a_send_that_does_not_finish_in_time(
    database: Database, sender: ScriptedSender, clock: FakeClock, loop_clock: LoopClock
) -> None:
    worker = OutboxWorker(database, {PLATFORM: sender}, clock, shutdown_timeout=5)
    a1 = await enqueue(database, clock, "A", "a1")
    sender.hold("a1")  # never released: the platform hangs
    stop = asyncio.Event()

    running = asyncio.create_task(worker.run(stop, idle_seconds=3600))
    await sender.wait_for(lambda: sender.in_flight == 1)
    stop.set()
    await eventually(lambda: worker.stopping)
    assert not running.done()
    loop_clock.advance(5)  # the shutdown timeout passes
    await asyncio.wait_for(running, 10)

    assert sender.in_flight == 0  # the hanging call was cancelled
    assert (await row(database, a1)).status == OutboxStatus.PENDING  # and will be sent again


async def test_run_takes_new_rows_when_woken(database: Database, sender: ScriptedSender, clock: FakeClock) -> None:
    worker = OutboxWorker(database, {PLATFORM: sender}, clock)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop, idle_seconds=3600))
    await enqueue(database, clock, "A", "a1")
    worker.wake()
    await sender.wait_for(lambda: sender.sent_to("A") == ["a1"])
    stop.set()
    await asyncio.wait_for(running, 10)
    assert await worker.backlog() == (0, None)


async def test_regression_a_lane_ending_while_the_heads_are_read_does_not_send_its_row_twice(
    database: Database, sender: ScriptedSender, clock: FakeClock
) -> None:
    """A fill claimed heads while a1 was in flight; a1's lane then recorded a1 as sent and
    ended before the fill went on. Starting a lane from a stale head would send a1 again:
    a1 was claimed (not due), so no fill may take it."""
    read, go_on = asyncio.Event(), asyncio.Event()
    worker = OutboxWorker(database, {PLATFORM: sender}, clock)
    real = worker._claim
    calls = 0

    async def slow_claim(*args: object) -> list[outbox.Due]:
        nonlocal calls
        calls += 1
        claimed = await real(*args)  # type: ignore[arg-type]
        if calls == 2:
            read.set()
            await go_on.wait()
        return claimed

    worker._claim = slow_claim  # type: ignore[method-assign]
    await enqueue(database, clock, "A", "a1")
    gate = sender.hold("a1")
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop, idle_seconds=3600))
    await sender.wait_for(lambda: sender.in_flight == 1)
    worker.wake()
    await asyncio.wait_for(read.wait(), 10)  # the second fill claimed while a1 is in flight
    gate.set()
    await eventually(lambda: worker.active_chats == 0)  # a1 recorded as sent, its lane gone
    go_on.set()
    worker.wake()
    await eventually(lambda: calls >= 3)  # a later fill ran too
    stop.set()
    await asyncio.wait_for(running, 10)

    assert sender.sent_to("A") == ["a1"]


async def test_send_slots_go_to_the_oldest_row_first() -> None:
    from bot.delivery import _OldestFirst

    slots = _OldestFirst(1)
    order: list[int] = []
    await slots.acquire(0)

    async def want(priority: int) -> None:
        async with slots.slot(priority):
            order.append(priority)

    waiting = [asyncio.create_task(want(p)) for p in (30, 10, 20)]
    cancelled = asyncio.create_task(want(5))
    await eventually(lambda: len(slots._waiters) == 4)
    cancelled.cancel()
    slots.release()
    await asyncio.wait_for(asyncio.gather(*waiting), 10)
    assert order == [10, 20, 30]
    assert cancelled.cancelled()


def test_recording_is_tried_again_after_a_busy_sqlite_or_a_postgresql_deadlock_only() -> None:
    """A recorder write that fails is tried again when trying again can work (the sends it
    records went out: giving up means sending them again after the lease)."""
    from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

    from bot.delivery import _worth_retrying

    class Orig(Exception):
        def __init__(self, sqlstate: str | None) -> None:
            super().__init__("x")
            self.sqlstate = sqlstate

    assert _worth_retrying(OperationalError("UPDATE outbox", {}, Exception("database is locked")))
    assert _worth_retrying(DBAPIError("UPDATE outbox", {}, Orig("40P01")))  # deadlock detected
    assert _worth_retrying(DBAPIError("UPDATE outbox", {}, Orig("40001")))  # serialization failure
    assert not _worth_retrying(OperationalError("UPDATE outbox", {}, Exception("disk I/O error")))
    assert not _worth_retrying(IntegrityError("INSERT ticket_post", {}, Orig("23505")))


async def test_a_row_held_for_a_retry_goes_out_when_its_delay_is_up_not_at_the_next_poll(
    database: Database, sender: ScriptedSender, clock: FakeClock, loop_clock: LoopClock
) -> None:
    """The run loop sleeps until the next held row is due. It learns that time from the
    outcome it records (a 429 for one chat), not from an idle poll: with polls an hour
    apart, a1 still goes out 5 s after the 429, and not before."""
    worker = OutboxWorker(database, {PLATFORM: sender}, clock)
    a1 = await enqueue(database, clock, "A", "a1")
    sender.fail("a1", RetryAfter(5))
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop, idle_seconds=3600))
    # The 429 is recorded, the loop read when a1 is due again and sleeps until then.
    await eventually(lambda: worker._recorder.batches == 1 and worker._held_known and worker._held_at is not None)
    assert worker._held_at == clock() + timedelta(seconds=5)
    clock.advance(seconds=4)
    loop_clock.advance(4)
    for _ in range(20):
        await asyncio.sleep(0)
    assert sender.sent_to("A") == ["a1"]  # 4 s: still held
    clock.advance(seconds=1)
    loop_clock.advance(1)
    await sender.wait_for(lambda: sender.sent_to("A") == ["a1", "a1"])
    stop.set()
    await asyncio.wait_for(running, 10)
    assert (await row(database, a1)).status == OutboxStatus.SENT
