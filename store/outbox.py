"""The outbox: messages written with the change they report, delivered by a worker.

A row is ``pending`` until a sender accepts it (``sent``), gives up on the
recipient (``blocked``) or runs out of attempts (``failed``). Rows of one chat
are delivered in order: a row waiting for a retry holds back later rows of the
same chat.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from store.models import OutboxMessage, OutboxStatus, TicketPost

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


async def pending(s: AsyncSession, platforms: list[str], limit: int = 200) -> list[OutboxMessage]:
    """Pending rows in delivery order (oldest first), due or not; the worker decides."""
    stmt = (
        select(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.PENDING, col(OutboxMessage.platform).in_(platforms))
        .order_by(col(OutboxMessage.id))
        .limit(limit)
    )
    return list(await s.exec(stmt))


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


async def posts_of(s: AsyncSession, ticket_id: int, card: str) -> list[TicketPost]:
    return list(
        await s.exec(select(TicketPost).where(TicketPost.ticket_id == ticket_id, TicketPost.card == card))
    )
