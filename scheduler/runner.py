"""One runner per database: which ``deskbot run`` process delivers and schedules.

Every process serves webhooks; exactly one of those sharing a database, the *runner*,
also runs the outbox worker, the scheduler and whatever must not run twice (Telegram
long polling). The runner is whoever holds a lock in the database (:class:`RunnerLock`):

- PostgreSQL (:class:`AdvisoryLock`): a session-level ``pg_try_advisory_lock`` held on a
  connection of its own (its own engine, no pool, autocommit, so never idle inside a
  transaction). The server drops the lock the moment that connection ends, e.g. when the
  process dies, so another process takes over at its next try. Each heartbeat checks on
  that connection that the lock is still held; a failed check (connection lost) drops
  the role at once. The holder's id is the connection's ``application_name``, which lets
  any process say who holds it.
- SQLite (:class:`LeaseLock`): a row in ``runner_lease`` taken by compare-and-set in a
  short transaction and renewed every heartbeat. A lease not renewed for
  ``lease_seconds`` may be taken by another process; a renewal that fails, or that comes
  back after the lease it wrote has run out, drops the role at once.

:class:`RunnerElection` keeps a process's role in step with its lock: one try at start,
then one every ``heartbeat_seconds``; it calls ``on_gain`` when the process becomes the
runner and ``on_lose`` when it stops being it (lock lost, or a graceful stop, which then
releases the lock at once so another process need not wait for the lease to run out).

Takeover after the runner dies: within one heartbeat on PostgreSQL, within
``lease_seconds + heartbeat_seconds`` on SQLite (20 s with the defaults in
:class:`bot.config.RunnerConfig`). Delivery stays at least once: a runner killed between
a send and its recording has that message sent again by its successor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import secrets
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from bot.config import RUNNER_HEARTBEAT_SECONDS, RUNNER_LEASE_SECONDS, RunnerConfig, redact_secrets
from store import leases
from store.db import Database, is_sqlite

log = logging.getLogger("deskbot.runner")

LEASE_NAME = "runner"  # the runner_lease row
PG_LOCK_KEY = (0x6465736B, 0x72756E)  # "desk", "run": pg_try_advisory_lock(key1, key2)
HOLDER_MAX = 63  # PostgreSQL keeps 63 bytes of application_name
CHECK_TIMEOUT_MIN = 2.0  # seconds a lock check may take at least (a short test heartbeat on a busy host)
CONNECT_TIMEOUT = 10.0  # seconds to open the lock's connection (not yet the runner: no hurry)

WallClock = Callable[[], datetime]


def wall_clock() -> datetime:
    """The lease clock: real UTC time, shared by every process (never a desk's fake clock)."""
    return datetime.now(UTC)


def holder_id() -> str:
    """``hostname:pid:random`` — unique per process start, ASCII, at most 63 characters."""
    host = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname())[:40] or "host"
    return f"{host}:{os.getpid()}:{secrets.token_hex(4)}"[:HOLDER_MAX]


class RunnerLock(Protocol):
    """The one-runner lock of a database, as one process sees it."""

    holder: str  # this process's id

    async def acquire(self) -> bool:
        """Take the lock, or confirm (renew) that this process still has it; ``False`` if
        another process holds it. Raises when the database cannot answer: not held."""
        ...

    async def release(self) -> None:
        """Give the lock up now (nothing if not held)."""
        ...

    async def current_holder(self) -> str | None:
        """The id of the process holding the lock (``None`` when nobody does)."""
        ...

    async def close(self) -> None:
        """Release and free the lock's own connections."""
        ...


class LeaseLock:
    """The runner lease row (SQLite; works on any database, PostgreSQL uses :class:`AdvisoryLock`)."""

    def __init__(self, db: Database, *, holder: str | None = None, lease_seconds: float = RUNNER_LEASE_SECONDS,
                 clock: WallClock = wall_clock, name: str = LEASE_NAME) -> None:
        self.db = db
        self.holder = holder or holder_id()
        self.lease = timedelta(seconds=lease_seconds)
        self.clock = clock
        self.name = name
        self._held = False

    async def acquire(self) -> bool:
        # ``now`` is read before the transaction: if it waits for the write lock, the lease
        # written runs from the earlier instant (shorter, never longer than promised).
        now = self.clock()
        until = now + self.lease
        self._held = False
        try:
            async with self.db.transaction() as s:
                taken = await leases.take_lease(s, self.name, self.holder, now, until)
        except IntegrityError:  # another process inserted the first row at the same time
            return False
        self._held = taken and self.clock() < until  # a renewal that came back too late counts as lost
        return self._held

    async def release(self) -> None:
        if not self._held:
            return
        self._held = False
        async with self.db.transaction() as s:
            await leases.give_up_lease(s, self.name, self.holder)

    async def current_holder(self) -> str | None:
        async with self.db.transaction() as s:
            return await leases.lease_holder(s, self.name, self.clock())

    async def close(self) -> None:
        await self.release()


class AdvisoryLock:
    """A PostgreSQL advisory lock held on a dedicated connection to ``url``."""

    def __init__(self, url: str, *, holder: str | None = None, key: tuple[int, int] = PG_LOCK_KEY,
                 timeout: float = RUNNER_HEARTBEAT_SECONDS) -> None:
        self.url = url
        self.holder = (holder or holder_id())[:HOLDER_MAX]
        self.key = key
        self.timeout = timeout  # for one statement: a runner's check that slow counts as lost
        self._engine: AsyncEngine | None = None
        self._conn: AsyncConnection | None = None
        self._held = False
        self._io = asyncio.Lock()  # one statement at a time on the connection

    async def _connection(self) -> AsyncConnection:
        if self._conn is None:
            if self._engine is None:
                self._engine = create_async_engine(
                    self.url, poolclass=NullPool,
                    connect_args={"server_settings": {"application_name": self.holder}})
            async with asyncio.timeout(CONNECT_TIMEOUT):
                conn = await self._engine.connect()
            self._conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        return self._conn

    async def _drop(self) -> None:
        """Forget the connection (and with it the lock: the server frees it when it closes)."""
        conn, self._conn, self._held = self._conn, None, False
        if conn is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self.timeout):
                    await conn.invalidate()
                    await conn.close()

    async def acquire(self) -> bool:
        async with self._io:
            try:
                conn = await self._connection()
                async with asyncio.timeout(self.timeout):
                    if self._held:
                        self._held = await leases.holds_advisory_lock(conn, self.key)
                    else:
                        self._held = await leases.try_advisory_lock(conn, self.key)
            except BaseException:
                await self._drop()
                raise
            return self._held

    async def release(self) -> None:
        async with self._io:
            if self._held and self._conn is not None:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(self.timeout):
                        await leases.advisory_unlock(self._conn, self.key)
            await self._drop()  # closing the session frees the lock in any case

    async def current_holder(self) -> str | None:
        async with self._io:
            if self._held:
                return self.holder
            try:
                conn = await self._connection()
                async with asyncio.timeout(self.timeout):
                    return await leases.advisory_holder(conn, self.key)
            except BaseException:
                await self._drop()
                raise

    async def close(self) -> None:
        await self.release()
        if self._engine is not None:
            engine, self._engine = self._engine, None
            await engine.dispose()


def runner_lock(db: Database, config: RunnerConfig, *, holder: str | None = None) -> RunnerLock:
    """The lock for ``db``'s dialect: a lease row on SQLite, an advisory lock on PostgreSQL."""
    if is_sqlite(db.url):
        return LeaseLock(db, holder=holder, lease_seconds=config.lease_seconds)
    return AdvisoryLock(db.url, holder=holder, timeout=max(config.heartbeat_seconds, CHECK_TIMEOUT_MIN))


RoleHook = Callable[[], Awaitable[None]]


class RunnerElection:
    """Keeps this process's runner role in step with ``lock``.

    ``on_gain`` starts what only the runner runs; if it raises, ``on_lose`` undoes what it
    started and the lock is given up (the next heartbeat tries again). ``on_lose`` stops
    it. Both are awaited one at a time, never concurrently.
    """

    def __init__(self, lock: RunnerLock, *, heartbeat_seconds: float = RUNNER_HEARTBEAT_SECONDS,
                 on_gain: RoleHook, on_lose: RoleHook) -> None:
        self.lock = lock
        self.heartbeat = heartbeat_seconds
        self.on_gain = on_gain
        self.on_lose = on_lose
        self.is_runner = False
        self.holder: str | None = None  # the runner's id, as last seen
        self._turn = asyncio.Lock()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def me(self) -> str:
        return self.lock.holder

    async def start(self) -> None:
        """The first try (an ``on_gain`` failure raises here), then the heartbeat."""
        await self.beat(raise_on_gain=True)
        self._task = asyncio.create_task(self._heartbeat(self.beat), name="runner-election")

    async def observe(self) -> None:
        """Never take the lock; only follow who holds it (a ``--role web`` process, whose
        /healthz still names the runner). Looks once now, then every heartbeat."""
        await self._follow()
        self._task = asyncio.create_task(self._heartbeat(self._follow), name="runner-observer")

    async def _follow(self) -> None:
        async with self._turn:
            await self._look_up_holder()

    async def beat(self, *, raise_on_gain: bool = False) -> bool:
        """One heartbeat: try or renew the lock and follow the outcome; whether this is the runner."""
        async with self._turn:
            if self._stop.is_set():
                return self.is_runner
            try:
                held = await self.lock.acquire()
            except Exception as exc:  # noqa: BLE001 — cannot confirm the lock: not the runner
                log.warning("runner lock check failed: %s", _one_line(exc))
                held = False
            if held:
                self.holder = self.me
                if not self.is_runner:
                    await self._gain(raise_on_gain)
                return self.is_runner
            await self._look_up_holder()  # first, so /healthz never names this process once it lost
            if self.is_runner:
                log.warning("runner lock lost: stopping the outbox worker and the scheduler")
                await self._lose()
            return self.is_runner

    async def stop(self) -> None:
        """Stop the heartbeat; if this is the runner, stop being it and release the lock."""
        self._stop.set()
        if self._task is not None:
            task, self._task = self._task, None
            await task
        async with self._turn:
            if self.is_runner:
                await self._lose()
            try:
                await self.lock.close()
            except Exception as exc:  # noqa: BLE001 — the lease then simply runs out
                log.warning("runner lock not released: %s", _one_line(exc))
            self.holder = None

    async def _heartbeat(self, step: Callable[[], Awaitable[object]]) -> None:
        """``step`` every heartbeat until :meth:`stop`."""
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.heartbeat)
            if not self._stop.is_set():
                try:
                    await step()
                except Exception:  # noqa: BLE001 — the heartbeat must outlive one bad beat
                    log.exception("runner heartbeat failed")

    async def _gain(self, raise_errors: bool) -> None:
        self.is_runner = True
        try:
            await self.on_gain()
        except Exception as exc:
            log.error("could not start as the runner (%s): giving the role up", _one_line(exc))
            self.holder = None
            await self._lose()  # undoes what on_gain started and releases the lock
            if raise_errors:
                raise
            return
        log.info("this process is the runner (%s)", self.me, extra={"holder": self.me})

    async def _lose(self) -> None:
        self.is_runner = False
        try:
            await self.on_lose()
        finally:
            with contextlib.suppress(Exception):
                await self.lock.release()

    async def _look_up_holder(self) -> None:
        try:
            self.holder = await self.lock.current_holder()
        except Exception as exc:  # noqa: BLE001 — unknown for now
            log.debug("runner holder unknown: %s", _one_line(exc))
            self.holder = None


def _one_line(exc: BaseException) -> str:
    text = redact_secrets(f"{type(exc).__name__}: {exc}")
    return (text.strip().splitlines() or [type(exc).__name__])[0]
