"""The outbox: messages written with the change they report, delivered by a worker.

A row is ``pending`` until a sender accepts it (``sent``), gives up on the
recipient (``blocked``) or runs out of attempts (``failed``). Rows of one chat
are delivered in order: a row waiting for a retry holds back later rows of the
same chat.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from store.models import Identity, OutboxMessage, OutboxStatus, TicketPost

MAX_ATTEMPTS = 8


async def enqueue(
    s: AsyncSession,
    *,
    platform: str,
    chat_id: str,
    payload: dict[str, Any],
    now: datetime,
    person_id: int | None = None,
    ticket_id: int | None = None,
    card: str | None = None,
) -> OutboxMessage:
    row = OutboxMessage(
        platform=platform, chat_id=chat_id, payload=payload, person_id=person_id,
        ticket_id=ticket_id, card=card, created_at=now, next_attempt_at=now,
    )
    s.add(row)
    await s.flush()
    return row


@dataclass(frozen=True)
class NewMessage:
    """One row for :func:`enqueue_many` (the fields of :func:`enqueue`)."""

    platform: str
    chat_id: str
    payload: dict[str, Any]
    person_id: int | None = None
    ticket_id: int | None = None
    card: str | None = None


async def enqueue_many(s: AsyncSession, messages: Sequence[NewMessage], now: datetime) -> int:
    """Write several rows in one statement instead of one round trip per row: an event whose
    card fans out to 21 agents sends one INSERT, not 23 (each with its own flush). Returns how
    many rows were written.

    It is one ``executemany`` of one prepared ``INSERT``: asyncpg pipelines the rows in one
    round trip and sqlite3 loops over them in C. That measured faster than one multi-row
    ``INSERT … VALUES (…), (…)`` (whose SQL differs with the row count, so SQLAlchemy compiles
    it again for each new count) on both databases. Rows keep their order (ids ascending), so
    a chat's messages are delivered in the order given."""
    values = [
        {"platform": m.platform, "chat_id": m.chat_id, "person_id": m.person_id, "ticket_id": m.ticket_id,
         "card": m.card, "payload": m.payload, "status": OutboxStatus.PENDING, "attempts": 0,
         "next_attempt_at": now, "last_error": None, "message_id": None, "created_at": now, "sent_at": None}
        for m in messages
    ]
    if values:
        # The table, not the entity: an ORM bulk insert would split the rows into one statement
        # per set of non-null columns.
        await s.exec(insert(OutboxMessage.__table__), params=values)  # type: ignore[call-overload,attr-defined]
    return len(values)


async def supersede(s: AsyncSession, platform: str, chat_id: str, card: str) -> None:
    """The chat's pending ``card`` rows will not be sent: the row about to be written replaces
    them (a screen published whole, such as an App Home, where only the latest counts). A row
    already in a sender's hands still goes out, before the new one (rows of a chat are in order)."""
    await s.exec(
        update(OutboxMessage)
        .where(col(OutboxMessage.platform) == platform, col(OutboxMessage.chat_id) == chat_id,
               col(OutboxMessage.card) == card, col(OutboxMessage.status) == OutboxStatus.PENDING)
        .values(status=OutboxStatus.SUPERSEDED)
    )


async def pending(s: AsyncSession, platforms: list[str], limit: int = 200) -> list[OutboxMessage]:
    """Pending rows in delivery order (oldest first), due or not; the worker decides."""
    stmt = (
        select(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.PENDING, col(OutboxMessage.platform).in_(platforms))
        .order_by(col(OutboxMessage.id))
        .limit(limit)
    )
    return list(await s.exec(stmt))


@dataclass(frozen=True)
class Due:
    """A pending row ready to go, with what the worker needs to deliver it."""

    row: OutboxMessage
    post_id: str | None  # the platform message a card row edits (None: send a new one)
    unreachable: bool  # the chat is a person's who blocked the bot and has not written since


def _with_post() -> Any:
    """``OutboxMessage`` rows with the message id of the card they edit, in one query."""
    return select(OutboxMessage, TicketPost.message_id).outerjoin(
        TicketPost,
        and_(
            col(TicketPost.ticket_id) == col(OutboxMessage.ticket_id),
            col(TicketPost.platform) == col(OutboxMessage.platform),
            col(TicketPost.chat_id) == col(OutboxMessage.chat_id),
            col(TicketPost.card) == col(OutboxMessage.card),
        ),
    )


async def due_heads(s: AsyncSession, platforms: Sequence[str], now: datetime, limit: int = 1000) -> list[Due]:
    """The first pending row of every chat, where it is due, oldest first, with its card's
    post and whether the chat is unreachable: one read for a whole batch of chats.

    Only a chat's first pending row is ever a candidate, so a row waiting for a retry holds
    back the later rows of its chat (order within a chat), and a held chat with a long
    backlog does not crowd the other chats out of the batch.
    """
    if not platforms:
        return []
    heads = (
        select(func.min(OutboxMessage.id).label("id"))
        .where(OutboxMessage.status == OutboxStatus.PENDING, col(OutboxMessage.platform).in_(platforms))
        .group_by(col(OutboxMessage.platform), col(OutboxMessage.chat_id))
        .subquery()
    )
    stmt = (
        _with_post()
        .join(heads, col(OutboxMessage.id) == heads.c.id)
        .where(col(OutboxMessage.next_attempt_at) <= now)
        .order_by(col(OutboxMessage.id))
        .limit(limit)
    )
    found = [(row, post_id) for row, post_id in await s.exec(stmt)]
    blocked = await unreachable_chats(s, {(row.platform, row.chat_id) for row, _ in found})
    return [Due(row, post_id, (row.platform, row.chat_id) in blocked) for row, post_id in found]


async def next_in_chat(s: AsyncSession, platform: str, chat_id: str, after_id: int, now: datetime) -> Due | None:
    """The chat's next pending row after ``after_id`` if it is due (its card's post included)."""
    stmt = (
        _with_post()
        .where(
            OutboxMessage.platform == platform, OutboxMessage.chat_id == chat_id,
            OutboxMessage.status == OutboxStatus.PENDING, col(OutboxMessage.id) > after_id,
        )
        .order_by(col(OutboxMessage.id))
        .limit(1)
    )
    found = (await s.exec(stmt)).first()
    if found is None:
        return None
    row, post_id = found
    if row.next_attempt_at > now:
        return None
    return Due(row, post_id, bool(await unreachable_chats(s, {(platform, chat_id)})))


async def unreachable_chats(s: AsyncSession, chats: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of these ``(platform, chat_id)`` are a person's direct chat that blocked the bot
    (the batch form of ``people.is_unreachable``: same rule, one query)."""
    by_platform: dict[str, set[str]] = {}
    for platform, chat_id in chats:
        by_platform.setdefault(platform, set()).add(chat_id)
    found: set[tuple[str, str]] = set()
    for platform, ids in by_platform.items():
        stmt = select(Identity.dm_chat_id, Identity.platform_user_id).where(
            Identity.platform == platform,
            col(Identity.unreachable_at).is_not(None),
            or_(
                col(Identity.dm_chat_id).in_(ids),
                col(Identity.dm_chat_id).is_(None) & col(Identity.platform_user_id).in_(ids),
            ),
        )
        for dm_chat_id, user_id in await s.exec(stmt):
            found.add((platform, dm_chat_id if dm_chat_id is not None else user_id))
    return found


async def next_due_at(s: AsyncSession, platforms: Sequence[str], now: datetime) -> datetime | None:
    """When the next held chat becomes due (the earliest retry time still in the future).

    Only rows that were tried have a future ``next_attempt_at``, and those are their chat's
    first pending row, so this is exactly when some chat can move again.
    """
    if not platforms:
        return None
    return (
        await s.exec(
            select(func.min(OutboxMessage.next_attempt_at)).where(
                OutboxMessage.status == OutboxStatus.PENDING, col(OutboxMessage.platform).in_(platforms),
                col(OutboxMessage.next_attempt_at) > now,
            )
        )
    ).one()


async def mark_sent(s: AsyncSession, row_id: int, message_id: str | None, now: datetime) -> None:
    row = await s.get_one(OutboxMessage, row_id)
    row.status = OutboxStatus.SENT
    row.message_id = message_id
    row.sent_at = now
    row.attempts += 1
    s.add(row)
    if message_id and row.ticket_id and row.card:
        await remember_post(s, row.ticket_id, row.platform, row.chat_id, row.card, message_id)
    await s.flush()


async def mark_retry(s: AsyncSession, row_id: int, error: str, delay: timedelta, now: datetime) -> OutboxMessage:
    row = await s.get_one(OutboxMessage, row_id)
    row.attempts += 1
    row.last_error = error[:500]
    if row.attempts >= MAX_ATTEMPTS:
        row.status = OutboxStatus.FAILED
    else:
        row.next_attempt_at = now + delay
    s.add(row)
    await s.flush()
    return row


async def mark_rate_limited(s: AsyncSession, row_id: int, error: str, delay: timedelta, now: datetime) -> None:
    """The platform asked us to wait (429): try again after ``delay``. Not a failed attempt:
    being rate limited says nothing about the message, so it never uses up ``MAX_ATTEMPTS``."""
    row = await s.get_one(OutboxMessage, row_id)
    row.last_error = error[:500]
    row.next_attempt_at = now + delay
    s.add(row)
    await s.flush()


async def mark_blocked(s: AsyncSession, row_id: int, error: str) -> None:
    row = await s.get_one(OutboxMessage, row_id)
    row.attempts += 1
    row.status = OutboxStatus.BLOCKED
    row.last_error = error[:500]
    s.add(row)
    await s.flush()


async def remember_post(
    s: AsyncSession, ticket_id: int, platform: str, chat_id: str, card: str, message_id: str,
    thread_id: str | None = None,
) -> None:
    post = await find_post(s, ticket_id, platform, chat_id, card)
    if post is None:
        s.add(TicketPost(ticket_id=ticket_id, platform=platform, chat_id=chat_id, card=card,
                         message_id=message_id, thread_id=thread_id))
    else:
        post.message_id = message_id
        s.add(post)
    await s.flush()


async def find_post(s: AsyncSession, ticket_id: int, platform: str, chat_id: str, card: str) -> TicketPost | None:
    return (
        await s.exec(
            select(TicketPost).where(
                TicketPost.ticket_id == ticket_id, TicketPost.platform == platform,
                TicketPost.chat_id == chat_id, TicketPost.card == card,
            )
        )
    ).first()


async def ticket_for_message(s: AsyncSession, platform: str, chat_id: str, message_id: str) -> int | None:
    """Which ticket a platform message (a card, or a relayed message) belongs to."""
    post = (
        await s.exec(
            select(TicketPost.ticket_id).where(
                TicketPost.platform == platform, TicketPost.chat_id == chat_id,
                (TicketPost.message_id == message_id) | (TicketPost.thread_id == message_id),
            )
        )
    ).first()
    if post is not None:
        return post
    return (
        await s.exec(
            select(OutboxMessage.ticket_id).where(
                OutboxMessage.platform == platform, OutboxMessage.chat_id == chat_id,
                OutboxMessage.message_id == message_id,
            )
        )
    ).first()


async def backlog(s: AsyncSession) -> int:
    return (await s.exec(select(func.count()).where(OutboxMessage.status == OutboxStatus.PENDING))).one()


async def backlog_age(s: AsyncSession) -> tuple[int, datetime | None]:
    """How many rows are pending and when the oldest of them was written."""
    count, oldest = (
        await s.exec(
            select(func.count(), func.min(OutboxMessage.created_at)).where(OutboxMessage.status == OutboxStatus.PENDING)
        )
    ).one()
    return count, oldest


async def posts_of(s: AsyncSession, ticket_id: int, card: str) -> list[TicketPost]:
    return list(
        await s.exec(select(TicketPost).where(TicketPost.ticket_id == ticket_id, TicketPost.card == card))
    )
