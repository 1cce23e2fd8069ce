"""SQLite run inline on the event loop's thread, behind SQLAlchemy's aiosqlite dialect.

Why: aiosqlite runs each statement on a thread of its own and hands the result back with
``call_soon_threadsafe``, so every statement costs a loop turn. A desk's write transaction
is about a dozen statements, and it holds the process's write gate (:mod:`store.db`) the
whole time: under load each of those turns waits behind every other ready task (webhook
parsing, outbox lanes), and measured with 50 senders the gate was held 90-95 % of the wall
clock at 10-20 ms a transaction, for 2-5 ms of actual work (docs/performance.md, "SQLite
inline"). A statement on a local SQLite file takes microseconds, so running it right away
on the loop's thread is cheaper than any hand-off, and a transaction then holds the gate for
its own work only.

This module is an aiosqlite look-alike with no thread: the coroutines do the work before
they return, so SQLAlchemy's ``await_`` never suspends. It implements the part of
aiosqlite's ``Connection`` / ``Cursor`` that SQLAlchemy's aiosqlite adapter uses
(``sqlalchemy/dialects/sqlite/aiosqlite.py``, ``connectors/asyncio.py``), and is given to
the engine as its ``async_creator``; the dialect, pool, pragmas and events are unchanged.

The trade: a statement blocks the loop while SQLite runs it. On a local file that is short
(the desk's statements are index lookups), and the one wait that could be long, another
*process* holding SQLite's write lock, is SQLite's busy handler (``busy_timeout``), rare
with one ``deskbot run`` per SQLite file. ``:memory:`` databases keep aiosqlite.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable
from typing import Any


class _Cursor:
    """An aiosqlite ``Cursor`` whose methods complete before they return."""

    __slots__ = ("_cursor",)

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> _Cursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Any = None) -> _Cursor:
        if parameters is None:
            self._cursor.execute(sql)
        else:
            self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> _Cursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class _CursorRequest:
    """What ``Connection.cursor()`` returns: awaitable, and an async context manager (as
    aiosqlite's), both giving the cursor."""

    __slots__ = ("_cursor",)

    def __init__(self, cursor: _Cursor) -> None:
        self._cursor = cursor

    def __await__(self) -> Any:
        return self._coro().__await__()

    async def _coro(self) -> _Cursor:
        return self._cursor

    async def __aenter__(self) -> _Cursor:
        return self._cursor

    async def __aexit__(self, *exc: object) -> None:
        await self._cursor.close()


class _Now:
    """Stands in for aiosqlite's request queue (``Connection._tx``): SQLAlchemy sets the
    isolation level by putting ``(future, function)`` on it; this runs it at once."""

    __slots__ = ()

    @staticmethod
    def put_nowait(item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except Exception as exc:  # noqa: BLE001 — handed to the awaiting caller
            future.set_exception(exc)
        else:
            future.set_result(result)


class Connection:
    """An aiosqlite ``Connection`` on the calling thread."""

    _tx = _Now()

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn: sqlite3.Connection | None = conn

    @property
    def _connection(self) -> sqlite3.Connection | None:  # aiosqlite's name; None once closed
        return self._conn

    def _live(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ValueError("no active connection")
        return self._conn

    @property
    def isolation_level(self) -> str | None:
        return self._live().isolation_level

    def cursor(self) -> _CursorRequest:
        return _CursorRequest(_Cursor(self._live().cursor()))

    async def execute(self, sql: str, parameters: Any = None) -> _Cursor:
        return await _Cursor(self._live().cursor()).execute(sql, parameters)

    async def commit(self) -> None:
        self._live().commit()

    async def rollback(self) -> None:
        self._live().rollback()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._live().create_function(*args, **kwargs)

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        """aiosqlite's forced close (the pool's terminate); here the same as :meth:`close`."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


def creator(path: str, *, timeout: float) -> Callable[[], Any]:
    """The engine's ``async_creator``: a new inline connection to the SQLite file ``path``."""

    async def connect() -> Connection:
        # check_same_thread off: the pool may close a connection from a finaliser elsewhere.
        return Connection(sqlite3.connect(path, timeout=timeout, check_same_thread=False))

    return connect
