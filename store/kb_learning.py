"""Learning from resolved tickets: learned questions (``kb_learned``) and reload requests
(``kb_reload``)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from store import core
from store.models import KbLearned, KbReload

MAX_QUESTION = 4000


async def learned_for_ticket(s: AsyncSession, ticket_id: int) -> list[KbLearned]:
    """The articles chosen as the answer of a ticket, oldest first."""
    return [core.adopt(s, KbLearned, dict(zip(_LEARNED_KEYS, row, strict=True)), refresh=False)
            for row in await core.run(s, _FOR_TICKET, {"ticket_id": ticket_id})]


_LEARNED = KbLearned.__table__  # type: ignore[attr-defined]
_LEARNED_KEYS = tuple(c.key for c in _LEARNED.c)
# Read on every resolve (the resolved card's KB offer): built once (store.core).
_FOR_TICKET = sa.select(*_LEARNED.c).where(_LEARNED.c.ticket_id == sa.bindparam("ticket_id")).order_by(_LEARNED.c.id)


async def add_learned(
    s: AsyncSession, *, slug: str, question: str, ticket_id: int, person_id: int | None, now: datetime
) -> bool:
    """Store ``question`` for ``slug`` from ``ticket_id``; False (and nothing written) if that
    article was already chosen for that ticket. A concurrent insert of the same pair fails on
    the unique key (the engine retries the event, which then finds the row)."""
    found = (
        await s.exec(
            select(col(KbLearned.id)).where(col(KbLearned.slug) == slug, col(KbLearned.ticket_id) == ticket_id)
        )
    ).first()
    if found is not None:
        return False
    s.add(KbLearned(slug=slug, question=question[:MAX_QUESTION], ticket_id=ticket_id, person_id=person_id,
                    created_at=now))
    await s.flush()
    return True


async def all_learned(s: AsyncSession) -> list[KbLearned]:
    return list(await s.exec(select(KbLearned).order_by(col(KbLearned.id))))


async def learned_questions(s: AsyncSession) -> dict[str, list[str]]:
    """``{slug: [question, ...]}`` in the order they were learned (what the matcher takes)."""
    out: dict[str, list[str]] = {}
    for row in await all_learned(s):
        out.setdefault(row.slug, []).append(row.question)
    return out


async def request_reload(s: AsyncSession, now: datetime) -> int:
    """Ask every running process to rebuild its KB; returns the request's id."""
    row = KbReload(requested_at=now)
    s.add(row)
    await s.flush()
    assert row.id is not None
    return row.id


async def latest_reload(s: AsyncSession) -> int:
    """The id of the latest reload request (0 when there is none)."""
    value = (await s.exec(select(func.max(KbReload.id)))).first()
    return int(value or 0)
