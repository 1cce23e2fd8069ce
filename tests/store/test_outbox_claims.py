"""Batch claims and batched outcomes of the outbox (``store.outbox.claim_due`` / ``claim`` /
``record``) on SQLite and PostgreSQL, with real concurrency (two engines, two connections)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import col, select

from store import outbox, people
from store.db import Database
from store.models import Identity, OutboxMessage, OutboxStatus
from tests.store.conftest import NOW, Cast

PLATFORM = "telegram"


async def fill(db: Database, chats: int, per_chat: int = 1) -> list[int]:
    ids = []
    async with db.transaction() as s:
        for n in range(per_chat):
            for c in range(chats):
                row = await outbox.enqueue(s, platform=PLATFORM, chat_id=f"c{c}", payload={"text": f"{c}/{n}"}, now=NOW)
                ids.append(row.id)
    return ids  # type: ignore[return-value]


async def rows(db: Database, ids: list[int]) -> dict[int, OutboxMessage]:
    async with db.read() as s:
        found = await s.exec(select(OutboxMessage).where(col(OutboxMessage.id).in_(ids)))
        return {r.id: r for r in found}  # type: ignore[misc]


async def claim_all(db: Database, batch: int, *, read_first: bool) -> list[int]:
    """Claim batches until none is left; the ids this claimer got."""
    got: list[int] = []
    while True:
        if read_first:  # the SQLite path of the worker: read outside the write lock, then CAS
            async with db.read() as s:
                candidates = await outbox.due_heads(s, [PLATFORM], NOW, limit=batch)
            async with db.transaction() as s:
                claimed = await outbox.claim(s, candidates, NOW)
            if not candidates:
                return got
        else:
            async with db.transaction() as s:
                claimed = await outbox.claim_due(s, [PLATFORM], NOW, batch)
            if not claimed:
                return got
        got.extend(d.row.id for d in claimed)  # type: ignore[misc]
        await asyncio.sleep(0)  # let the other claimer in between batches


async def test_a_batch_claim_takes_each_chats_first_due_row_and_holds_the_chat(database: Database) -> None:
    ids = await fill(database, chats=3, per_chat=2)  # c0..c2 first, then their second rows
    async with database.transaction() as s:
        claimed = await outbox.claim_due(s, [PLATFORM], NOW, 10)
    assert [d.row.id for d in claimed] == ids[:3]  # one per chat, oldest first
    state = await rows(database, ids)
    assert all(state[i].next_attempt_at == outbox.lease_end(NOW) for i in ids[:3])
    assert all(state[i].status == OutboxStatus.PENDING for i in ids)
    async with database.transaction() as s:  # the chats are held: their second rows are not heads
        assert await outbox.claim_due(s, [PLATFORM], NOW, 10) == []
    later = NOW + timedelta(seconds=outbox.CLAIM_SECONDS)
    async with database.transaction() as s:  # the lease ran out (a dead worker): claimed again
        again = await outbox.claim_due(s, [PLATFORM], later, 10)
    assert [d.row.id for d in again] == ids[:3]


async def test_two_workers_claiming_at_once_never_get_the_same_row(db_url: str, database: Database) -> None:
    ids = await fill(database, chats=120)
    other = Database(db_url)  # a second engine: its own connections, like a second process
    try:
        for db in (database, other):  # both connected before the race starts
            async with db.read() as s:
                await outbox.backlog(s)
        for read_first in (False, True):
            async with database.transaction() as s:
                await outbox.release(s, ids, NOW)  # everything due again for the second round
            a, b = await asyncio.gather(claim_all(database, 3, read_first=read_first),
                                        claim_all(other, 3, read_first=read_first))
            assert not set(a) & set(b), "a row was claimed twice"
            assert sorted(a + b) == sorted(ids)  # and none was left behind
            # Which claimer wins how many is up to scheduling (one may win every race).
    finally:
        await other.dispose()


async def test_a_claim_skips_rows_another_worker_took_after_they_were_read(database: Database) -> None:
    await fill(database, chats=4)
    async with database.read() as s:
        stale = await outbox.due_heads(s, [PLATFORM], NOW)
    async with database.transaction() as s:
        first = await outbox.claim(s, stale[:2], NOW)
    async with database.transaction() as s:
        second = await outbox.claim(s, stale, NOW)  # read before the first claim committed
    assert [d.row.id for d in first] == [d.row.id for d in stale[:2]]
    assert [d.row.id for d in second] == [d.row.id for d in stale[2:]]


async def test_one_transaction_records_every_kind_of_outcome_and_claims_the_next_rows(
    database: Database, cast: Cast
) -> None:
    ids = await fill(database, chats=5, per_chat=2)
    async with database.transaction() as s:
        ident = Identity(person_id=cast.anna, platform=PLATFORM, platform_user_id="c3", dm_chat_id="c3")
        s.add(ident)
    async with database.transaction() as s:
        claimed = {d.row.chat_id: d.row for d in await outbox.claim_due(s, [PLATFORM], NOW, 10)}
    worn = claimed["c4"]
    worn.attempts = outbox.MAX_ATTEMPTS - 1  # its last attempt
    async with database.transaction() as s:
        await s.exec(  # type: ignore[call-overload]
            update(OutboxMessage).where(col(OutboxMessage.id) == worn.id).values(attempts=worn.attempts)
        )
    later = NOW + timedelta(seconds=1)
    async with database.transaction() as s:
        nexts = await outbox.record(s, [
            outbox.Outcome(claimed["c0"], "sent", message_id="m1"),
            outbox.Outcome(claimed["c1"], "retry", error="boom", delay=timedelta(seconds=2)),
            outbox.Outcome(claimed["c2"], "rate_limited", error="429", delay=timedelta(seconds=5)),
            outbox.Outcome(claimed["c3"], "blocked", error="Forbidden", mark_person=True),
            outbox.Outcome(worn, "retry", error="boom again", delay=timedelta(seconds=2)),
        ], later)
    state = await rows(database, ids)
    c0, c1, c2, c3, c4 = (state[i] for i in ids[:5])
    assert (c0.status, c0.message_id, c0.attempts, c0.sent_at) == (OutboxStatus.SENT, "m1", 1, later)
    assert (c1.status, c1.attempts, c1.last_error, c1.next_attempt_at) == (
        OutboxStatus.PENDING, 1, "boom", later + timedelta(seconds=2))
    assert (c2.status, c2.attempts, c2.next_attempt_at) == (OutboxStatus.PENDING, 0, later + timedelta(seconds=5))
    assert (c3.status, c3.last_error) == (OutboxStatus.BLOCKED, "Forbidden")
    assert (c4.status, c4.attempts) == (OutboxStatus.FAILED, outbox.MAX_ATTEMPTS)
    # The settled chats (sent, blocked, failed) move on, in the same transaction: their second
    # rows are claimed and handed back; the held chats (retry, 429) are not.
    assert sorted(nexts) == [(PLATFORM, "c0"), (PLATFORM, "c3"), (PLATFORM, "c4")]
    assert nexts[(PLATFORM, "c0")].row.id == ids[5]
    assert nexts[(PLATFORM, "c3")].unreachable  # marked in the same transaction
    assert state[ids[5]].next_attempt_at == outbox.lease_end(later)
    async with database.read() as s:
        assert await people.is_unreachable(s, PLATFORM, "c3")


async def test_rows_handed_back_are_due_at_once(database: Database) -> None:
    ids = await fill(database, chats=2)
    async with database.transaction() as s:
        await outbox.claim_due(s, [PLATFORM], NOW, 10)
    async with database.transaction() as s:
        await outbox.release(s, ids, NOW)
    async with database.transaction() as s:
        assert [d.row.id for d in await outbox.claim_due(s, [PLATFORM], NOW, 10)] == ids
