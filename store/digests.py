"""The scheduled-action log as the digest uses it: was a digest sent, record that it was.

The ``key`` column is unique: :func:`record` in the same transaction as the digest's outbox
rows makes a second sender (a restart, another process) fail with an IntegrityError and
roll back, so a digest is never queued twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from store.models import ScheduledAction


async def is_done(s: AsyncSession, key: str) -> bool:
    return (await s.exec(select(col(ScheduledAction.id)).where(ScheduledAction.key == key))).first() is not None


async def record(s: AsyncSession, *, key: str, kind: str, team: str | None, due_at: datetime | None,
                 now: datetime, detail: dict[str, Any]) -> None:
    """Write the action's row and flush at once (a duplicate key fails here, before its effects)."""
    s.add(ScheduledAction(key=key, kind=kind, team=team, due_at=due_at, done_at=now, detail=detail))
    await s.flush()


async def done_keys(s: AsyncSession, kind: str, team: str | None = None) -> list[str]:
    stmt = select(ScheduledAction.key).where(ScheduledAction.kind == kind)
    if team is not None:
        stmt = stmt.where(ScheduledAction.team == team)
    return list(await s.exec(stmt.order_by(col(ScheduledAction.id))))
