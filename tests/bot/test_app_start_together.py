"""Regression: two ``deskbot run`` replicas starting at the same moment on one PostgreSQL
database both synced people from config and one died with a duplicate key on
``person.key`` (SQLite's BEGIN IMMEDIATE already queued them). Start-up writes now take
a lock first (``store.leases.serialize_startup``)."""

from __future__ import annotations

import asyncio

from sqlalchemy import func
from sqlmodel import select

from bot.app import build, membership_specs
from bot.config import Config
from store import migrate
from store.db import Database
from store.models import Membership, Person
from tests.support.desk import RecordingSender


async def test_replicas_starting_together_sync_people_once(config: Config, db_url: str) -> None:
    db = Database(db_url)
    await migrate.upgrade(db)  # (alembic cannot run twice at once in one process; replicas are processes)
    await db.dispose()
    apps = [build(config, senders={"console": RecordingSender()}, database_url=db_url) for _ in range(3)]
    try:
        await asyncio.gather(*(app.sync_config() for app in apps))
        async with apps[0].db.transaction() as s:
            people = (await s.exec(select(func.count()).select_from(Person))).one()
            memberships = (await s.exec(select(func.count()).select_from(Membership))).one()
    finally:
        for app in apps:
            await app.close()
    assert people == len(config.people)
    assert memberships == len(membership_specs(config))  # replaced, not added three times
