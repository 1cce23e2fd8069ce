"""Linking accounts: one-time codes and joining two people into one.

``/link`` on one platform issues a code (:func:`issue_code`); ``/link CODE`` on another
finds it (:func:`find_code`), and :func:`merge_people` moves everything of one person to
the other in the event's transaction. Codes are stored only as SHA-256 digests: a code
is short-lived and drawn from ~10^12 values, and failed guesses are counted per person
(:func:`failures_since`) so they cannot be tried in bulk.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlmodel import SQLModel, col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from store import people
from store.models import LinkAttempt, LinkCode, Membership, Person

# No 0/O, 1/I/L: a code read off one screen is typed correctly on the other.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
CODE_TTL = timedelta(minutes=10)
MAX_FAILURES = 5  # wrong or expired codes per person per FAILURE_WINDOW; then every attempt is refused
FAILURE_WINDOW = timedelta(minutes=10)


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalize(text: str) -> str:
    """What the person typed as a code: case, spaces and dashes do not matter."""
    return "".join(ch for ch in text.upper() if ch not in " -\t")


def digest(code: str) -> str:
    return hashlib.sha256(normalize(code).encode()).hexdigest()


async def issue_code(s: AsyncSession, *, person_id: int, identity_id: int, platform: str, now: datetime) -> str:
    """A fresh code for ``person_id`` (asked from ``identity_id``); an earlier code of theirs is void."""
    await s.exec(delete(LinkCode).where(col(LinkCode.person_id) == person_id))  # type: ignore[call-overload]
    code = new_code()
    s.add(LinkCode(person_id=person_id, identity_id=identity_id, platform=platform, code_hash=digest(code),
                   created_at=now, expires_at=now + CODE_TTL))
    await s.flush()
    return code


async def find_code(s: AsyncSession, code: str) -> LinkCode | None:
    """The stored code ``code`` is (expired or not), locked until the transaction ends."""
    if not code:
        return None
    stmt = select(LinkCode).where(col(LinkCode.code_hash) == digest(code)).with_for_update()
    return (await s.exec(stmt)).first()


async def use_code(s: AsyncSession, row: LinkCode) -> bool:
    """Delete the code; ``False`` if another transaction used it first (single use)."""
    result = await s.exec(delete(LinkCode).where(col(LinkCode.id) == row.id))  # type: ignore[call-overload]
    return bool(result.rowcount == 1)


async def failures_since(s: AsyncSession, person_id: int, since: datetime) -> int:
    stmt = select(func.count()).select_from(LinkAttempt).where(
        col(LinkAttempt.person_id) == person_id, col(LinkAttempt.at) > since
    )
    n: int = (await s.exec(stmt)).one()
    return n


async def record_failure(s: AsyncSession, person_id: int, now: datetime) -> None:
    s.add(LinkAttempt(person_id=person_id, at=now))
    await s.flush()


def survivor(a: Person, b: Person, configured: set[str]) -> tuple[Person, Person]:
    """(kept, merged away): the configured person is kept, else the older one."""
    def rank(p: Person) -> tuple[bool, datetime, int]:
        return (p.key not in configured, p.created_at, p.id or 0)

    kept, gone = sorted((a, b), key=rank)
    return kept, gone


def person_references() -> list[tuple[type[SQLModel], str]]:
    """Every (model, column) in the schema that refers to a person, found from the foreign
    keys (so a table added later cannot be missed by a merge)."""
    person_id = Person.__table__.c.id  # type: ignore[attr-defined]
    found = []
    for mapper in SQLModel._sa_registry.mappers:  # noqa: SLF001 — the models' one registry
        for column in mapper.local_table.columns:
            if any(fk.column is person_id for fk in column.foreign_keys):
                found.append((mapper.class_, column.name))
    return sorted(found, key=lambda r: (r[0].__name__, r[1]))


async def merge_people(s: AsyncSession, kept: Person, gone: Person) -> None:
    """Move every reference to ``gone`` (identities, tickets as requester and assignee, message
    and event authors, outbox rows, KB feedback, memberships, failed attempts) to ``kept`` and
    delete ``gone``. Runs in the caller's transaction: all of it happens or none."""
    assert kept.id is not None and gone.id is not None and kept.id != gone.id
    # Lock both rows in id order (two merges of the same people cannot deadlock each other).
    await s.exec(select(Person).where(col(Person.id).in_(sorted((kept.id, gone.id)))).order_by(col(Person.id))
                 .with_for_update())
    await s.flush()
    await s.exec(delete(LinkCode).where(col(LinkCode.person_id).in_((kept.id, gone.id))))  # type: ignore[call-overload]
    # A membership both have would break (person_id, team, role) uniqueness: drop the duplicate.
    mine = {(m.team, m.role) for m in await s.exec(select(Membership).where(col(Membership.person_id) == kept.id))}
    for m in list(await s.exec(select(Membership).where(col(Membership.person_id) == gone.id))):
        if (m.team, m.role) in mine:
            await s.delete(m)
    await s.flush()
    for model, name in person_references():
        # ORM-enabled updates: objects already loaded in this session see the new person too.
        attr = getattr(model, name)
        await s.exec(update(model).where(attr == gone.id).values({name: kept.id}))  # type: ignore[call-overload]
    if kept.locale is None and gone.locale is not None:
        kept.locale = gone.locale
    kept.away = kept.away or gone.away
    s.add(kept)
    await s.delete(gone)
    await s.flush()
    people.forget_reach(s)  # identities moved to ``kept``
