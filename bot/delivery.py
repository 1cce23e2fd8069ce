"""The outbox worker: delivers what the engine wrote, through one sender per platform.

A sender turns a neutral :class:`~handlers.events.Reply` into platform calls. It
reports failures by raising :class:`RetryAfter` (rate limited: try again after
the given delay), :class:`RecipientBlocked` (stop trying this recipient) or any
other exception (transient: retry with exponential backoff).

Delivery is concurrent across chats and ordered within a chat: each chat with due
rows gets a *lane* (a task) that sends its rows one at a time, so a chat never has
more than one message in flight and a row that waits for a retry holds back the
later rows of its chat. The sender's :class:`RatePolicy` is enforced with
aiolimiter's ``AsyncLimiter``: one for the platform overall and one per chat
(created when the chat is first served, dropped again once its bucket is empty).
A ``RetryAfter`` scoped to the platform pauses every send of that platform until it
expires; one scoped to the chat holds that chat. Rate limiting is not a failure: it
never uses up a row's attempts.

Rows are claimed in batches (``store.outbox.claim_due`` / ``claim``: one statement for
every chat that can start) and their outcomes written in batches too: a lane hands its
outcome to the *recorder*, which writes every outcome that arrived while the previous
write was committing in one transaction (group commit) and claims each settled chat's
next row in it. A commit that writes outbox rows in this process wakes the worker at once
(``store.outbox.on_commit``); the idle poll remains for rows written by other processes.

Delivery is at least once: the platform is called outside any transaction and the
outcome recorded afterwards, so a crash in between sends the message again once its
claim runs out (``outbox.CLAIM_SECONDS``), and never loses it. Rows claimed but not yet
tried are handed back at once on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Protocol, TypeVar

from aiolimiter import AsyncLimiter
from sqlalchemy.exc import DBAPIError, OperationalError

from bot.config import redact_secrets
from handlers.events import Destination, Reply
from handlers.ports import Clock
from store import outbox
from store.db import Database

log = logging.getLogger("deskbot.delivery")

T = TypeVar("T")

BASE_BACKOFF = timedelta(seconds=2)
MAX_BACKOFF = timedelta(minutes=10)
SWEEP_SECONDS = 30.0  # how often idle per-chat limiters are forgotten
FAST_LIMIT = 20.0  # sends per second from which a limiter's bucket holds FAST_BUCKET tokens
FAST_BUCKET = 2
RECORD_TRIES = 4  # a busy SQLite (another long write transaction) before the outcome of a send is given up
RECORD_RETRY_SECONDS = 0.5


class RetryAfter(Exception):
    """The platform asked us to slow down (HTTP 429 / ``retry_after``).

    ``scope`` says what must wait: ``"chat"`` (only this chat) or ``"platform"`` (every
    chat of this sender: Telegram's flood control does not say which limit was hit).
    """

    def __init__(self, seconds: float, scope: str = "chat") -> None:
        self.seconds = seconds
        self.scope = scope
        super().__init__(f"retry after {seconds}s" + ("" if scope == "chat" else f" ({scope})"))


@dataclass(frozen=True)
class RateLimit:
    """At most ``count`` sends per ``period`` seconds."""

    count: float
    period: float


@dataclass(frozen=True)
class RatePolicy:
    """The limits a sender declares and the worker enforces: one for the whole platform
    and one per chat (which may depend on the chat: Telegram groups are slower than DMs)."""

    overall: RateLimit | None = None
    per_chat: Callable[[str], RateLimit | None] | None = None

    def for_chat(self, chat_id: str) -> RateLimit | None:
        return self.per_chat(chat_id) if self.per_chat is not None else None


UNLIMITED = RatePolicy()


class RecipientBlocked(Exception):
    """The recipient cannot be reached (blocked the bot, chat deleted, not a member)."""


class Sender(Protocol):
    """Delivers replies on one platform.

    A sender may declare ``rate_policy: RatePolicy`` (the worker enforces it; none means
    unlimited) and ``def cost(dest, reply) -> int`` (platform calls one reply takes, e.g.
    the parts of a long text; 1 when absent).
    """

    platform: str

    async def send(self, dest: Destination, reply: Reply) -> str | None:
        """Send a new message; return its platform message id (for later edits)."""
        ...

    async def edit(self, dest: Destination, message_id: str, reply: Reply) -> str | None:
        """Replace an earlier message's text and buttons.

        Returns ``None`` when the message was edited in place, or the id of a new message
        when the old one no longer exists and the sender sent the reply anew (the worker
        then remembers the new message as the card's post, so later edits go there).
        """
        ...


async def masking(call: Awaitable[T], secret: str | None, error: type[Exception]) -> T:
    """Await a sender's platform call so that no failure leaving it carries ``secret`` (the
    bot token): one whose text contains it is re-raised as ``error`` with it masked. The
    worker's own outcomes (RetryAfter, RecipientBlocked) pass through unchanged."""
    try:
        return await call
    except (RetryAfter, RecipientBlocked):
        raise
    except Exception as exc:
        if secret and secret in str(exc):
            raise error(f"{type(exc).__name__}: {str(exc).replace(secret, '***')}") from None
        raise


def backoff(attempts: int) -> timedelta:
    return min(BASE_BACKOFF * (2 ** max(0, attempts - 1)), MAX_BACKOFF)


def make_limiter(limit: RateLimit) -> AsyncLimiter:
    """An ``AsyncLimiter`` for ``limit.count`` sends per ``limit.period``, evenly spaced.

    The bucket is small on purpose: a bucket of ``count`` would allow a burst of ``count``
    on top of the steady rate (twice the limit in the first period, which platforms that
    count in a sliding window answer with a 429). Slow limits (a chat's 1/s, a group's
    20/min) get a bucket of one. Fast ones (Telegram's 30/s overall) get two: with one,
    every token handed out a millisecond late by the event loop is lost for good, which
    costs 5–10 % of the rate at 30/s; the second token absorbs that lateness, at the price
    of at most one send above the rate in any one period. Only from FAST_LIMIT (20/s) up:
    at 10/s (a Slack workspace limit) that one send is 10 % over, which a sliding window
    answers with a 429 (bench/flood.py saw 39 of them at 10/s), and a late token costs less.
    """
    per_second = limit.count / limit.period
    bucket = FAST_BUCKET if per_second >= FAST_LIMIT else 1
    return AsyncLimiter(bucket, bucket / per_second)


async def take(limiter: AsyncLimiter, amount: float) -> None:
    """Take ``amount`` tokens, in steps no larger than the bucket (aiolimiter refuses more)."""
    while amount > 0:
        step = min(amount, limiter.max_rate)
        await limiter.acquire(step)
        amount -= step


class _OldestFirst:
    """A semaphore whose waiters are served by priority (lowest first), not by arrival: the
    send slots go to the oldest outbox rows, so a chat that had to wait (for its turn, for a
    pause) is not sent to the back of the queue behind every newer row."""

    def __init__(self, slots: int) -> None:
        self._free = slots
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    async def acquire(self, priority: int) -> None:
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, next(self._seq), fut))
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.release()  # granted, then cancelled before it could use the slot
            raise

    def release(self) -> None:
        while self._waiters:
            _, _, fut = heapq.heappop(self._waiters)
            if not fut.done():
                fut.set_result(None)
                return
        self._free += 1

    @contextlib.asynccontextmanager
    async def slot(self, priority: int) -> AsyncIterator[None]:
        await self.acquire(priority)
        try:
            yield
        finally:
            self.release()


SendHook = Callable[[str, str], None]
"""Called with ``(platform, outcome)`` after every platform call, outcome one of
``"sent"``, ``"edited"``, ``"retry_after"``, ``"blocked"``, ``"error"``."""


class _End(Enum):
    """Why a lane stopped working on its chat."""

    DRAINED = "drained"  # no more due rows in the chat
    HELD = "held"  # the head row waits for a retry (backoff or the chat's retry_after)
    PAUSED = "paused"  # the platform is paused; the row was not tried
    STOPPING = "stopping"  # shutdown


@dataclass
class _Lane:
    key: tuple[str, str]
    task: asyncio.Task[None] | None = None
    busy: bool = False  # a send (or the recording of its outcome) is under way
    row_id: int | None = None  # the claimed row in hand (not yet recorded)


def _worth_retrying(exc: DBAPIError) -> bool:
    """A write that may succeed if tried again: SQLite busy past its timeout, or a
    PostgreSQL serialization failure / deadlock (the transaction was rolled back whole)."""
    if isinstance(exc, OperationalError) and "database is locked" in str(exc):
        return True
    return getattr(exc.orig, "sqlstate", None) in ("40001", "40P01")


class _Recorder:
    """Group commit: outcomes handed in while a write is committing go together in the next
    one. Each caller gets back the next claimed row of its chat (``None``: none due)."""

    def __init__(self, worker: OutboxWorker) -> None:
        self.worker = worker
        self._queue: list[tuple[outbox.Outcome, asyncio.Future[outbox.Due | None]]] = []
        self._task: asyncio.Task[None] | None = None
        self.batches = 0  # transactions written (for tests and the bench)

    async def submit(self, item: outbox.Outcome) -> outbox.Due | None:
        fut: asyncio.Future[outbox.Due | None] = asyncio.get_running_loop().create_future()
        self._queue.append((item, fut))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush(), name="outbox recorder")
        # Shielded: a lane cancelled (shutdown) while its outcome is being written does not
        # abandon the write; it is recorded all the same.
        return await asyncio.shield(fut)

    async def drain(self) -> None:
        """Wait for every outcome handed in so far to be written."""
        while self._task is not None and not self._task.done():
            await asyncio.gather(self._task, return_exceptions=True)

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # let the lanes finishing in this loop turn join the first batch
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                nexts = await self.worker._write([item for item, _ in batch])
            except Exception as exc:  # noqa: BLE001 — each lane sees it (and cools down)
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            finally:
                self.batches += 1
                async with self.worker._recorded:  # committed (or failed): whoever waits looks again
                    self.worker._recorded.notify_all()
            for item, fut in batch:
                if not fut.done():
                    fut.set_result(nexts.get((item.row.platform, item.row.chat_id)) if item.settled else None)


class OutboxWorker:
    """Moves pending outbox rows to their platforms and records the outcome of each.

    ``concurrency`` bounds the platform calls in flight at once (over all chats), per
    platform; ``max_chats`` bounds the chats being worked on (lanes, each holding one row),
    per platform. Per platform, so that a slow platform's backlog (Slack's workspace limit,
    a long pause) cannot take every slot and lane and hold back a faster platform's sends.
    ``shutdown_timeout`` is how long :meth:`run` lets in-flight sends finish once
    stopped. ``on_send`` is the metrics hook (see :data:`SendHook`).
    """

    def __init__(
        self,
        db: Database,
        senders: Mapping[str, Sender],
        clock: Clock,
        *,
        concurrency: int = 64,
        max_chats: int = 1000,
        shutdown_timeout: float = 5.0,
        on_send: SendHook | None = None,
    ) -> None:
        if concurrency < 1 or max_chats < 1:
            raise ValueError("concurrency and max_chats must be at least 1")
        self.db = db
        self.senders = dict(senders)
        self.clock = clock
        self.concurrency = concurrency
        self.max_chats = max_chats
        self.shutdown_timeout = shutdown_timeout
        self.on_send = on_send
        self._wake = asyncio.Event()
        self._slots: dict[str, _OldestFirst] = {}  # per platform, created on first use
        self._lanes: dict[tuple[str, str], _Lane] = {}
        self._lanes_of: Counter[str] = Counter()  # lanes per platform
        self._overall: dict[str, AsyncLimiter | None] = {}
        self._overall_turn: dict[str, asyncio.Lock] = {}
        self._per_chat: dict[tuple[str, str], AsyncLimiter] = {}
        self._paused_until: dict[str, datetime] = {}
        self._cooldown: dict[tuple[str, str], float] = {}  # chats whose lane crashed, until (loop time)
        self._handed_back: set[int] = set()  # claimed rows never tried: released at the next chance
        self._recheck: set[tuple[str, str]] = set()  # chats whose new head came while their lane ended
        # When the earliest held row (one waiting for a retry) becomes due, as last read; None
        # with _held_known: none is held. Only this worker holds rows back (a retry or a 429 it
        # records), so the read is needed again only after it did, or once that time came.
        self._held_at: datetime | None = None
        self._held_known = False
        self._recorder = _Recorder(self)
        self.claims = 0  # claim statements (batches) run, for tests and the bench
        self._stopping = False
        self._running = False  # inside run(): lanes wait out a platform pause instead of ending
        self._saturated = False
        self._settled = 0
        self._recorded = asyncio.Condition()  # notified after each delivery attempt is recorded
        self._last_sweep = 0.0
        outbox.on_commit(db.engine, self.wake)  # new rows committed in this process: look at once

    # --- public ---------------------------------------------------------------------------------

    def wake(self) -> None:
        """Tell a running :meth:`run` loop there is new work."""
        self._wake.set()

    async def deliver_pending(self) -> int:
        """One pass: deliver every row that is due now, concurrently across chats, and wait
        for it; returns how many rows were settled (sent, edited or blocked).

        Each chat is worked on at most once per pass, so a chat that got new rows meanwhile
        waits for the next pass (``while await worker.deliver_pending(): pass`` drains all).
        """
        before = self._settled
        seen: set[tuple[str, str]] = set()
        try:
            while True:
                await self._fill(seen)
                tasks = [lane.task for lane in self._lanes.values() if lane.task is not None]
                if not tasks:
                    if self._saturated and not self._stopping:
                        # A platform had no room when the fill began, and its lanes ended
                        # while it read the heads: look again now that it has room.
                        continue
                    break
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            rest = [lane.task for lane in self._lanes.values() if lane.task is not None]
            if rest:
                await asyncio.wait(rest)
            await self._recorder.drain()
            await self._hand_back()
        return self._settled - before

    async def run(self, stop: asyncio.Event, *, idle_seconds: float = 1.0, shutdown_timeout: float | None = None) -> None:
        """Deliver until ``stop`` is set, waking early when :meth:`wake` is called.

        Once stopped no new row is taken; sends in flight get ``shutdown_timeout`` seconds to
        finish and be recorded (lanes only waiting for their turn stop at once); everything
        else stays pending for the next start. Returns when that is done.
        """
        timeout = self.shutdown_timeout if shutdown_timeout is None else shutdown_timeout
        self._running = True
        try:
            while not stop.is_set():
                self._wake.clear()  # before the pass: a wake during the pass is not lost
                delay = idle_seconds
                try:
                    await self._fill(None)
                    delay = await self._idle_delay(idle_seconds)
                except Exception:  # noqa: BLE001 — the worker must outlive one bad pass
                    log.exception("outbox pass failed")
                if stop.is_set():
                    break
                waiters = {asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())}
                _, pending = await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
                for task in pending:
                    task.cancel()
        finally:
            self._running = False
            await self._shut_down(timeout)

    async def backlog(self) -> tuple[int, float | None]:
        """Pending rows, and the age in seconds of the oldest one (``None`` when there is none)."""
        async with self.db.read() as s:
            count, oldest = await outbox.backlog_age(s)
        age = None if oldest is None else max(0.0, (self.clock() - oldest).total_seconds())
        return count, age

    @property
    def active_chats(self) -> int:
        """Chats being worked on now (each has at most one message in flight)."""
        return len(self._lanes)

    @property
    def stopping(self) -> bool:
        """Whether :meth:`run` is shutting down (waiting for the sends in flight)."""
        return self._stopping

    def paused_until(self, platform: str) -> datetime | None:
        """Until when every send of ``platform`` waits (a platform-wide ``retry_after``)."""
        until = self._paused_until.get(platform)
        return until if until is not None and until > self.clock() else None

    # --- scheduling -----------------------------------------------------------------------------

    async def _fill(self, seen: set[tuple[str, str]] | None) -> int:
        """Claim the due first rows of chats that have no lane (one batch) and start their lanes."""
        if self._stopping:
            return 0
        self._sweep()
        await self._hand_back()
        free = {p: self.max_chats - self._lanes_of[p] for p in self.senders if self.paused_until(p) is None}
        platforms = [p for p, room in free.items() if room > 0]
        if not platforms:
            self._saturated = bool(free)
            return 0
        now = self.clock()
        self._recheck.clear()
        # First one claim for every platform at once, as many heads as the smallest room (so
        # none gets more than it has room for): at a steady stream of events that is the
        # whole batch, in one read and one write. Only when it fills up does each platform
        # claim its own oldest heads, as many as it still has room for: one platform's
        # backlog must not fill the batch while another has room.
        claimed: list[outbox.Due] = []
        self._saturated = len(platforms) < len(free)
        limit = min(free[p] for p in platforms)
        if len(platforms) > 1:
            claimed = await self._claim(platforms, now, limit)
        if len(platforms) == 1 or len(claimed) >= limit:
            taken = Counter(due.row.platform for due in claimed)
            for p in platforms:
                room = free[p] - taken[p]
                if room <= 0:
                    self._saturated = True
                    continue
                got = await self._claim([p], now, room)
                self._saturated = self._saturated or len(got) >= room
                claimed.extend(got)
        loop_now = asyncio.get_running_loop().time()
        started: Counter[str] = Counter()
        for due in claimed:
            key = (due.row.platform, due.row.chat_id)
            lane = self._lanes.get(key)
            if lane is not None and lane.row_id == due.row.id:
                continue  # our own row, waiting in its lane past the lease: the claim is renewed
            if (lane is not None or (seen is not None and key in seen)
                    or self._cooldown.get(key, 0.0) > loop_now or self._stopping):
                # A lane that is just ending, a chat done in this pass, one cooling down: not now.
                self._handed_back.add(due.row.id)  # type: ignore[arg-type]
                if lane is not None:
                    self._recheck.add(key)
                continue
            if started[key[0]] >= free[key[0]]:
                self._handed_back.add(due.row.id)  # type: ignore[arg-type]
                self._saturated = True
                continue
            if seen is not None:
                seen.add(key)
            lane = _Lane(key, row_id=due.row.id)
            self._lanes[key] = lane
            self._lanes_of[key[0]] += 1
            lane.task = asyncio.create_task(self._lane(lane, due), name=f"outbox {key[0]}:{key[1]}")
            lane.task.add_done_callback(lambda _t, lane=lane: self._lane_done(lane))
            started[key[0]] += 1
        if self._handed_back:
            await self._hand_back()
        return sum(started.values())

    async def _claim(self, platforms: list[str], now: datetime, limit: int) -> list[outbox.Due]:
        """Claim up to ``limit`` due chat heads. PostgreSQL: one ``UPDATE … SKIP LOCKED … RETURNING``.
        SQLite: the heads are read outside the write lock, then claimed by one compare-and-set
        ``UPDATE … RETURNING`` under ``BEGIN IMMEDIATE`` (the write is short and taken late)."""
        self.claims += 1
        if self.db.dialect == "sqlite":
            async with self.db.read() as s:
                candidates = await outbox.due_heads(s, platforms, now, limit=limit)
            if not candidates:
                return []
            async with self.db.transaction() as s:
                return await outbox.claim(s, candidates, now)
        async with self.db.transaction() as s:
            return await outbox.claim_due(s, platforms, now, limit)

    async def _hand_back(self) -> None:
        """Release the claimed rows that were never tried (due again now, for anyone)."""
        if not self._handed_back:
            return
        ids, self._handed_back = self._handed_back, set()
        try:
            async with self.db.transaction() as s:
                await outbox.release(s, ids, self.clock())
        except Exception:  # noqa: BLE001 — they come back anyway when their lease runs out
            self._held_known = False  # ... at their lease's end: look when that is
            log.exception("could not hand back %d claimed outbox rows", len(ids))

    def _lane_done(self, lane: _Lane) -> None:
        if self._lanes.get(lane.key) is lane:
            del self._lanes[lane.key]
            self._lanes_of[lane.key[0]] -= 1
        if lane.key in self._recheck:
            self._wake.set()  # its chat got a row while it was ending: take it now
        if self._saturated and self.max_chats - self._lanes_of[lane.key[0]] >= max(1, self.max_chats // 10):
            self._wake.set()  # chats were left out for want of room: take them now

    async def _idle_delay(self, idle_seconds: float) -> float:
        """How long the run loop may sleep: until the next held chat or paused platform is due."""
        now = self.clock()
        wake_at = [until for p in self.senders if (until := self.paused_until(p)) is not None]
        if not self._held_known or (self._held_at is not None and self._held_at <= now):
            # One read per change, not one per pass: at a steady stream of events the worker
            # wakes for every commit, and this read was a transaction of its own each time.
            async with self.db.read() as s:
                self._held_at = await outbox.next_due_at(s, list(self.senders), now)
            self._held_known = True
        if self._held_at is not None:
            wake_at.append(self._held_at)  # a paused platform's row at worst wakes one pass early
        if not wake_at:
            return idle_seconds
        return max(0.0, min(idle_seconds, (min(wake_at) - now).total_seconds()))

    def _sweep(self) -> None:
        """Forget per-chat limiters of idle chats whose bucket has emptied (an empty bucket
        is exactly what a new limiter starts with), so a desk with 100k chats does not keep
        100k limiters; and cooldowns that ran out."""
        loop_now = asyncio.get_running_loop().time()
        if loop_now - self._last_sweep < SWEEP_SECONDS:
            return
        self._last_sweep = loop_now
        self.prune_limiters()
        self._cooldown = {k: t for k, t in self._cooldown.items() if t > loop_now}

    def prune_limiters(self) -> int:
        """Drop the per-chat limiters no lane is using whose bucket is empty; returns how many."""
        idle = [k for k, lim in self._per_chat.items() if k not in self._lanes and lim.has_capacity(lim.max_rate)]
        for key in idle:
            del self._per_chat[key]
        return len(idle)

    async def _shut_down(self, timeout: float) -> None:
        self._stopping = True
        try:
            for lane in list(self._lanes.values()):
                if not lane.busy and lane.task is not None:
                    lane.task.cancel()  # only waiting for a token or a slot: nothing sent yet
            tasks = [lane.task for lane in self._lanes.values() if lane.task is not None]
            if tasks:
                _, late = await asyncio.wait(tasks, timeout=timeout)
                for task in late:  # sent, maybe, but not recorded: sent again next time (at least once)
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                if late:
                    log.warning("%d sends did not finish within %ss of shutdown; they stay pending", len(late), timeout)
            await self._recorder.drain()
            await self._hand_back()
        finally:
            self._stopping = False

    # --- one chat -------------------------------------------------------------------------------

    def _policy(self, platform: str) -> RatePolicy:
        policy = getattr(self.senders[platform], "rate_policy", None)
        return policy if isinstance(policy, RatePolicy) else UNLIMITED

    def _overall_limiter(self, platform: str) -> AsyncLimiter | None:
        if platform not in self._overall:
            limit = self._policy(platform).overall
            self._overall[platform] = make_limiter(limit) if limit is not None else None
        return self._overall[platform]

    def _chat_limiter(self, platform: str, chat_id: str) -> AsyncLimiter | None:
        key = (platform, chat_id)
        limiter = self._per_chat.get(key)
        if limiter is None:
            limit = self._policy(platform).for_chat(chat_id)
            if limit is None:
                return None
            limiter = self._per_chat[key] = make_limiter(limit)
        return limiter

    async def _lane(self, lane: _Lane, first: outbox.Due) -> None:
        due: outbox.Due | None = first
        try:
            while due is not None and not self._stopping:
                lane.row_id = due.row.id
                end, due = await self._deliver(lane, due)
                if end in (_End.PAUSED, _End.STOPPING):
                    self._handed_back.add(lane.row_id)  # type: ignore[arg-type]  # claimed, not tried
                lane.row_id = None
                if end is not _End.DRAINED:
                    break
            if due is not None:  # the next row was claimed for us, but we are stopping
                self._handed_back.add(due.row.id)  # type: ignore[arg-type]
        except asyncio.CancelledError:
            if lane.row_id is not None and not lane.busy:  # waiting for its turn: never tried
                self._handed_back.add(lane.row_id)
            raise
        except Exception:  # noqa: BLE001 — e.g. the database went away while recording
            # The row stays claimed: it is tried again when its lease runs out.
            log.exception("outbox lane failed", extra={"platform": lane.key[0]})
            self._cooldown[lane.key] = asyncio.get_running_loop().time() + BASE_BACKOFF.total_seconds()

    async def _deliver(self, lane: _Lane, due: outbox.Due) -> tuple[_End, outbox.Due | None]:
        """Deliver one row; returns why to stop, or DRAINED and the chat's next due row."""
        row = due.row
        row_id: int = row.id  # type: ignore[assignment]
        platform, chat_id = lane.key
        if due.unreachable:
            # They blocked the bot earlier and have not written since: do not try.
            following = await self._recorder.submit(outbox.Outcome(row, "blocked", error="recipient unreachable"))
            self._settled += 1
            return _End.DRAINED, following
        payload = dict(row.payload)
        reply = Reply.from_payload(payload, ticket_id=row.ticket_id, card=row.card)
        dest = Destination(platform, chat_id, row.person_id, payload.get("thread_id"), payload.get("reply_to"))
        sender = self.senders[platform]
        cost_of = getattr(sender, "cost", None)
        cost = max(1, int(cost_of(dest, reply))) if callable(cost_of) else 1

        loop = asyncio.get_running_loop()
        chat_limiter = self._chat_limiter(platform, chat_id)
        if chat_limiter is not None:
            await take(chat_limiter, cost)
        charged = loop.time()
        while True:
            slots = self._slots.get(platform)
            if slots is None:
                slots = self._slots[platform] = _OldestFirst(self.concurrency)
            async with slots.slot(row_id):
                overall = self._overall_limiter(platform)
                if overall is not None:
                    # One lane at a time in the limiter, in the order they got a slot: left to
                    # itself aiolimiter lets a newcomer take a token a woken waiter was about
                    # to get, and the waiter goes to the back (a chat could starve).
                    async with self._overall_turn.setdefault(platform, asyncio.Lock()):
                        await take(overall, cost)
                if chat_limiter is not None and loop.time() > charged:
                    # The chat's turn was charged before waiting for the platform's: charge the
                    # time waited again, so the chat's next turn counts from this send, not from
                    # before the wait (else two sends to one chat may go closer than its limit).
                    rate = chat_limiter.max_rate / chat_limiter.time_period
                    await take(chat_limiter, min(chat_limiter.max_rate, (loop.time() - charged) * rate))
                    charged = loop.time()
                if self._stopping:
                    return _End.STOPPING, None
                paused = self.paused_until(platform)
                if paused is None:
                    lane.busy = True  # from here on, shutdown lets this send finish
                    outcome, message_id, error = await self._call(sender, dest, reply, due.post_id)
                    break
            # The platform is paused: the row keeps its place and its attempts. A running
            # worker waits for the pause to end (then takes a fresh platform token: the
            # lanes that waited must not go out as one burst); a single pass stops here.
            if not self._running:
                return _End.PAUSED, None
            await asyncio.sleep(max(0.0, (paused - self.clock()).total_seconds()))
        try:
            return await self._record(row, outcome, message_id, error)
        finally:
            lane.busy = False

    async def _call(
        self, sender: Sender, dest: Destination, reply: Reply, edit_id: str | None
    ) -> tuple[str, str | None, Exception | None]:
        try:
            if edit_id is not None:
                new_id = await sender.edit(dest, edit_id, reply)
                if new_id is None:
                    return "edited", edit_id, None
                return "sent", new_id, None  # the old message was gone: a new one went out
            return "sent", await sender.send(dest, reply), None
        except RetryAfter as exc:
            if exc.scope == "platform":
                until = self.clock() + timedelta(seconds=exc.seconds)
                current = self._paused_until.get(dest.platform)
                if current is None or until > current:
                    self._paused_until[dest.platform] = until
                self._wake.set()  # the run loop recomputes when to look again
            return "retry_after", None, exc
        except RecipientBlocked as exc:
            return "blocked", None, exc
        except Exception as exc:  # noqa: BLE001 — any other failure is retried with backoff
            return "error", None, exc

    async def _record(
        self, row: outbox.OutboxMessage, outcome: str, message_id: str | None, error: Exception | None
    ) -> tuple[_End, outbox.Due | None]:
        row_id: int = row.id  # type: ignore[assignment]
        platform = row.platform
        extra = {"platform": platform, "outbox_id": row_id, "ticket": row.ticket_id}
        if self.on_send is not None:
            try:
                self.on_send(platform, outcome)
            except Exception:  # noqa: BLE001 — metrics must not break delivery
                log.exception("on_send hook failed")
        if outcome in ("sent", "edited"):
            item = outbox.Outcome(row, "sent", message_id=message_id)
        elif isinstance(error, RetryAfter):
            item = outbox.Outcome(row, "rate_limited", error=redact_secrets(str(error)),
                                  delay=timedelta(seconds=error.seconds))
            log.warning("rate limited, retry in %ss (%s)", error.seconds, error.scope, extra=extra)
        elif isinstance(error, RecipientBlocked):
            item = outbox.Outcome(row, "blocked", error=redact_secrets(str(error)) or "blocked", mark_person=True)
            log.warning("recipient blocked", extra=extra)
        else:
            assert error is not None
            item = outbox.Outcome(row, "retry", error=redact_secrets(f"{type(error).__name__}: {error}"),
                                  delay=backoff(row.attempts + 1))
            log.warning("send failed (attempt %d): %s", row.attempts + 1, type(error).__name__, extra=extra)
        following = await self._recorder.submit(item)
        if item.kind in ("sent", "blocked"):
            self._settled += 1
        return (_End.DRAINED, following) if item.settled else (_End.HELD, None)

    async def _write(self, items: list[outbox.Outcome]) -> dict[tuple[str, str], outbox.Due]:
        """One transaction for a batch of outcomes (the recorder's). The messages went out:
        if their outcomes cannot be written they are sent again after the lease (at least
        once), so a busy SQLite (another write holding the lock past busy_timeout) is worth
        waiting for instead of a duplicate."""
        tries = 0
        while True:
            try:
                async with self.db.transaction() as s:
                    nexts = await outbox.record(s, items, self.clock(), claim_next=not self._stopping)
                if any(not item.settled for item in items):
                    # Rows held back for a retry (committed now): the run loop looks again at
                    # when the next held row is due, instead of at its next idle poll.
                    self._held_known = False
                    self._wake.set()
                return nexts
            except DBAPIError as exc:
                tries += 1
                if tries >= RECORD_TRIES or not _worth_retrying(exc):
                    raise
                log.warning("recording %d deliveries: database busy, trying again (%d)", len(items), tries)
                await asyncio.sleep(RECORD_RETRY_SECONDS * tries)

    async def wait_recorded(self, predicate: Callable[[], Awaitable[bool]], timeout: float) -> None:
        """Wait until ``predicate()`` (typically a read of the outbox) holds, looking again
        after every delivery attempt is recorded. Raises ``TimeoutError``."""
        async def waiter() -> None:
            async with self._recorded:
                while not await predicate():
                    await self._recorded.wait()

        await asyncio.wait_for(waiter(), timeout)
