"""What an App Home shows, and who has one.

Who opened their Home is kept without a schema change: a :class:`Conversation` row in the
pseudo-chat :data:`HOME_CHAT` of that account (platform, ``"~home"``, user id). The row's
unique key makes "who of these has a Home" one indexed query, and a Home is only ever
published (and refreshed) for people who opened it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from store.models import OPEN_STATUSES, Conversation, Identity, Status, Ticket

HOME_CHAT = "~home"  # never a platform chat id (Slack ids are C…/D…/G…)
HOME_STATE = "home"


async def mark_opened(s: AsyncSession, platform: str, user_id: str, now: datetime) -> None:
    """Remember that this account opened its Home (once; later openings change nothing)."""
    found = (
        await s.exec(
            select(Conversation.id).where(
                Conversation.platform == platform, Conversation.chat_id == HOME_CHAT, Conversation.user_id == user_id,
            )
        )
    ).first()
    if found is None:
        s.add(Conversation(platform=platform, chat_id=HOME_CHAT, user_id=user_id, state=HOME_STATE, data={},
                           updated_at=now))
        await s.flush()


async def home_identities(s: AsyncSession, person_ids: Collection[int], platforms: Collection[str]) -> list[Identity]:
    """The accounts of these people, on these platforms, that opened their Home."""
    if not person_ids or not platforms:
        return []
    stmt = (
        select(Identity)
        .join(Conversation, (col(Conversation.platform) == col(Identity.platform))
              & (col(Conversation.user_id) == col(Identity.platform_user_id))
              & (col(Conversation.chat_id) == HOME_CHAT))
        .where(col(Identity.person_id).in_(person_ids), col(Identity.platform).in_(platforms))
        .order_by(col(Identity.id))
    )
    return list(await s.exec(stmt))


async def _count(s: AsyncSession, *where: object) -> int:
    return int((await s.exec(select(func.count()).select_from(Ticket).where(*where))).one())  # type: ignore[call-overload]


async def requests_of(s: AsyncSession, person_id: int, limit: int) -> tuple[list[Ticket], int]:
    """The person's requests, open ones first, then the newest; and how many there are."""
    is_open = col(Ticket.status).in_(OPEN_STATUSES)
    stmt = (
        select(Ticket).where(Ticket.requester_id == person_id)
        .order_by(is_open.desc(), col(Ticket.id).desc()).limit(limit)
    )
    return list(await s.exec(stmt)), await _count(s, Ticket.requester_id == person_id)


async def held_by(s: AsyncSession, agent_id: int, limit: int) -> tuple[list[Ticket], int]:
    """Open tickets the agent holds, oldest first; and how many there are."""
    where = (Ticket.assignee_id == agent_id, col(Ticket.status).in_(OPEN_STATUSES))
    stmt = select(Ticket).where(*where).order_by(col(Ticket.id)).limit(limit)
    return list(await s.exec(stmt)), await _count(s, *where)


async def unclaimed_count(s: AsyncSession, teams: Sequence[str]) -> int:
    """Tickets of ``teams`` nobody holds (the team queue's length)."""
    return await _count(s, col(Ticket.team).in_(teams), Ticket.status == Status.NEW)
