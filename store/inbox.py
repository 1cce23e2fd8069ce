"""Inbound de-duplication: an event key is recorded in the transaction of its effect."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from store.models import InboxEvent


async def record_event(s: AsyncSession, event_key: str, now: datetime) -> None:
    """Insert the key; a redelivery raises ``IntegrityError`` (unique key), which aborts
    the whole transaction, so the repeated event changes nothing."""
    s.add(InboxEvent(event_key=event_key[:200], received_at=now))
    await s.flush()
