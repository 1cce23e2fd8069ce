"""The queries behind the runner election (:mod:`scheduler.runner`).

Two mechanisms, one per dialect:

- a *lease row* in ``runner_lease`` (SQLite): taken or renewed with a compare-and-set
  ``UPDATE`` (or the first ``INSERT``) in one short transaction, so of two processes
  trying at once exactly one wins;
- a session-level *advisory lock* (PostgreSQL), taken and checked on a dedicated
  connection in autocommit mode. ``pg_try_advisory_lock(key1, key2)`` shows in
  ``pg_locks`` as ``classid = key1, objid = key2, objsubid = 2``; the holder's name is
  its connection's ``application_name``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, delete, or_, text, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from store.models import RunnerLease

# --- lease row (SQLite) ------------------------------------------------------------------


async def take_lease(s: AsyncSession, name: str, holder: str, now: datetime, until: datetime) -> bool:
    """Make ``holder`` hold lease ``name`` until ``until`` if it is theirs already, expired
    (``expires_at <= now``) or absent; ``False`` if someone else holds it. A concurrent first
    insert loses with ``IntegrityError`` (the caller's transaction then rolls back)."""
    result = await s.exec(
        update(RunnerLease)
        .where(col(RunnerLease.name) == name,
               or_(col(RunnerLease.holder) == holder, col(RunnerLease.expires_at) <= now))
        .values(holder=holder, expires_at=until,
                acquired_at=case((col(RunnerLease.holder) == holder, col(RunnerLease.acquired_at)), else_=now))
    )  # type: ignore[call-overload]
    if result.rowcount == 1:
        return True
    if (await s.exec(select(RunnerLease.name).where(col(RunnerLease.name) == name))).first() is not None:
        return False
    s.add(RunnerLease(name=name, holder=holder, acquired_at=now, expires_at=until))
    await s.flush()
    return True


async def give_up_lease(s: AsyncSession, name: str, holder: str) -> bool:
    """Delete lease ``name`` if ``holder`` holds it (another process may take it at once)."""
    result = await s.exec(
        delete(RunnerLease).where(col(RunnerLease.name) == name, col(RunnerLease.holder) == holder)
    )  # type: ignore[call-overload]
    return bool(result.rowcount == 1)


async def lease_holder(s: AsyncSession, name: str, now: datetime) -> str | None:
    """Who holds lease ``name`` now (``None`` when nobody, or the lease has expired)."""
    stmt = select(RunnerLease.holder).where(col(RunnerLease.name) == name, col(RunnerLease.expires_at) > now)
    return (await s.exec(stmt)).first()


# --- advisory lock (PostgreSQL) -------------------------------------------------------------

STARTUP_LOCK_KEY = (0x6465736B, 0x737461)  # "desk", "sta": one process at a time syncs config


async def serialize_startup(s: AsyncSession) -> None:
    """Make processes starting together run their start-up writes (people and teams from
    config) one after another: on PostgreSQL a transaction-level advisory lock, held until
    ``s`` commits; SQLite's ``BEGIN IMMEDIATE`` already serializes writers."""
    bind = s.bind
    if bind is not None and bind.dialect.name == "postgresql":
        await s.exec(text("SELECT pg_advisory_xact_lock(:k1, :k2)"),  # type: ignore[call-overload]
                     params={"k1": STARTUP_LOCK_KEY[0], "k2": STARTUP_LOCK_KEY[1]})


_HELD = """
    SELECT EXISTS (
        SELECT 1 FROM pg_locks
        WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid()
          AND classid::bigint = :k1 AND objid::bigint = :k2 AND objsubid = 2)
"""

_HOLDER = """
    SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.granted
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.classid::bigint = :k1 AND l.objid::bigint = :k2 AND l.objsubid = 2
"""


async def try_advisory_lock(conn: AsyncConnection, key: tuple[int, int]) -> bool:
    """Take the session lock ``key`` on ``conn`` if free (``True`` also if ``conn`` has it)."""
    result = await conn.execute(text("SELECT pg_try_advisory_lock(:k1, :k2)"), {"k1": key[0], "k2": key[1]})
    return bool(result.scalar())


async def holds_advisory_lock(conn: AsyncConnection, key: tuple[int, int]) -> bool:
    """Whether ``conn``'s session holds ``key`` (raises if the connection is gone)."""
    result = await conn.execute(text(_HELD), {"k1": key[0], "k2": key[1]})
    return bool(result.scalar())


async def advisory_unlock(conn: AsyncConnection, key: tuple[int, int]) -> None:
    await conn.execute(text("SELECT pg_advisory_unlock(:k1, :k2)"), {"k1": key[0], "k2": key[1]})


async def advisory_holder(conn: AsyncConnection, key: tuple[int, int]) -> str | None:
    """The ``application_name`` of the session holding ``key`` in this database, if any."""
    result = await conn.execute(text(_HOLDER), {"k1": key[0], "k2": key[1]})
    name = result.scalar()
    return str(name) if name is not None else None
