"""The outbox worker claims in batches, records in batches (group commit), is woken by a
commit in its process, and a worker killed with rows in hand loses none of them; on SQLite
and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert
from sqlmodel import col, select

from bot.delivery import OutboxWorker
from handlers.events import Reply
from store import outbox
from store.db import Database
from store.models import OutboxMessage, OutboxStatus
from tests.bot.test_delivery import PLATFORM, ScriptedSender, enqueue, eventually
from tests.support.clock import FakeClock

ROOT = Path(__file__).resolve().parents[2]


async def test_a_commit_in_this_process_wakes_the_worker_without_waiting_for_the_poll(
    database: Database, clock: FakeClock
) -> None:
    sender = ScriptedSender()
    worker = OutboxWorker(database, {PLATFORM: sender}, clock)
    stop = asyncio.Event()
    await enqueue(database, clock, "A", "a1")
    running = asyncio.create_task(worker.run(stop, idle_seconds=3600))  # the poll would take an hour
    try:
        await worker.wait_recorded(lambda: _sent(database, "a1"), timeout=10)  # the first pass is over
        await enqueue(database, clock, "B", "b1")  # nobody calls worker.wake()
        await sender.wait_for(lambda: "b1" in sender.sent_to("B"), timeout=10)
        async with database.transaction() as s:  # a bulk insert (no ORM object) wakes it too
            await s.exec(insert(OutboxMessage).values(  # type: ignore[call-overload]
                platform=PLATFORM, chat_id="C", payload=Reply("c1").to_payload(), status=OutboxStatus.PENDING,
                attempts=0, created_at=clock(), next_attempt_at=clock()))
        await sender.wait_for(lambda: "c1" in sender.sent_to("C"), timeout=10)
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)


async def _sent(db: Database, text: str) -> bool:
    async with db.read() as s:
        found = await s.exec(select(OutboxMessage.payload, OutboxMessage.status))
        return any(p.get("text") == text and st == OutboxStatus.SENT for p, st in found)


async def test_outcomes_of_many_chats_are_written_together(database: Database, clock: FakeClock) -> None:
    sender = ScriptedSender()
    worker = OutboxWorker(database, {PLATFORM: sender}, clock)
    chats = 30
    gate = asyncio.Event()
    for n in range(chats):
        await enqueue(database, clock, f"c{n}", f"m{n}")
        sender.holds[f"m{n}"] = gate  # every send waits until all are in flight
    delivering = asyncio.create_task(worker.deliver_pending())
    await sender.wait_for(lambda: sender.in_flight == chats)
    assert worker.claims == 1  # the 30 chats were claimed by one statement
    gate.set()
    assert await asyncio.wait_for(delivering, 10) == chats
    # 30 outcomes arriving together take a few transactions, not 30.
    assert worker._recorder.batches <= 3
    async with database.read() as s:
        assert await outbox.backlog(s) == 0


async def test_the_heads_of_every_platform_are_claimed_by_one_statement(database: Database, clock: FakeClock) -> None:
    """A pass over two platforms with room to spare claims both platforms' heads at once
    (one read, one write on SQLite; one UPDATE on PostgreSQL), not once per platform."""
    tg, slack = ScriptedSender(platform="telegram"), ScriptedSender(platform="slack")
    worker = OutboxWorker(database, {"telegram": tg, "slack": slack}, clock)
    gate = asyncio.Event()
    for n in range(3):
        await enqueue(database, clock, f"t{n}", f"tm{n}", platform="telegram")
        await enqueue(database, clock, f"s{n}", f"sm{n}", platform="slack")
        tg.holds[f"tm{n}"] = slack.holds[f"sm{n}"] = gate  # every send waits until all are in flight
    delivering = asyncio.create_task(worker.deliver_pending())
    await tg.wait_for(lambda: tg.in_flight == 3)
    await slack.wait_for(lambda: slack.in_flight == 3)
    assert worker.claims == 1
    gate.set()
    assert await asyncio.wait_for(delivering, 10) == 6
    assert sorted(c[1] for c in tg.calls) == ["t0", "t1", "t2"] and sorted(c[1] for c in slack.calls) == ["s0", "s1", "s2"]


async def test_one_platforms_backlog_filling_the_shared_claim_does_not_crowd_out_another(
    database: Database, clock: FakeClock
) -> None:
    """The shared claim takes as many heads as the smallest room; when the oldest heads are
    all one platform's and fill it, the other platform still claims its own in the same pass."""
    busy, quiet = ScriptedSender(platform="busy"), ScriptedSender(platform="quiet")
    worker = OutboxWorker(database, {"busy": busy, "quiet": quiet}, clock, max_chats=2)
    gate = asyncio.Event()
    for n in range(4):  # the oldest rows: four chats of the busy platform
        await enqueue(database, clock, f"b{n}", f"bm{n}", platform="busy")
        busy.holds[f"bm{n}"] = gate
    await enqueue(database, clock, "q0", "qm0", platform="quiet")
    quiet.holds["qm0"] = gate
    delivering = asyncio.create_task(worker.deliver_pending())
    await quiet.wait_for(lambda: quiet.in_flight == 1)  # started beside the busy platform's sends
    await busy.wait_for(lambda: busy.in_flight == 2)  # its room: two chats at a time
    # the shared claim came back full (two busy heads); the busy platform had no room left,
    # the quiet one claimed its own
    assert worker.claims == 2
    gate.set()
    assert await asyncio.wait_for(delivering, 10) == 5
    assert [c[1] for c in busy.calls[:2]] == ["b0", "b1"]
    assert sorted(c[1] for c in busy.calls) == ["b0", "b1", "b2", "b3"]


async def test_shutdown_hands_back_the_rows_it_claimed_but_never_tried(database: Database, clock: FakeClock) -> None:
    sender = ScriptedSender()
    worker = OutboxWorker(database, {PLATFORM: sender}, clock, concurrency=1)
    a1 = await enqueue(database, clock, "A", "a1")
    b1 = await enqueue(database, clock, "B", "b1")  # waits for the only send slot
    gate = sender.hold("a1")
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop, idle_seconds=3600))
    await sender.wait_for(lambda: sender.in_flight == 1)
    stop.set()
    await eventually(lambda: worker.stopping and worker.active_chats == 1)  # B stopped waiting
    gate.set()
    await asyncio.wait_for(running, 10)
    async with database.read() as s:
        b = await s.get_one(OutboxMessage, b1)
        a = await s.get_one(OutboxMessage, a1)
    assert a.status == OutboxStatus.SENT
    assert (b.status, b.next_attempt_at) == (OutboxStatus.PENDING, clock())  # due now, not after the lease
    later = OutboxWorker(database, {PLATFORM: sender}, clock)
    assert await later.deliver_pending() == 1  # the next start takes it at once


KILLED_WORKER = textwrap.dedent("""
    import asyncio, sys
    from bot.delivery import OutboxWorker
    from handlers.engine import utc_clock
    from store.db import Database

    class Hanging:
        platform = "fake"
        def __init__(self, expect):
            self.expect, self.calls = expect, 0
        async def send(self, dest, reply):
            self.calls += 1
            if self.calls == self.expect:
                print("in flight", flush=True)
            await asyncio.Event().wait()  # the platform never answers: killed meanwhile
        async def edit(self, dest, message_id, reply):
            return await self.send(dest, reply)

    async def main():
        db = Database(sys.argv[1])
        await OutboxWorker(db, {"fake": Hanging(int(sys.argv[2]))}, utc_clock).run(asyncio.Event())

    asyncio.run(main())
""")


async def test_a_worker_killed_mid_batch_leaves_its_rows_to_be_claimed_after_the_lease(
    db_url: str, database: Database
) -> None:
    now = datetime.now(UTC)
    clock = FakeClock(now)
    ids = {chat: [await enqueue(database, clock, chat, f"{chat}{n}") for n in (1, 2)] for chat in ("A", "B", "C")}
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_WORKER, db_url, "3"], cwd=ROOT, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 60)  # type: ignore[union-attr]
        assert line.strip() == "in flight"  # the three heads are claimed and being sent
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        proc.stdout.close()  # type: ignore[union-attr]
    async with database.read() as s:
        heads = [await s.get_one(OutboxMessage, ids[chat][0]) for chat in ids]
    assert all(h.status == OutboxStatus.PENDING and h.next_attempt_at > now for h in heads)  # still claimed

    sender = ScriptedSender()
    successor = OutboxWorker(database, {PLATFORM: sender}, clock)
    lease_end = max(h.next_attempt_at for h in heads)  # the killed worker's clock, a lease after its claim
    clock.now = lease_end - timedelta(seconds=1)
    assert await successor.deliver_pending() == 0  # within the lease: the rows are not taken
    assert sender.calls == []
    clock.now = lease_end  # the lease ran out
    while await successor.deliver_pending():
        pass
    for chat in ids:
        assert sender.sent_to(chat) == [f"{chat}1", f"{chat}2"]  # nothing lost, in order, once each
    async with database.read() as s:
        states = (await s.exec(select(OutboxMessage.status).where(
            col(OutboxMessage.id).in_([i for pair in ids.values() for i in pair])))).all()
    assert states == [OutboxStatus.SENT] * 6
