"""The one-runner lock: the SQLite lease row and the PostgreSQL advisory lock, and the
election that follows it (two locks on one database: one wins; release → the other takes
it; an expired lease may be taken; a lost PostgreSQL connection drops the role)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
import pytest
from sqlalchemy import text

from bot.config import Config, ConfigError, RunnerConfig, parse_config
from scheduler.runner import AdvisoryLock, LeaseLock, RunnerElection, RunnerLock, holder_id, runner_lock
from store.db import Database
from tests.support.clock import FakeClock

LEASE = 15.0


@pytest.fixture
async def make(database: Database) -> AsyncIterator[Callable[[str], RunnerLock]]:
    """Makes locks on ``database`` for its own backend (all closed after the test)."""
    made: list[RunnerLock] = []

    def make(holder: str) -> RunnerLock:
        lock = runner_lock(database, RunnerConfig(lease_seconds=LEASE), holder=holder)
        made.append(lock)
        return lock

    yield make
    for lock in made:
        await lock.close()


async def terminate(db: Database, holder: str) -> int:
    """Kill the server session whose application_name is ``holder`` (a lost connection)."""
    async with db.transaction() as s:
        result = await s.exec(text(  # type: ignore[call-overload]
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = :h"),
            params={"h": holder})
        return int(result.scalar())


def test_holder_ids_are_host_pid_random_and_fit_application_name() -> None:
    first, second = holder_id(), holder_id()
    host, pid, random = first.split(":")
    assert host and pid.isdigit() and len(random) == 8
    assert first != second and len(first) <= 63 and first.isascii()


def test_the_backend_follows_the_dialect(sqlite_url: str) -> None:
    assert isinstance(runner_lock(Database(sqlite_url), RunnerConfig()), LeaseLock)
    assert isinstance(runner_lock(Database("postgresql+asyncpg://u@127.0.0.1/x"), RunnerConfig()), AdvisoryLock)


# --- contract: both backends ------------------------------------------------------------------


async def test_of_two_locks_one_wins_and_the_other_takes_over_on_release(
        make: Callable[[str], RunnerLock]) -> None:
    a, b = make("host:1:aaaa"), make("host:2:bbbb")

    assert await a.acquire() is True
    assert await b.acquire() is False
    assert await a.acquire() is True  # renewal by the holder
    assert await b.current_holder() == "host:1:aaaa"
    assert await b.acquire() is False

    await a.release()

    assert await b.acquire() is True
    assert await a.acquire() is False
    assert await a.current_holder() == "host:2:bbbb"


async def test_nobody_holds_a_fresh_lock(make: Callable[[str], RunnerLock]) -> None:
    a = make("host:1:aaaa")
    assert await a.current_holder() is None
    await a.release()  # not held: nothing happens
    assert await a.acquire() is True


# --- the lease row (on both databases: its SQL is dialect-neutral) ------------------------------


async def test_an_expired_lease_is_taken_and_its_old_holder_loses_it(database: Database) -> None:
    clock = FakeClock()
    a = LeaseLock(database, holder="host:1:aaaa", lease_seconds=LEASE, clock=clock)
    b = LeaseLock(database, holder="host:2:bbbb", lease_seconds=LEASE, clock=clock)
    assert await a.acquire()

    clock.advance(seconds=LEASE - 0.5)  # a went silent, but its lease still runs
    assert not await b.acquire()
    assert await b.current_holder() == "host:1:aaaa"

    clock.advance(seconds=0.5)  # exactly at expiry
    assert await b.current_holder() is None
    assert await b.acquire()
    assert not await a.acquire()  # a wakes up: the lease is b's now
    assert await a.current_holder() == "host:2:bbbb"


async def test_renewals_keep_the_lease_past_its_first_expiry(database: Database) -> None:
    clock = FakeClock()
    a = LeaseLock(database, holder="host:1:aaaa", lease_seconds=LEASE, clock=clock)
    b = LeaseLock(database, holder="host:2:bbbb", lease_seconds=LEASE, clock=clock)
    assert await a.acquire()
    for _ in range(5):
        clock.advance(seconds=LEASE / 3)
        assert await a.acquire()
        assert not await b.acquire()


async def test_a_renewal_that_returns_after_its_lease_ran_out_counts_as_lost(database: Database) -> None:
    clock = FakeClock()

    def slow() -> datetime:  # the transaction took longer than the lease (a stalled process)
        now = clock()
        clock.advance(seconds=LEASE)
        return now

    a = LeaseLock(database, holder="host:1:aaaa", lease_seconds=LEASE, clock=slow)
    assert await a.acquire() is False


# --- the advisory lock -----------------------------------------------------------------------


async def test_the_advisory_lock_is_gone_with_its_connection(pg_url: str) -> None:
    db = Database(pg_url)
    a, b = AdvisoryLock(pg_url, holder=holder_id()), AdvisoryLock(pg_url, holder=holder_id())
    try:
        assert await a.acquire()
        assert not await b.acquire()
        assert await b.current_holder() == a.holder  # the holder is named by its connection

        assert await terminate(db, a.holder) == 1

        with pytest.raises(Exception):  # noqa: B017, PT011 — the driver's "connection closed", whatever its class
            await a.acquire()
        assert await b.acquire()  # the server freed the lock with the session
        assert not await a.acquire()  # a reconnects, but b has it
    finally:
        await a.close()
        await b.close()
        await db.dispose()


# --- the election ---------------------------------------------------------------------------


class Role:
    """Records the role changes an election reports."""

    def __init__(self) -> None:
        self.changes: list[str] = []
        self.fail_gain = False

    async def gain(self) -> None:
        self.changes.append("gain")
        if self.fail_gain:
            raise RuntimeError("cannot start")

    async def lose(self) -> None:
        self.changes.append("lose")


def election(lock: RunnerLock, role: Role) -> RunnerElection:
    return RunnerElection(lock, heartbeat_seconds=3600, on_gain=role.gain, on_lose=role.lose)


async def test_a_lost_postgres_connection_drops_the_role_at_the_next_heartbeat(pg_url: str) -> None:
    db = Database(pg_url)
    first_role, second_role = Role(), Role()
    first = election(AdvisoryLock(pg_url, holder=holder_id()), first_role)
    second = election(AdvisoryLock(pg_url, holder=holder_id()), second_role)
    try:
        await first.start()
        await second.start()
        assert (first.is_runner, second.is_runner) == (True, False)
        assert second.holder == first.me

        await terminate(db, first.me)

        assert await first.beat() is False
        assert first_role.changes == ["gain", "lose"]
        assert await second.beat() is True
        assert second_role.changes == ["gain"]
        await first.beat()
        assert not first.is_runner and first.holder == second.me
    finally:
        await first.stop()
        await second.stop()
        await db.dispose()


async def test_a_graceful_stop_hands_the_role_over_at_once(
        make: Callable[[str], RunnerLock]) -> None:
    first_role, second_role = Role(), Role()
    first, second = election(make("host:1:aaaa"), first_role), election(make("host:2:bbbb"), second_role)
    await first.start()
    await second.start()
    assert first.is_runner and not second.is_runner and second.holder == "host:1:aaaa"

    await first.stop()

    assert first_role.changes == ["gain", "lose"]
    assert await second.beat() is True  # no waiting for a lease to run out
    assert second_role.changes == ["gain"] and second.holder == "host:2:bbbb"
    await second.stop()


async def test_a_runner_that_cannot_start_gives_the_role_up(
        make: Callable[[str], RunnerLock]) -> None:
    broken_role, other_role = Role(), Role()
    broken_role.fail_gain = True
    broken, other = election(make("host:1:aaaa"), broken_role), election(make("host:2:bbbb"), other_role)

    with pytest.raises(RuntimeError, match="cannot start"):
        await broken.start()

    assert broken_role.changes == ["gain", "lose"] and not broken.is_runner
    await other.start()
    assert other.is_runner  # the lock was released
    await broken.stop()
    await other.stop()


async def test_a_failing_lock_check_means_not_the_runner(database: Database) -> None:
    clock = FakeClock()
    role = Role()
    lock = LeaseLock(database, holder="host:1:aaaa", lease_seconds=LEASE, clock=clock)
    runner = election(lock, role)
    await runner.start()
    assert runner.is_runner

    async def down() -> bool:
        raise ConnectionError("database unreachable")

    lock.acquire = down  # type: ignore[method-assign]
    assert await runner.beat() is False
    assert role.changes == ["gain", "lose"]
    await runner.stop()


# --- configuration -----------------------------------------------------------------------------


def test_by_default_a_dead_runner_is_replaced_within_30_seconds() -> None:
    defaults = RunnerConfig()
    assert defaults.lease_seconds + defaults.heartbeat_seconds <= 30


def test_a_heartbeat_too_slow_for_its_lease_is_a_config_error(config: Config) -> None:
    data = {**config.model_dump(mode="json", exclude={"telegram", "slack"}),
            "runner": {"lease_seconds": 4, "heartbeat_seconds": 3}}
    with pytest.raises(ConfigError) as err:
        parse_config(data, env={})
    assert "runner: heartbeat_seconds (3) must be at most half of lease_seconds (4)" in str(err.value)
