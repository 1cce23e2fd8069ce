"""KB suggestion outcomes: shown, opened, solved, not_solved, and gaps."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from store import core
from store.models import KbFeedback

OUTCOMES = ("shown", "opened", "solved", "not_solved", "gap")


async def record(
    s: AsyncSession,
    *,
    slug: str | None,
    query: str,
    outcome: str,
    now: datetime,
    person_id: int | None = None,
    ticket_id: int | None = None,
) -> None:
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown KB outcome {outcome!r}")
    await core.run(s, _INSERT, {"slug": slug, "query": query[:4000], "outcome": outcome, "person_id": person_id,
                                "ticket_id": ticket_id, "created_at": now})


async def record_shown(s: AsyncSession, slugs: list[str], *, query: str, now: datetime,
                       person_id: int | None = None) -> None:
    """A "shown" row for each suggested article, in one statement (one ``executemany``)."""
    rows = [{"slug": slug, "query": query[:4000], "outcome": "shown", "person_id": person_id, "ticket_id": None,
             "created_at": now} for slug in slugs]
    if rows:
        await core.run(s, _INSERT, rows)


_INSERT = sa.insert(KbFeedback.__table__)  # type: ignore[attr-defined]  # built once (store.core)


async def all_rows(s: AsyncSession) -> list[KbFeedback]:
    return list(await s.exec(select(KbFeedback).order_by(col(KbFeedback.id))))


async def rows_with_outcome(s: AsyncSession, outcomes: tuple[str, ...]) -> list[KbFeedback]:
    """Only the rows with these outcomes (start-up replays just solved / not_solved)."""
    return list(
        await s.exec(select(KbFeedback).where(col(KbFeedback.outcome).in_(outcomes)).order_by(col(KbFeedback.id)))
    )
