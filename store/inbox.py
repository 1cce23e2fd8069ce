"""Inbound de-duplication: an event key is recorded in the transaction of its effect."""

from __future__ import annotations

import hashlib
from datetime import datetime

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from store import core
from store.models import InboxEvent

MAX_EVENT_KEY = 200  # InboxEvent.event_key column


def stored_key(event_key: str) -> str:
    """The key as stored: itself when it fits, else its sha256 hex digest (64 chars), so two
    long keys sharing a prefix never collide and short keys stay readable."""
    if len(event_key) <= MAX_EVENT_KEY:
        return event_key
    return hashlib.sha256(event_key.encode("utf-8", "surrogatepass")).hexdigest()


async def record_event(s: AsyncSession, event_key: str, now: datetime) -> None:
    """Insert the key; a redelivery raises ``IntegrityError`` (unique key), which aborts
    the whole transaction, so the repeated event changes nothing."""
    await core.run(s, _INSERT, {"event_key": stored_key(event_key), "received_at": now})


_INSERT = sa.insert(InboxEvent.__table__)  # type: ignore[attr-defined]  # built once (store.core)
