"""Inbound de-duplication (``store.inbox``) on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from store import people
from store.db import Database
from store.inbox import record_event
from store.models import InboxEvent, Person
from tests.store.conftest import NOW


async def count(db: Database, model: type[InboxEvent] | type[Person]) -> int:
    async with db.transaction() as s:
        n: int = (await s.exec(select(func.count()).select_from(model))).one()
        return n


async def test_a_repeated_event_key_raises_integrity_error(database: Database) -> None:
    async with database.transaction() as s:
        await record_event(s, "telegram:1001", NOW)
        await record_event(s, "slack:Ev01", NOW)  # other keys are independent
    with pytest.raises(IntegrityError):
        async with database.transaction() as s:
            await record_event(s, "telegram:1001", NOW)
    assert await count(database, InboxEvent) == 2


async def test_a_repeated_event_rolls_back_everything_done_with_it(database: Database) -> None:
    async with database.transaction() as s:
        await record_event(s, "telegram:7", NOW)
    with pytest.raises(IntegrityError):
        async with database.transaction() as s:
            await people.resolve_sender(
                s, "telegram", "555", display_name="Newcomer", locale="en", chat_id="555", private=True, now=NOW
            )
            await record_event(s, "telegram:7", NOW)
    assert await count(database, Person) == 0
    assert await count(database, InboxEvent) == 1


async def test_the_same_key_within_one_transaction_is_refused(database: Database) -> None:
    with pytest.raises(IntegrityError):
        async with database.transaction() as s:
            await record_event(s, "slack:Ev9", NOW)
            await record_event(s, "slack:Ev9", NOW)
    assert await count(database, InboxEvent) == 0
