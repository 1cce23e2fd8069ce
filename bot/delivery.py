"""The outbox worker: delivers what the engine wrote, through one sender per platform.

A sender turns a neutral :class:`~handlers.events.Reply` into platform calls. It
reports failures by raising :class:`RetryAfter` (rate limited: try again after
the given delay), :class:`RecipientBlocked` (stop trying this recipient) or any
other exception (transient: retry with exponential backoff). Rows of one chat
go out in order; a row that waits holds back the later rows of its chat.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.config import redact_secrets
from handlers.events import Destination, Reply
from handlers.ports import Clock
from store import outbox, people
from store.db import Database

log = logging.getLogger("deskbot.delivery")

BASE_BACKOFF = timedelta(seconds=2)
MAX_BACKOFF = timedelta(minutes=10)


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

    async def edit(self, dest: Destination, message_id: str, reply: Reply) -> None:
        """Replace an earlier message's text and buttons."""
        ...


def backoff(attempts: int) -> timedelta:
    return min(BASE_BACKOFF * (2 ** max(0, attempts - 1)), MAX_BACKOFF)


class OutboxWorker:
    """Moves pending outbox rows to their platforms and records the outcome of each."""

    def __init__(self, db: Database, senders: Mapping[str, Sender], clock: Clock) -> None:
        self.db = db
        self.senders = dict(senders)
        self.clock = clock
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Tell a running :meth:`run` loop there is new work."""
        self._wake.set()

    async def deliver_pending(self) -> int:
        """One pass over the pending rows; returns how many were delivered."""
        async with self.db.transaction() as s:
            rows = await outbox.pending(s, list(self.senders))
        now = self.clock()
        held: set[tuple[str, str]] = set()
        delivered = 0
        for row in rows:
            chat = (row.platform, row.chat_id)
            if chat in held:
                continue
            if row.next_attempt_at > now:
                held.add(chat)
                continue
            if await self._deliver(row.id, now):  # type: ignore[arg-type]
                delivered += 1
            else:
                held.add(chat)
        return delivered

    async def _deliver(self, row_id: int, now: datetime) -> bool:
        # Read in one short transaction, call the platform outside any transaction (a slow
        # API must not hold the SQLite write lock), record the outcome in another. A crash
        # between sending and recording means the message is sent again: at least once.
        async with self.db.transaction() as s:
            row = await s.get_one(outbox.OutboxMessage, row_id)
            if row.status != outbox.OutboxStatus.PENDING:
                return True
            if await people.is_unreachable(s, row.platform, row.chat_id):
                # They blocked the bot earlier and have not written since: do not try.
                await outbox.mark_blocked(s, row_id, "recipient unreachable")
                return True
            post = None
            if row.ticket_id is not None and row.card:
                post = await outbox.find_post(s, row.ticket_id, row.platform, row.chat_id, row.card)
            edit_id = post.message_id if post is not None else None
            attempts = row.attempts
            payload = dict(row.payload)
            reply = Reply.from_payload(payload, ticket_id=row.ticket_id, card=row.card)
            dest = Destination(row.platform, row.chat_id, row.person_id, payload.get("thread_id"),
                               payload.get("reply_to"))
        sender = self.senders[dest.platform]
        extra = {"platform": dest.platform, "outbox_id": row_id, "ticket": reply.ticket_id}
        try:
            if edit_id is not None:
                await sender.edit(dest, edit_id, reply)
                message_id: str | None = edit_id
            else:
                message_id = await sender.send(dest, reply)
        except RetryAfter as exc:
            async with self.db.transaction() as s:
                await outbox.mark_retry(s, row_id, redact_secrets(str(exc)), timedelta(seconds=exc.seconds), now)
            log.warning("rate limited, retry in %ss", exc.seconds, extra=extra)
            return False
        except RecipientBlocked as exc:
            async with self.db.transaction() as s:
                await outbox.mark_blocked(s, row_id, redact_secrets(str(exc)) or "blocked")
                await people.mark_unreachable(s, dest.platform, dest.chat_id, now)
            log.warning("recipient blocked", extra=extra)
            return True
        except Exception as exc:  # noqa: BLE001 — any other failure is retried with backoff
            async with self.db.transaction() as s:
                updated = await outbox.mark_retry(
                    s, row_id, redact_secrets(f"{type(exc).__name__}: {exc}"), backoff(attempts + 1), now
                )
            log.warning("send failed (attempt %d): %s", updated.attempts, type(exc).__name__, extra=extra)
            return False
        async with self.db.transaction() as s:
            await outbox.mark_sent(s, row_id, message_id, now)
        return True

    async def run(self, stop: asyncio.Event, *, idle_seconds: float = 1.0) -> None:
        """Deliver until ``stop`` is set, waking early when :meth:`wake` is called."""
        while not stop.is_set():
            self._wake.clear()  # before the pass: a wake during the pass is not lost
            try:
                await self.deliver_pending()
            except Exception:  # noqa: BLE001 — the worker must outlive one bad pass
                log.exception("outbox pass failed")
            waiters = {asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())}
            _, pending = await asyncio.wait(waiters, timeout=idle_seconds, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
