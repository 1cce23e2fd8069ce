"""Database engine and transactions for SQLite (embedded default) and PostgreSQL.

SQLite runs in WAL mode with a busy timeout, and every writing transaction starts
with ``BEGIN IMMEDIATE`` so that two writers queue up instead of failing half-way
when a read lock cannot be upgraded. SQLite has one writer at a time; left to
itself, a writer that finds the lock taken sleeps in SQLite's busy handler
(1, 2, 5 ... 100 ms steps, no queue), so under 50 concurrent writers some wait for
seconds and the unlucky reach the busy timeout ("database is locked"). So the
writers of one file in one process queue first on a FIFO ``asyncio.Lock`` (the
*write gate*) and take SQLite's lock only when it is theirs: the busy handler is left
to other processes. Statements run on the loop's thread (:mod:`store.sqlite_inline`),
so a transaction holds the gate for its own work only. Read-only work
(``Database.read``) begins a deferred transaction, never takes the gate and never
blocks a writer (WAL readers see a snapshot).

PostgreSQL uses READ COMMITTED; the operations that race (claim, inbox) are
written as compare-and-set statements or rely on unique constraints, so they are
correct under it. The gate does not exist there (``read`` is a plain transaction).
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from store import sqlite_inline

SQLITE_BUSY_TIMEOUT_MS = 10_000
# "aiosqlite" runs SQLite statements on aiosqlite's thread as before store/sqlite_inline.py
# (for a database file on a slow or network disk, and for the load bench's comparison).
SQLITE_DRIVER_ENV = "DESKBOT_SQLITE_DRIVER"
READ_ONLY = "deskbot_read_only"  # execution option: begin a deferred (read) transaction on SQLite


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_file(url: str) -> str:
    """The resolved path of a SQLite database file ("" for a ``:memory:`` or URI database):
    what runs inline and what identifies the write gate."""
    path = make_url(url).database
    if not path or path == ":memory:" or path.startswith("file:"):
        return ""
    return os.path.realpath(path)


def make_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """Create the async engine for ``url`` with the dialect's pragmas and pool settings."""
    if is_sqlite(url):
        path = sqlite_file(url)
        inline: dict[str, Any] = {}
        if path and os.environ.get(SQLITE_DRIVER_ENV) != "aiosqlite":
            # Statements on the loop's thread, not aiosqlite's (store/sqlite_inline.py says why).
            inline["async_creator"] = sqlite_inline.creator(path, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
        engine = create_async_engine(
            url,
            echo=echo,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            **inline,
        )
        _sqlite_setup(engine)
        return engine
    return create_async_engine(url, echo=echo, pool_size=10, max_overflow=20, pool_pre_ping=True)


def _sqlite_setup(engine: AsyncEngine) -> None:
    memory = ":memory:" in str(engine.url) or str(engine.url).endswith("sqlite+aiosqlite://")

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (pysqlite's implicit BEGIN is deferred).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if not memory:
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")


_GATES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = weakref.WeakKeyDictionary()
_HOLDING: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar("deskbot_write_gates", default=frozenset())


class Database:
    """Owns the engine; hands out one-transaction sessions."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine = make_engine(url, echo=echo)
        self._sqlite = is_sqlite(url)
        self._reader = self.engine.execution_options(**{READ_ONLY: True}) if self._sqlite else self.engine
        # The write gate is per SQLite file, shared by every Database on it in this process:
        # with statements run inline (store/sqlite_inline.py) a second writer of the same
        # file in this process must queue here, not in SQLite's busy handler, which would
        # block the loop the first writer needs to finish.
        self._file = (sqlite_file(url) or f"memory#{id(self)}") if self._sqlite else ""

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One short (writing) transaction: commit on success, roll back on any exception.

        On SQLite it waits for its turn at the process's write gate first (see the module
        docstring); a transaction opened inside another one of the same task does not queue
        behind itself."""
        if not self._sqlite or self._file in _HOLDING.get():
            async with self._session(self.engine) as session:
                yield session
            return
        gates = _GATES.setdefault(asyncio.get_running_loop(), {})
        gate = gates.get(self._file)
        if gate is None:
            gate = gates[self._file] = asyncio.Lock()  # writers of this file in this process, first come first served
        async with gate:
            token = _HOLDING.set(_HOLDING.get() | {self._file})
            try:
                async with self._session(self.engine) as session:
                    yield session
            finally:
                _HOLDING.reset(token)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only transaction: on SQLite a deferred ``BEGIN`` outside the write gate (a
        consistent snapshot; it never waits for a writer nor holds one up). Writing in it is
        a bug (SQLite would fail the upgrade when another writer committed meanwhile)."""
        async with self._session(self._reader) as session:
            yield session

    @asynccontextmanager
    async def _session(self, bind: AsyncEngine) -> AsyncIterator[AsyncSession]:
        async with AsyncSession(bind, expire_on_commit=False) as session:
            async with session.begin():
                yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
