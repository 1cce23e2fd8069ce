"""Per-chat flow state (the requester wizard, an agent's reply mode)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from store.models import Conversation


async def load(s: AsyncSession, platform: str, chat_id: str, user_id: str) -> Conversation:
    """The chat's flow state, locked for this transaction: two events of one chat (a double tap)
    run one after the other, so the second sees the state the first left."""
    conv = (
        await s.exec(
            select(Conversation).where(
                Conversation.platform == platform,
                Conversation.chat_id == chat_id,
                Conversation.user_id == user_id,
            ).with_for_update()
        )
    ).first()
    if conv is None:
        conv = Conversation(platform=platform, chat_id=chat_id, user_id=user_id, state="idle", data={})
    return conv


async def save(s: AsyncSession, conv: Conversation, state: str, data: dict[str, Any], now: datetime) -> None:
    conv.state = state
    conv.data = dict(data)  # a new object so the JSON column is seen as changed
    conv.updated_at = now
    s.add(conv)
    await s.flush()
