"""Several ``deskbot run`` on one database, in process: exactly one runner delivers and
schedules, the others serve and write to the outbox; the role moves at runtime both ways
(released or lost → the worker, the scheduler and runner-only frontends stop; gained →
they start), and /healthz and /metrics say who the runner is."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import aiohttp
import pytest
from sqlalchemy import text

from bot.config import Config, RunnerConfig
from bot.run import Runner
from scheduler.runner import AdvisoryLock
from scheduler.service import JobSpec, every
from store.db import Database, is_sqlite
from tests.bot.loop_frontend import LoopFrontend, LoopSender
from tests.bot.test_run import Client, sample
from tests.scheduler.test_runner import terminate

HEARTBEAT = 0.25
WAIT = 20.0


@pytest.fixture
def fast(config: Config) -> Config:
    """The sample config with a short lease and heartbeat (takeover in about a second)."""
    return config.model_copy(update={"runner": RunnerConfig(lease_seconds=1.0, heartbeat_seconds=HEARTBEAT)})


class Receiver:
    """A frontend that must receive in one process only (like Telegram long polling)."""

    platform = "poll"
    runner_only = True
    registers = False

    def __init__(self) -> None:
        self.sender = LoopSender(platform=self.platform)
        self.receiving = False
        self.starts = 0

    def bind(self, app: Any) -> None:
        pass

    def routes(self) -> list[Any]:
        return []

    async def start(self) -> None:
        self.receiving = True
        self.starts += 1

    async def stop(self) -> None:
        self.receiving = False

    def health(self) -> dict[str, Any]:
        return {"connected": self.receiving}


class Ticks:
    """A scheduled job counting its runs (one at every start of the scheduler)."""

    def __init__(self) -> None:
        self.runs = 0

    async def __call__(self, app: Any, now: datetime) -> None:
        self.runs += 1


@asynccontextmanager
async def desk(config: Config, db_url: str, *, receiver: bool = False, idle_seconds: float = 0.2,
               role: str | None = None) -> AsyncIterator[tuple[Runner, Client, Ticks]]:
    ticks = Ticks()
    frontends: list[Any] = [LoopFrontend()] + ([Receiver()] if receiver else [])
    runner = Runner(config, frontends, listen="127.0.0.1:0", database_url=db_url, idle_seconds=idle_seconds,
                    jobs=[JobSpec("ticks", ticks, every(hours=1))], role=role)
    await runner.start()
    try:
        async with aiohttp.ClientSession() as session:
            yield runner, Client(runner, session), ticks
    finally:
        await runner.stop()


async def until(predicate: Callable[[], bool], timeout: float = WAIT) -> float:
    """Seconds until ``predicate()`` holds (checked at a tenth of the heartbeat)."""
    started = time.monotonic()
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(HEARTBEAT / 10)
    return time.monotonic() - started


def delivered(runner: Runner, chat: str) -> list[str]:
    frontend = runner.frontends[0]
    assert isinstance(frontend, LoopFrontend)
    return [text for c, text in frontend.sender.sent if c == chat]


async def test_one_runner_delivers_what_every_process_wrote(fast: Config, db_url: str) -> None:
    async with desk(fast, db_url) as (first, a, first_ticks), desk(fast, db_url) as (second, b, second_ticks):
        status_a, health_a = await a.get("/healthz")
        status_b, health_b = await b.get("/healthz")
        assert status_a == 200 and status_b == 200, (health_a, health_b)
        assert health_a["runner"] == {"role": "all", "is_runner": True, "id": first.election.me, "holder": first.election.me}
        assert health_b["runner"] == {"role": "all", "is_runner": False, "id": second.election.me, "holder": first.election.me}
        assert health_a["worker"] == {"running": True} and health_b["worker"] == {"running": False}
        assert {k: health_a["scheduler"][k] for k in ("running", "jobs")} == {"running": True, "jobs": ["ticks"]}
        assert health_b["scheduler"] == {"running": False, "jobs": [], "runs": {"ticks": 0}}  # scheduled nowhere else
        assert await a.metric("deskbot_runner") == 1.0 and await b.metric("deskbot_runner") == 0.0

        await b.say("anna", "/help")  # handled and committed by the second process

        await until(lambda: bool(delivered(first, "anna")))  # delivered by the runner
        assert delivered(second, "anna") == []
        await until(lambda: first_ticks.runs == 1)
        assert second_ticks.runs == 0


async def test_a_stopped_runner_hands_over_and_the_next_one_delivers_the_backlog(config: Config, db_url: str) -> None:
    slow_lease = config.model_copy(update={"runner": RunnerConfig(lease_seconds=4.0, heartbeat_seconds=HEARTBEAT)})
    async with desk(slow_lease, db_url) as (first, a, _), desk(slow_lease, db_url) as (second, b, second_ticks):
        assert not second.election.is_runner
        await b.say("anna", "/help")
        await until(lambda: bool(delivered(first, "anna")))
        await first.stop()  # releases the lock
        await b.say("boris", "/help")

        waited = await until(lambda: second.election.is_runner)

        assert waited < 2.0  # no waiting for the 4 s lease to run out: it was released
        await until(lambda: bool(delivered(second, "boris")))
        assert delivered(second, "anna") == []  # delivered once, by the first runner
        status, health = await b.get("/healthz")
        assert status == 200 and health["runner"]["holder"] == second.election.me
        await until(lambda: second_ticks.runs == 1)


@asynccontextmanager
async def stolen(db_url: str, runner: Runner) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    """``runner``'s lock taken away from under it; yields how to give it back."""
    db = Database(db_url)
    intruder = None if is_sqlite(db_url) else AdvisoryLock(db_url, holder="intruder")
    try:
        if intruder is None:
            async with db.transaction() as s:
                await s.exec(text("UPDATE runner_lease SET holder = 'intruder', "  # type: ignore[call-overload]
                                  "expires_at = '2999-01-01 00:00:00'"))
        else:
            assert await intruder.current_holder() == runner.election.me  # connected: ready to pounce
            assert await terminate(db, runner.election.me) == 1
            # The server frees a terminated backend's lock a moment later, and the runner may
            # reconnect and take it back first: terminate again until the intruder holds it.
            for _ in range(100):
                if await intruder.acquire():
                    break
                await terminate(db, runner.election.me)
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the intruder never got the lock")

        async def give_back() -> None:
            if intruder is not None:
                await intruder.release()
                return
            async with db.transaction() as s:
                await s.exec(text("DELETE FROM runner_lease"))  # type: ignore[call-overload]

        yield give_back
    finally:
        if intruder is not None:
            await intruder.close()
        await db.dispose()


async def test_a_lost_lock_stops_the_worker_and_scheduler_and_a_regained_one_starts_them(
        fast: Config, db_url: str) -> None:
    async with desk(fast, db_url, receiver=True) as (runner, client, ticks):
        receiver = runner.frontends[1]
        assert isinstance(receiver, Receiver)
        assert runner.election.is_runner and receiver.receiving
        await until(lambda: ticks.runs == 1)

        async with stolen(db_url, runner) as give_back:
            await until(lambda: not (runner.election.is_runner or runner.scheduler.running or receiver.receiving
                                     or runner.status.worker_running()))

            status, health = await client.get("/healthz")
            assert status == 200, health  # a healthy standby
            assert health["runner"] == {"role": "all", "is_runner": False, "id": runner.election.me, "holder": "intruder"}
            assert health["worker"] == {"running": False}
            assert health["platforms"]["poll"] == {"connected": False, "standby": True}
            await client.say("anna", "/help")  # written to the outbox, not delivered: no runner here

            await give_back()
            await until(lambda: runner.election.is_runner)

            await until(lambda: bool(delivered(runner, "anna")))
            assert runner.scheduler.running and receiver.receiving and receiver.starts == 2
            await until(lambda: ticks.runs == 2)  # the scheduler started again (and ran its job at once)
            status, health = await client.get("/healthz")
            assert status == 200 and health["runner"]["is_runner"] is True and health["worker"] == {"running": True}
            assert "standby" not in health["platforms"]["poll"]


async def test_runner_only_frontends_receive_in_the_runner_alone(fast: Config, db_url: str) -> None:
    async with desk(fast, db_url, receiver=True) as (first, a, _), \
            desk(fast, db_url, receiver=True) as (second, b, _):
        first_rx, second_rx = first.frontends[1], second.frontends[1]
        assert isinstance(first_rx, Receiver) and isinstance(second_rx, Receiver)
        assert first_rx.receiving and not second_rx.receiving and second_rx.starts == 0
        status, health = await b.get("/healthz")
        assert status == 200 and health["platforms"]["poll"]["standby"] is True
        assert sample((await b.get("/metrics"))[1], "deskbot_runner") == 0.0

        await first.stop()
        await until(lambda: second_rx.receiving)

        assert second.election.is_runner and not first_rx.receiving
