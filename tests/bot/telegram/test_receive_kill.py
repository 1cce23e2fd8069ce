"""Polling survives SIGKILL: a desk process killed in the middle of a batch of 50 updates
and started again handles every update exactly once.

The desk runs as a child process (``child()`` below) polling the fake Bot API in this
test's event loop over loopback. The first child stops dead after committing its 11th
update — handled, not yet confirmed, the worst moment — and is killed with SIGKILL. The
second child gets the whole batch again; the engine's inbox turns the repeats into
no-ops.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from sqlalchemy import func
from sqlmodel import select

from store.db import Database
from store.models import InboxEvent, OutboxMessage
from tests.fakes.telegram import FakeTelegram

ROOT = Path(__file__).resolve().parents[3]
USERS = 50
HANG_AFTER = 11
WAIT = 60.0


def child() -> None:
    """The desk process: polls until SIGTERM; with HANG_AFTER set, hangs after that many events."""
    asyncio.run(_child())


async def _child() -> None:
    from bot.app import build
    from bot.telegram.frontend import TelegramFrontend
    from bot.telegram.handoff import Handoff
    from handlers.events import Incoming, Outcome
    from tests.support.clock import FakeClock
    from tests.support.desk import RecordingSender
    from tests.support.scenarios import FakeKb, make_config

    hang_after = int(os.environ.get("HANG_AFTER") or 0)

    class Reporting(Handoff):
        async def handle(self, inc: Incoming) -> Outcome:
            outcome = await super().handle(inc)  # committed when this returns
            print(f"handled {inc.event_key}", flush=True)
            if hang_after and self.handled == hang_after:
                await asyncio.Event().wait()  # hangs here, holding the batch, until killed
            return outcome

    section = {"token": os.environ["FAKE_TOKEN"], "api_base": os.environ["FAKE_BASE"], "mode": "polling"}
    config = make_config(lambda data: data.__setitem__("telegram", section))
    front = TelegramFrontend(config, sender=RecordingSender(platform="telegram"), desk=Reporting(),
                             polling_timeout_s=2)
    app = build(config, senders={"telegram": front.sender}, database_url=os.environ["DB_URL"],
                clock=FakeClock(), kb=FakeKb())
    await app.start()
    front.bind(app)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await front.start()
    print("started", flush=True)
    await stop.wait()
    await front.stop()
    await front.close()
    await app.close()


async def spawn(fake: FakeTelegram, db_url: str, hang_after: int = 0) -> asyncio.subprocess.Process:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("DESKBOT_", "TELEGRAM_"))},
           "PYTHONPATH": str(ROOT), "FAKE_TOKEN": fake.token, "FAKE_BASE": fake.base_url,
           "DB_URL": db_url, "HANG_AFTER": str(hang_after)}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from tests.bot.telegram.test_receive_kill import child; child()",
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def read_until(proc: asyncio.subprocess.Process, handled: int) -> list[str]:
    """Lines of the child's output until it reported ``handled`` events."""
    assert proc.stdout is not None
    lines: list[str] = []

    async def read() -> None:
        while sum(line.startswith("handled") for line in lines) < handled:
            raw = await proc.stdout.readline()  # type: ignore[union-attr]
            if not raw:
                stderr = await proc.stderr.read() if proc.stderr else b""  # type: ignore[union-attr]
                raise AssertionError(f"child ended early: {lines[-3:]}\n{stderr.decode()[-2000:]}")
            lines.append(raw.decode().strip())

    await asyncio.wait_for(read(), WAIT)
    return lines


async def test_sigkill_mid_batch_then_restart_handles_every_update_once(db_url: str) -> None:
    async with FakeTelegram(token="424242424:AAHfake-token-for-tests_0123456789abc", rate_limits=False) as fake:
        people = [fake.user(500_000 + i, f"User{i}", language_code="en") for i in range(USERS)]
        pushed = [await p.says(f"the printer on floor {i} is jammed") for i, p in enumerate(people)]
        ids = [m["_update_id"] for m in pushed]

        first = await spawn(fake, db_url, hang_after=HANG_AFTER)
        try:
            lines = await read_until(first, HANG_AFTER)
        finally:
            first.send_signal(signal.SIGKILL)
            await first.wait()
        assert first.returncode == -signal.SIGKILL
        assert sum(line.startswith("handled") for line in lines) == HANG_AFTER
        assert not fake.confirmed_ids & set(ids)  # killed mid-batch: nothing of it confirmed

        second = await spawn(fake, db_url)
        try:
            # Handled again: the 11 already committed (as duplicates) and the 39 others.
            await read_until(second, USERS)
            await fake.wait_for(lambda: set(ids) <= fake.confirmed_ids, WAIT)
        finally:
            second.send_signal(signal.SIGTERM)
            await asyncio.wait_for(second.wait(), WAIT)
        assert second.returncode == 0

    db = Database(db_url)
    try:
        async with db.transaction() as s:
            events = (await s.exec(select(func.count()).select_from(InboxEvent))).one()
            per_chat = dict((await s.exec(
                select(OutboxMessage.chat_id, func.count()).where(OutboxMessage.platform == "telegram")
                .group_by(OutboxMessage.chat_id))).all())
    finally:
        await db.dispose()
    assert events == USERS
    assert sorted(per_chat) == sorted(str(p.id) for p in people)
    # Each person got the answer to one message: no chat got it twice.
    assert len(set(per_chat.values())) == 1, per_chat
