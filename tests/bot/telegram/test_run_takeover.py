"""Must-show 5 (the runner part) for real: two ``deskbot run`` processes (the command line,
webhook mode, the fake Bot API) on one database, PostgreSQL and SQLite.

Both serve the webhook (the test plays the load balancer and posts each update to one of
them); exactly one, the runner, delivers (/healthz says which, and both name the same
holder). The runner is killed with SIGKILL; the other takes over within 30 s (here within
a few seconds: the test config has a 3 s lease) and delivers what was written meanwhile.
In the end every outbox row was sent, and each person's chat got exactly as many
sendMessage calls as it has outbox rows: nothing lost, nothing twice.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from sqlalchemy import func
from sqlmodel import select

from store import migrate
from store.db import Database
from store.models import OutboxMessage, OutboxStatus
from tests.bot.conftest import SAMPLE_CONFIG
from tests.bot.telegram.test_run_telegram import Run, deskbot_run, get, healthy
from tests.bot.test_run_process import TOKEN
from tests.fakes.telegram import FakeTelegram
from tests.support.telegram import Person, as_update

LEASE, HEARTBEAT = 3.0, 0.5  # takeover within LEASE + HEARTBEAT on SQLite, HEARTBEAT on PostgreSQL
TAKEOVER_LIMIT = 30.0  # what the issue asks for
WAIT = 30.0


def fast_config(tmp_path: Path) -> Path:
    """The sample config with a short runner lease (the defaults take up to 20 s)."""
    data = yaml.safe_load(SAMPLE_CONFIG.read_text(encoding="utf-8"))
    data["runner"] = {"lease_seconds": LEASE, "heartbeat_seconds": HEARTBEAT}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


async def health(session: aiohttp.ClientSession, run: Run) -> dict[str, Any]:
    status, body = await get(session, run.url + "/healthz")
    report: dict[str, Any] = json.loads(body)
    return report


async def wait_health(session: aiohttp.ClientSession, run: Run, predicate: Callable[[dict[str, Any]], bool],
                      timeout: float = WAIT) -> dict[str, Any]:
    """/healthz polled until ``predicate`` holds for it."""
    async with asyncio.timeout(timeout):
        while not predicate(report := await health(session, run)):
            await asyncio.sleep(0.1)
    return report


async def say_help(fake: FakeTelegram, person: Person, run: Run) -> None:
    """``person`` sends /help; the update reaches ``run``'s webhook (committed when it answers 200)."""
    assert fake.webhook is not None
    fake.webhook["url"] = run.url + "/telegram/webhook"  # the load balancer picks this process
    update = as_update(await person.says("/help", push=False))
    assert await fake.post_webhook(update) == 200


def sends_to(fake: FakeTelegram, chat_id: int) -> int:
    return len([c for c in fake.calls_of("sendMessage") if c.ok and c.chat_id == chat_id])


async def outbox_per_chat(db_url: str) -> dict[str, dict[str, int]]:
    db = Database(db_url)
    try:
        async with db.transaction() as s:
            rows = (await s.exec(
                select(OutboxMessage.chat_id, OutboxMessage.status, func.count())
                .where(OutboxMessage.platform == "telegram")
                .group_by(OutboxMessage.chat_id, OutboxMessage.status))).all()
    finally:
        await db.dispose()
    counts: dict[str, dict[str, int]] = {}
    for chat, status, n in rows:
        counts.setdefault(chat, {})[str(status)] = n
    return counts


async def test_two_processes_one_runner_sigkill_takeover_nothing_twice(db_url: str, tmp_path: Path) -> None:
    db = Database(db_url)
    await migrate.upgrade(db)  # once, before the replicas start (as a deploy would)
    await db.dispose()
    config = fast_config(tmp_path)
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    async with FakeTelegram(token=TOKEN) as fake, AsyncExitStack() as stack, aiohttp.ClientSession() as session:
        people = [fake.user(700_001 + i, f"User{i}", language_code="en") for i in range(4)]
        runs = await asyncio.gather(*(
            stack.enter_async_context(deskbot_run(fake, "webhook", tmp_path / name, db=db_url, config=config))
            for name in ("a", "b")))
        await fake.wait_call("setWebhook", count=2, timeout=WAIT)  # every process serves the webhook
        reports = [await healthy(session, run.url) for run in runs]

        runners = [run for run, report in zip(runs, reports) if report["runner"]["is_runner"]]
        assert len(runners) == 1, [r["runner"] for r in reports]
        (runner,) = runners
        (other,) = [run for run in runs if run is not runner]
        holder = (await health(session, runner))["runner"]["id"]
        assert [r["runner"]["holder"] for r in reports] == [holder, holder]
        assert [r["worker"]["running"] for r in reports] == [run is runner for run in runs]
        assert [r["scheduler"]["running"] for r in reports] == [run is runner for run in runs]

        # Each process handles one update; the runner delivers both replies.
        await say_help(fake, people[0], runner)
        await say_help(fake, people[1], other)
        await fake.wait_for(lambda: all(sends_to(fake, p.id) for p in people[:2]), WAIT)
        await wait_health(session, runner, lambda r: r["outbox"]["backlog"] == 0)  # recorded as sent

        runner.proc.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        await runner.proc.wait()
        await say_help(fake, people[2], other)  # written while nobody delivers
        await say_help(fake, people[3], other)

        report = await wait_health(session, other, lambda r: r["runner"]["is_runner"], TAKEOVER_LIMIT)
        took = time.monotonic() - killed
        assert took < TAKEOVER_LIMIT
        assert report["runner"]["holder"] == report["runner"]["id"] != holder
        assert report["scheduler"]["running"] is True
        await fake.wait_for(lambda: all(sends_to(fake, p.id) for p in people[2:]), WAIT)
        await wait_health(session, other, lambda r: r["outbox"]["backlog"] == 0 and r["status"] == "ok")

        code, _, _, err = await other.stop(signal.SIGTERM)
        assert code == 0, err[-3000:]
        assert fake.calls_of("getUpdates") == [] and fake.internal_errors == []

    rows = await outbox_per_chat(db_url)
    assert set(rows) == {str(p.id) for p in people}
    for person in people:
        chat = rows[str(person.id)]
        assert set(chat) == {OutboxStatus.SENT}, chat  # nothing left pending or failed
        assert sends_to(fake, person.id) == chat[OutboxStatus.SENT], person  # once per row
