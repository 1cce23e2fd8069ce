"""SQLite (and PostgreSQL beside it) under contention: many concurrent writers, no lock errors.

50 writer tasks share 10,000 operations, the mix a busy desk writes (each one transaction,
as the engine does it):

- ``new``      a new request: inbox key, ticket + first message + audit, 2 outbox rows
- ``claim``    an agent takes a ticket (compare-and-set) + audit + 1 outbox row
- ``reply``    a message on a ticket (``get_ticket(for_update=True)``) + 1 outbox row
- ``resolve``  a ticket resolved + audit + 1 outbox row
- ``outbox``   the worker's side: claim up to 50 due chat heads and record them sent
  (the SQLite path reads the heads outside the write lock, then claims with one
  ``UPDATE … RETURNING``; PostgreSQL claims with ``FOR UPDATE SKIP LOCKED``)

It prints ops/s, latency p50/p95/p99/max (from asking for the transaction to its commit,
so waiting for the write lock is included) and the lock errors surfaced ("database is
locked": must be 0). Beside it, in the same run, the *baseline*: the same workload with
every transaction going straight to ``BEGIN IMMEDIATE`` and SQLite's busy handler (the
store before the write gate; reads took the write lock too).

Run from the repository root::

    python bench/contention.py              # 10,000 operations, 50 writers, SQLite + PostgreSQL
    python bench/contention.py --smoke      # 200 operations (used by the tests)
    python bench/contention.py --no-postgres --no-baseline
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy.exc import OperationalError  # noqa: E402
from sqlmodel.ext.asyncio.session import AsyncSession  # noqa: E402

from store import inbox, migrate, outbox, people, tickets  # noqa: E402
from store.db import Database  # noqa: E402
from store.models import MessageKind  # noqa: E402

PG_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432"
MIX = {"new": 30, "claim": 15, "reply": 30, "resolve": 10, "outbox": 15}
REQUESTERS = 200
AGENTS = 10
PLATFORM = "telegram"


class Baseline(Database):
    """The store before the write gate: every transaction (reads too) begins with
    ``BEGIN IMMEDIATE`` and waits in SQLite's busy handler."""

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self._session(self.engine) as s:
            yield s

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._session(self.engine) as s:
            yield s


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    lock_errors: int = 0
    other_errors: Counter[str] = field(default_factory=Counter)
    sent: int = 0
    seconds: float = 0.0
    wal_mb: float = 0.0  # SQLite: the write-ahead log's size at the end


@dataclass
class Desk:
    db: Database
    requesters: list[int]
    agents: list[int]
    new: list[int] = field(default_factory=list)  # tickets nobody took yet
    open: list[int] = field(default_factory=list)  # claimed tickets
    seq: int = 0

    def key(self) -> str:
        self.seq += 1
        return f"bench:{self.seq}"


async def setup(db: Database) -> Desk:
    await migrate.upgrade(db)
    specs = [people.PersonSpec(f"r{n}", f"Requester {n}", ((PLATFORM, f"{1000 + n}"),)) for n in range(REQUESTERS)]
    specs += [people.PersonSpec(f"a{n}", f"Agent {n}", ((PLATFORM, f"{9000 + n}"),)) for n in range(AGENTS)]
    members = [people.MembershipSpec(f"a{n}", "it", people.ROLE_AGENT, "L1") for n in range(AGENTS)]
    async with db.transaction() as s:
        await people.sync_from_config(s, specs, members)
    ids: dict[str, int] = {}
    async with db.transaction() as s:
        for spec in specs:
            person = await people.person_by_key(s, spec.key)
            assert person is not None and person.id is not None
            ids[spec.key] = person.id
    return Desk(db, [ids[f"r{n}"] for n in range(REQUESTERS)], [ids[f"a{n}"] for n in range(AGENTS)])


def now() -> datetime:
    return datetime.now(UTC)


async def op_new(desk: Desk, rng: random.Random) -> None:
    who = rng.randrange(REQUESTERS)
    async with desk.db.transaction() as s:
        t = now()
        await inbox.record_event(s, desk.key(), t)
        ticket = await tickets.create_ticket(
            s, team="it", category="network", priority="normal", requester_id=desk.requesters[who],
            text="VPN does not connect since this morning", platform=PLATFORM, now=t,
            first_response_due=None, resolution_due=None,
        )
        await outbox.enqueue(s, platform=PLATFORM, chat_id=f"{1000 + who}", payload={"text": "created"}, now=t,
                             ticket_id=ticket.id)
        await outbox.enqueue(s, platform=PLATFORM, chat_id="-100queue", payload={"text": "card"}, now=t,
                             ticket_id=ticket.id, card="queue")
    desk.new.append(ticket.id)  # type: ignore[arg-type]


async def op_claim(desk: Desk, rng: random.Random) -> None:
    ticket_id = desk.new.pop(rng.randrange(len(desk.new)))
    agent = rng.randrange(AGENTS)
    async with desk.db.transaction() as s:
        t = now()
        await inbox.record_event(s, desk.key(), t)
        result = await tickets.claim_ticket(s, ticket_id, desk.agents[agent], t)
        await outbox.enqueue(s, platform=PLATFORM, chat_id=f"{9000 + agent}", payload={"text": "yours"}, now=t,
                             ticket_id=ticket_id)
    if result.won:
        desk.open.append(ticket_id)


async def op_reply(desk: Desk, rng: random.Random) -> None:
    ticket_id = rng.choice(desk.open)
    async with desk.db.transaction() as s:
        t = now()
        await inbox.record_event(s, desk.key(), t)
        ticket = await tickets.get_ticket(s, ticket_id, for_update=True)
        assert ticket is not None
        await tickets.add_message(s, ticket, kind=MessageKind.AGENT, author_id=ticket.assignee_id,
                                  text="Please restart the client", platform=PLATFORM, now=t)
        await outbox.enqueue(s, platform=PLATFORM, chat_id="1000", payload={"text": "reply"}, now=t,
                             ticket_id=ticket_id)


async def op_resolve(desk: Desk, rng: random.Random) -> None:
    ticket_id = desk.open.pop(rng.randrange(len(desk.open)))
    async with desk.db.transaction() as s:
        t = now()
        await inbox.record_event(s, desk.key(), t)
        ticket = await tickets.get_ticket(s, ticket_id, for_update=True)
        assert ticket is not None
        await tickets.resolve_ticket(s, ticket, ticket.assignee_id, t)
        await outbox.enqueue(s, platform=PLATFORM, chat_id="1000", payload={"text": "resolved"}, now=t,
                             ticket_id=ticket_id)


async def op_outbox(desk: Desk, rng: random.Random, run: Run) -> None:
    t = now()
    if desk.db.dialect == "sqlite":
        async with desk.db.read() as s:
            heads = await outbox.due_heads(s, [PLATFORM], t, limit=50)
        async with desk.db.transaction() as s:
            claimed = await outbox.claim(s, heads, t)
    else:
        async with desk.db.transaction() as s:
            claimed = await outbox.claim_due(s, [PLATFORM], t, 50)
    if claimed:
        async with desk.db.transaction() as s:
            await outbox.record(s, [outbox.Outcome(d.row, "sent", message_id=f"m{d.row.id}") for d in claimed], now(),
                                claim_next=False)
    run.sent += len(claimed)


async def writer(desk: Desk, ops: list[str], rng: random.Random, run: Run) -> None:
    while ops:
        kind = ops.pop()
        if kind == "claim" and not desk.new or kind in ("reply", "resolve") and not desk.open:
            kind = "new"
        started = time.perf_counter()
        try:
            if kind == "new":
                await op_new(desk, rng)
            elif kind == "claim":
                await op_claim(desk, rng)
            elif kind == "reply":
                await op_reply(desk, rng)
            elif kind == "resolve":
                await op_resolve(desk, rng)
            else:
                await op_outbox(desk, rng, run)
        except OperationalError as exc:
            if "locked" in str(exc.orig) or "busy" in str(exc.orig):
                run.lock_errors += 1
            else:
                run.other_errors[type(exc.orig).__name__] += 1
            continue
        except tickets.TicketStateError:
            run.other_errors["TicketStateError"] += 1  # a race the desk answers ("already resolved")
            continue
        run.latencies.append(time.perf_counter() - started)
        run.counts[kind] += 1


async def measure(db: Database, total: int, writers: int, seed: int) -> Run:
    desk = await setup(db)
    rng = random.Random(seed)
    kinds = [k for k, w in MIX.items() for _ in range(w)]
    ops = [rng.choice(kinds) for _ in range(total)]
    run = Run()
    started = time.perf_counter()
    await asyncio.gather(*(writer(desk, ops, random.Random(seed * 1000 + n), run) for n in range(writers)))
    run.seconds = time.perf_counter() - started
    if db.dialect == "sqlite":
        wal = Path(str(db.engine.url.database) + "-wal")
        run.wal_mb = wal.stat().st_size / 1e6 if wal.exists() else 0.0
    return run


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def row(name: str, run: Run) -> str:
    done = len(run.latencies)
    ms = [x * 1000 for x in run.latencies]
    return (f"{name:<22} {done:>6} {done / run.seconds:>8.0f} {pct(ms, 50):>7.1f} {pct(ms, 95):>7.1f} "
            f"{pct(ms, 99):>7.1f} {max(ms, default=float('nan')):>8.1f} {run.lock_errors:>6} "
            f"{sum(run.other_errors.values()):>6} {run.sent:>6}")


async def pg_database() -> tuple[str, str]:
    import asyncpg  # type: ignore[import-untyped]

    name = f"deskbot_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(PG_SERVER.replace("postgresql+asyncpg://", "postgresql://") + "/postgres")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"{PG_SERVER}/{name}", name


async def pg_drop(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_SERVER.replace("postgresql+asyncpg://", "postgresql://") + "/postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ops", type=int, default=10_000)
    parser.add_argument("--writers", type=int, default=50)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--smoke", action="store_true", help="200 operations: seconds, for the tests")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    total = 200 if args.smoke else args.ops

    print(f"{total} mixed operations from {args.writers} concurrent writers, mix {MIX}")
    print(f"{'':<22} {'ops':>6} {'ops/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>8} "
          f"{'locked':>6} {'other':>6} {'sent':>6}")
    results: dict[str, Run] = {}
    with tempfile.TemporaryDirectory() as tmp:
        plans: list[tuple[str, type[Database], str]] = [("sqlite", Database, f"sqlite+aiosqlite:///{tmp}/gate.db")]
        if not args.no_baseline:
            plans.append(("sqlite baseline", Baseline, f"sqlite+aiosqlite:///{tmp}/baseline.db"))
        for name, cls, url in plans:
            db = cls(url)
            try:
                results[name] = await measure(db, total, args.writers, args.seed)
            finally:
                await db.dispose()
            print(row(name, results[name]), flush=True)
    if not args.no_postgres:
        url, dbname = await pg_database()
        db = Database(url)
        try:
            results["postgresql"] = await measure(db, total, args.writers, args.seed)
        finally:
            await db.dispose()
            await pg_drop(dbname)
        print(row("postgresql", results["postgresql"]), flush=True)

    for name, run in results.items():
        if run.wal_mb:
            print(f"{name}: WAL {run.wal_mb:.1f} MB at the end")
        if run.other_errors:
            print(f"{name}: other errors {dict(run.other_errors)}")
    ours = results["sqlite"]
    print(f"sqlite mix done: {dict(ours.counts)}")
    print(f"lock errors surfaced (sqlite, with the write gate): {ours.lock_errors}")
    if "sqlite baseline" in results:
        base = results["sqlite baseline"]
        print(f"p99 {pct(ours.latencies, 99) * 1000:.1f} ms vs baseline {pct(base.latencies, 99) * 1000:.1f} ms; "
              f"throughput x{(len(ours.latencies) / ours.seconds) / max(1e-9, len(base.latencies) / base.seconds):.2f}")
    failed = ours.lock_errors or results.get("postgresql", ours).lock_errors
    print("contention: every check passed" if not failed else "contention: LOCK ERRORS SURFACED")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
