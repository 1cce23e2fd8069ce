"""Per-chat flow state (the requester wizard, an agent's reply mode).

Loaded and saved on every event, so both are Core statements built once
(:mod:`store.core`); the :class:`Conversation` handed out is a plain detached object:
only :func:`save` writes it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel.ext.asyncio.session import AsyncSession

from store import core
from store.models import Conversation

_TABLE = Conversation.__table__  # type: ignore[attr-defined]
_KEYS = tuple(c.key for c in _TABLE.c)
_LOAD = (
    sa.select(*_TABLE.c)
    .where(_TABLE.c.platform == sa.bindparam("platform"), _TABLE.c.chat_id == sa.bindparam("chat_id"),
           _TABLE.c.user_id == sa.bindparam("user_id"))
    .with_for_update()
)
_INSERT = sa.insert(_TABLE)
_UPDATE = (
    sa.update(_TABLE)
    .where(_TABLE.c.id == sa.bindparam("cid"))
    .values(state=sa.bindparam("state"), data=sa.bindparam("data"), updated_at=sa.bindparam("updated_at"))
)


async def load(s: AsyncSession, platform: str, chat_id: str, user_id: str) -> Conversation:
    """The chat's flow state, locked for this transaction: two events of one chat (a double tap)
    run one after the other, so the second sees the state the first left."""
    row = (await core.run(s, _LOAD, {"platform": platform, "chat_id": chat_id, "user_id": user_id})).first()
    if row is None:
        return Conversation(platform=platform, chat_id=chat_id, user_id=user_id, state="idle", data={})
    return core.from_row(Conversation, dict(zip(_KEYS, row, strict=True)))


async def save(s: AsyncSession, conv: Conversation, state: str, data: dict[str, Any], now: datetime) -> None:
    data = dict(data)  # a copy: later changes to the caller's dict are not the saved state
    if conv.id is None:
        result = await core.run(s, _INSERT, {
            "platform": conv.platform, "chat_id": conv.chat_id, "user_id": conv.user_id,
            "state": state, "data": data, "updated_at": now,
        })
        conv.id = result.inserted_primary_key[0]
    else:
        await core.run(s, _UPDATE, {"cid": conv.id, "state": state, "data": data, "updated_at": now})
    for name, value in (("state", state), ("data", data), ("updated_at", now)):
        set_committed_value(conv, name, value)
