"""SQLite statements run inline on the loop's thread (store/sqlite_inline.py): a write
transaction never yields to other tasks, errors and rollbacks behave as with aiosqlite,
two Database objects on one file share one write gate, and DESKBOT_SQLITE_DRIVER=aiosqlite
brings the thread driver back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import exc, text

from store import sqlite_inline
from store.db import SQLITE_DRIVER_ENV, Database


def url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'inline.db'}"


async def driver_connection(db: Database) -> object:
    async with db.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        return raw.driver_connection


async def make_table(db: Database) -> None:
    async with db.transaction() as s:
        await s.exec(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)"))  # type: ignore[call-overload]


async def turns_during(db: Database, statements: int, prefix: str) -> int:
    """How many times another task ran while one write transaction of ``statements``
    INSERTs was open."""
    turns = 0
    stop = asyncio.Event()

    async def other() -> None:
        nonlocal turns
        while not stop.is_set():
            turns += 1
            await asyncio.sleep(0)  # one loop turn per step: what is counted

    task = asyncio.create_task(other())
    await asyncio.sleep(0)
    async with db.transaction() as s:
        before = turns
        for i in range(statements):
            await s.exec(text("INSERT INTO t (v) VALUES (:v)").bindparams(v=f"{prefix}{i}"))  # type: ignore[call-overload]
        during = turns - before
    stop.set()
    await task
    return during


async def test_a_file_database_uses_the_inline_driver_and_the_env_brings_aiosqlite_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = Database(url(tmp_path))
    try:
        assert isinstance(await driver_connection(db), sqlite_inline.Connection)
    finally:
        await db.dispose()
    monkeypatch.setenv(SQLITE_DRIVER_ENV, "aiosqlite")
    db = Database(url(tmp_path))
    try:
        import aiosqlite

        assert isinstance(await driver_connection(db), aiosqlite.Connection)
    finally:
        await db.dispose()


async def test_a_write_transaction_does_not_yield_to_other_tasks(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    db = Database(url(tmp_path))
    try:
        await make_table(db)
        assert await turns_during(db, 20, "inline") == 0
    finally:
        await db.dispose()
    # The thread driver hands every statement back through the loop: the other task runs.
    monkeypatch.setenv(SQLITE_DRIVER_ENV, "aiosqlite")
    db = Database(url(tmp_path))
    try:
        assert await turns_during(db, 20, "thread") >= 20
    finally:
        await db.dispose()


async def test_errors_roll_back_and_reads_see_committed_rows(tmp_path: Path) -> None:
    db = Database(url(tmp_path))
    try:
        await make_table(db)
        async with db.transaction() as s:
            await s.exec(text("INSERT INTO t (v) VALUES ('a')"))  # type: ignore[call-overload]
        with pytest.raises(exc.IntegrityError):
            async with db.transaction() as s:
                await s.exec(text("INSERT INTO t (v) VALUES ('b')"))  # type: ignore[call-overload]
                # the unique v: the whole transaction goes
                await s.exec(text("INSERT INTO t (v) VALUES ('a')"))  # type: ignore[call-overload]
        async with db.read() as s:
            rows = (await s.exec(text("SELECT v FROM t ORDER BY v"))).scalars().all()  # type: ignore[call-overload]
        assert rows == ["a"]
        with pytest.raises(exc.OperationalError, match="no such table"):
            async with db.read() as s:
                await s.exec(text("SELECT * FROM missing"))  # type: ignore[call-overload]
    finally:
        await db.dispose()


async def test_two_databases_on_one_file_share_the_write_gate(tmp_path: Path) -> None:
    """With statements inline, a second writer of the same file must queue on the gate: in
    SQLite's busy handler it would block the loop the first writer needs to commit."""
    first, second = Database(url(tmp_path)), Database(url(tmp_path))
    try:
        await make_table(first)
        holding = asyncio.Event()
        release = asyncio.Event()

        async def slow_writer() -> None:
            async with first.transaction() as s:
                await s.exec(text("INSERT INTO t (v) VALUES ('first')"))  # type: ignore[call-overload]
                holding.set()
                await release.wait()  # holds SQLite's write lock across loop turns

        async def quick_writer() -> None:
            await holding.wait()
            async with second.transaction() as s:
                await s.exec(text("INSERT INTO t (v) VALUES ('second')"))  # type: ignore[call-overload]

        slow = asyncio.create_task(slow_writer())
        quick = asyncio.create_task(quick_writer())
        await holding.wait()
        await asyncio.sleep(0)
        assert not quick.done()  # queued behind the first writer, the loop still turning
        release.set()
        async with asyncio.timeout(5):  # far below the 10 s busy timeout
            await asyncio.gather(slow, quick)
        async with second.read() as s:
            rows = (await s.exec(text("SELECT v FROM t ORDER BY id"))).scalars().all()  # type: ignore[call-overload]
        assert rows == ["first", "second"]
    finally:
        await first.dispose()
        await second.dispose()
