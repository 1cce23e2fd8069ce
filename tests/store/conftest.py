"""Store fixtures: a migrated database (SQLite and PostgreSQL) with a few people in it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from store import people
from store.db import Database

NOW = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Cast:
    """Person ids: a requester, two IT agents (L1, L2), an IT lead and an HR agent."""

    anna: int
    boris: int
    vera: int
    gleb: int
    dina: int


@pytest.fixture
async def cast(database: Database) -> Cast:
    specs = [
        people.PersonSpec("anna", "Anna Ivanova", (("telegram", "100001"),)),
        people.PersonSpec("boris", "Boris Petrov", (("telegram", "100002"), ("slack", "U000BORIS"))),
        people.PersonSpec("vera", "Vera Sokolova", ()),
        people.PersonSpec("gleb", "Gleb Orlov", ()),
        people.PersonSpec("dina", "Dina Kuznetsova", ()),
    ]
    memberships = [
        people.MembershipSpec("boris", "it", people.ROLE_AGENT, "L1"),
        people.MembershipSpec("vera", "it", people.ROLE_AGENT, "L2"),
        people.MembershipSpec("gleb", "it", people.ROLE_LEAD),
        people.MembershipSpec("dina", "hr", people.ROLE_AGENT, "L1"),
    ]
    async with database.transaction() as s:
        await people.sync_from_config(s, specs, memberships)
    ids: dict[str, int] = {}
    async with database.transaction() as s:
        for spec in specs:
            person = await people.person_by_key(s, spec.key)
            assert person is not None and person.id is not None
            ids[spec.key] = person.id
    return Cast(**ids)
