"""What ``deskbot run`` reads from the database for /healthz and /metrics.

A few cheap aggregate queries, run at scrape time: the outbox backlog and its
oldest row, and the ticket counts that only ever grow (filed, resolved — from the
audit trail, so a reopened and resolved-again ticket counts twice).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import text
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from store.models import OPEN_STATUSES, OutboxMessage, OutboxStatus, Ticket, TicketEvent


@dataclass(frozen=True)
class OutboxBacklog:
    pending: int
    oldest_created_at: datetime | None  # of the pending rows


@dataclass(frozen=True)
class TicketCounts:
    opened: dict[str, int] = field(default_factory=dict)  # per team, ever filed
    resolved: dict[str, int] = field(default_factory=dict)  # per team, resolutions ever
    open_now: dict[str, int] = field(default_factory=dict)  # per team, new/claimed/waiting


async def ping(s: AsyncSession) -> None:
    """Raise if the database cannot answer a trivial query."""
    await s.exec(text("SELECT 1"))  # type: ignore[call-overload]


async def outbox_backlog(s: AsyncSession) -> OutboxBacklog:
    row = (
        await s.exec(
            select(func.count(), func.min(col(OutboxMessage.created_at))).where(
                col(OutboxMessage.status) == OutboxStatus.PENDING
            )
        )
    ).one()
    count, oldest = row
    if isinstance(oldest, str):  # SQLite returns an aggregate of a custom type as text
        oldest = datetime.fromisoformat(oldest)
    if oldest is not None and oldest.tzinfo is None:
        from datetime import UTC

        oldest = oldest.replace(tzinfo=UTC)
    return OutboxBacklog(pending=int(count), oldest_created_at=oldest)


async def ticket_counts(s: AsyncSession) -> TicketCounts:
    async def by_team_events(action: str) -> dict[str, int]:
        rows = await s.exec(
            select(col(Ticket.team), func.count())
            .select_from(TicketEvent)
            .join(Ticket, col(Ticket.id) == col(TicketEvent.ticket_id))
            .where(col(TicketEvent.action) == action)
            .group_by(col(Ticket.team))
        )
        return {team: int(n) for team, n in rows}

    open_rows = await s.exec(
        select(col(Ticket.team), func.count())
        .where(col(Ticket.status).in_([str(x) for x in OPEN_STATUSES]))
        .group_by(col(Ticket.team))
    )
    return TicketCounts(
        opened=await by_team_events("create"),
        resolved=await by_team_events("resolve"),
        open_now={team: int(n) for team, n in open_rows},
    )
