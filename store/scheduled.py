"""Queries of the scheduler's sweep: the tickets it looks at, since when each waits, and the
actions already taken (table ``scheduled_action``, unique ``key``).

:func:`record` is written in the caller's transaction with the action's effects: a second
writer of the same key gets an ``IntegrityError`` and its transaction rolls back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import and_, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from store.models import (
    OPEN_STATUSES,
    MessageKind,
    Person,
    ScheduledAction,
    Status,
    Ticket,
    TicketEvent,
    TicketMessage,
)

CHUNK = 500  # ids per IN (...) list
T = TypeVar("T")


def _chunks(items: Sequence[T]) -> Iterable[Sequence[T]]:
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


async def candidates(s: AsyncSession, *, ticket_id: int | None = None, assignee_id: int | None = None,
                     for_update: bool = False) -> list[Ticket]:
    """Tickets a sweep rule may apply to: open ones, and resolved ones not rated yet."""
    stmt = select(Ticket).where(or_(
        col(Ticket.status).in_(OPEN_STATUSES),
        and_(col(Ticket.status) == Status.RESOLVED, col(Ticket.csat).is_(None)),
    ))
    if ticket_id is not None:
        stmt = stmt.where(Ticket.id == ticket_id)
    if assignee_id is not None:
        stmt = stmt.where(Ticket.assignee_id == assignee_id)
    if for_update:
        stmt = stmt.with_for_update()
    return list(await s.exec(stmt.order_by(col(Ticket.id)).execution_options(populate_existing=True)))


async def unclaimed_since(s: AsyncSession, ticket_ids: Sequence[int]) -> dict[int, datetime]:
    """When each ticket last went back to the queue (released, escalated, reopened unowned);
    a ticket absent from the result has waited since it was filed."""
    out: dict[int, datetime] = {}
    for ids in _chunks(ticket_ids):
        rows = await s.exec(
            select(TicketEvent.ticket_id, func.max(TicketEvent.created_at))
            .where(col(TicketEvent.ticket_id).in_(ids), or_(
                col(TicketEvent.action).in_(("release", "escalate")),
                and_(col(TicketEvent.action) == "reopen", col(TicketEvent.to_value) == Status.NEW),
            ))
            .group_by(col(TicketEvent.ticket_id))
        )
        out.update({tid: at for tid, at in rows if tid is not None})
    return out


async def last_agent_reply(s: AsyncSession, ticket_ids: Sequence[int]) -> dict[int, datetime]:
    """The time of each ticket's latest agent reply (what a waiting ticket waits since)."""
    out: dict[int, datetime] = {}
    for ids in _chunks(ticket_ids):
        rows = await s.exec(
            select(TicketMessage.ticket_id, func.max(TicketMessage.created_at))
            .where(col(TicketMessage.ticket_id).in_(ids), TicketMessage.kind == MessageKind.AGENT)
            .group_by(col(TicketMessage.ticket_id))
        )
        out.update(dict(rows.all()))  # type: ignore[arg-type]
    return out


async def away_since(s: AsyncSession, person_ids: Sequence[int]) -> dict[int, datetime]:
    """When each person last said ``/away`` (audited as an ``away`` event)."""
    out: dict[int, datetime] = {}
    for ids in _chunks(person_ids):
        rows = await s.exec(
            select(TicketEvent.actor_id, func.max(TicketEvent.created_at))
            .where(col(TicketEvent.actor_id).in_(ids), TicketEvent.action == "away")
            .group_by(col(TicketEvent.actor_id))
        )
        out.update({pid: at for pid, at in rows if pid is not None})
    return out


async def persons(s: AsyncSession, person_ids: Sequence[int]) -> dict[int, Person]:
    out: dict[int, Person] = {}
    for ids in _chunks(person_ids):
        out.update({p.id: p for p in await s.exec(select(Person).where(col(Person.id).in_(ids))) if p.id is not None})
    return out


async def done_for_tickets(s: AsyncSession, ticket_ids: Sequence[int]) -> dict[str, datetime]:
    """Keys (→ when done) of the actions already taken on these tickets."""
    out: dict[str, datetime] = {}
    for ids in _chunks(ticket_ids):
        rows = await s.exec(select(ScheduledAction.key, ScheduledAction.done_at)
                            .where(col(ScheduledAction.ticket_id).in_(ids)))
        out.update(dict(rows.all()))
    return out


async def existing_keys(s: AsyncSession, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` are already recorded."""
    out: set[str] = set()
    for part in _chunks(keys):
        out.update(await s.exec(select(ScheduledAction.key).where(col(ScheduledAction.key).in_(part))))
    return out


@dataclass(frozen=True)
class Record:
    key: str
    kind: str
    ticket_id: int | None
    team: str | None
    due_at: datetime | None
    detail: dict[str, Any]


async def record(s: AsyncSession, rows: Sequence[Record], now: datetime) -> None:
    """Write the actions taken (flushed now: a key already there raises ``IntegrityError``)."""
    for row in rows:
        s.add(ScheduledAction(key=row.key, kind=row.kind, ticket_id=row.ticket_id, team=row.team,
                              due_at=row.due_at, done_at=now, detail=row.detail))
    await s.flush()


async def actions_of(s: AsyncSession, ticket_id: int | None = None) -> list[ScheduledAction]:
    """Recorded actions (of one ticket), oldest first — for reports and tests."""
    stmt = select(ScheduledAction)
    if ticket_id is not None:
        stmt = stmt.where(ScheduledAction.ticket_id == ticket_id)
    return list(await s.exec(stmt.order_by(col(ScheduledAction.id))))
