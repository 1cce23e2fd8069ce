"""What the database costs the outbox worker: rows/s and transactions per row, now and before.

Writes ``--rows`` notifications round robin over ``--chats`` chats and lets the worker
deliver them through an instant sender (no network, no rate limit: whatever limits the
rate here is the worker and the database). Counts the transactions (``BEGIN``) and SQL
statements the delivery took. Beside it, in the same run and on the same workload, the
worker as it was before batch claims and group commit (``bot/delivery.py`` at
``BASELINE_REV``, loaded from git): it read the heads, then wrote one transaction per row.

Run from the repository root::

    python bench/outbox_claims.py            # 2,000 rows over 500 chats, SQLite and PostgreSQL
    python bench/outbox_claims.py --smoke    # 200 rows over 50 chats (used by the tests)

Then "trickle": the shape of an ordinary rate, where every commit gets a pass of its own
(3 rows per round over Telegram and Slack, one pass each); it prints what one pass costs
the worker (transactions, statements, CPU ms), the batched worker beside the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import event  # noqa: E402

from bot.delivery import OutboxWorker  # noqa: E402
from handlers.events import Destination, Reply  # noqa: E402
from store import migrate, outbox  # noqa: E402
from store.db import Database  # noqa: E402

BASELINE_REV = "cc7af5d"  # main before this change: per-row recording, no claims
# A fresh PostgreSQL database per run, dropped after: the contention bench's helpers.
from contention import pg_database as pg_url, pg_drop  # noqa: E402


class Instant:
    platform = "fake"

    def __init__(self, platform: str = "fake") -> None:
        self.platform = platform
        self.calls = 0
        self.at: dict[str, float] = {}  # text -> perf_counter of its send

    async def send(self, dest: Destination, reply: Reply) -> str | None:
        self.calls += 1
        self.at[reply.text] = time.perf_counter()
        return f"m{self.calls}"

    async def edit(self, dest: Destination, message_id: str, reply: Reply) -> str | None:
        self.calls += 1
        return None


def baseline_worker_class() -> Any:
    source = subprocess.run(["git", "show", f"{BASELINE_REV}:bot/delivery.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    module = types.ModuleType("baseline_delivery")
    module.__file__ = f"{BASELINE_REV}:bot/delivery.py"
    sys.modules["baseline_delivery"] = module
    exec(compile(source, module.__file__, "exec"), module.__dict__)  # noqa: S102 — our own history
    return module.OutboxWorker


class _Counts:
    """Transactions (``BEGIN``) and SQL statements through ``db`` while inside ``with``
    (it can be entered again: the counts add up)."""

    def __init__(self, db: Database) -> None:
        self.engine = db.engine.sync_engine
        self.begin = 0
        self.statements = 0

    def _on_begin(self, *_: Any) -> None:
        self.begin += 1

    def _on_statement(self, *_: Any) -> None:
        self.statements += 1

    def __enter__(self) -> _Counts:
        event.listen(self.engine, "begin", self._on_begin)
        event.listen(self.engine, "before_cursor_execute", self._on_statement)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(self.engine, "begin", self._on_begin)
        event.remove(self.engine, "before_cursor_execute", self._on_statement)


async def measure(url: str, worker_class: Any, rows: int, chats: int) -> dict[str, float]:
    db = Database(url)
    try:
        await migrate.upgrade(db)
        now = datetime.now(UTC)
        async with db.transaction() as s:
            for n in range(rows):
                await outbox.enqueue(s, platform="fake", chat_id=f"c{n % chats}", payload=Reply(f"n{n}").to_payload(),
                                     now=now)
        sender = Instant()
        worker = worker_class(db, {"fake": sender}, lambda: datetime.now(UTC))
        with _Counts(db) as counts:
            started = time.perf_counter()
            while await worker.deliver_pending():
                pass
            seconds = time.perf_counter() - started
        async with db.read() as s:
            left = await outbox.backlog(s)
        assert left == 0, left  # every row delivered
        return {"rows": rows, "seconds": seconds, "tx": counts.begin / rows, "stmts": counts.statements / rows,
                "dups": sender.calls - rows}
    finally:
        await db.dispose()


async def latency(url: str, worker_class: Any, rows: int, rate: float) -> list[float]:
    """A running worker (idle poll 1 s, as ``deskbot run``); rows committed one at a time at
    ``rate`` per second by this process, nobody calling ``wake()``: seconds from each commit
    to its send."""
    db = Database(url)
    try:
        await migrate.upgrade(db)
        sender = Instant()
        worker = worker_class(db, {"fake": sender}, lambda: datetime.now(UTC))
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop, idle_seconds=1.0))
        committed: dict[str, float] = {}
        for n in range(rows):
            async with db.transaction() as s:
                await outbox.enqueue(s, platform="fake", chat_id=f"c{n % 7}", payload=Reply(f"l{n}").to_payload(),
                                     now=datetime.now(UTC))
            committed[f"l{n}"] = time.perf_counter()
            await asyncio.sleep(1 / rate)
        deadline = time.perf_counter() + 10
        while len(sender.at) < rows and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        stop.set()
        await running
        return sorted(sender.at[k] - committed[k] for k in committed if k in sender.at)
    finally:
        await db.dispose()


async def trickle(url: str, worker_class: Any, rounds: int, per_round: int) -> dict[str, float]:
    """The shape of a desk at an ordinary rate: each round one transaction writes
    ``per_round`` rows (a card to a Telegram group and a Slack channel, a reply), then the
    worker makes one pass. What a pass costs the worker: transactions, statements and CPU
    milliseconds per round (the writes are not counted)."""
    db = Database(url)
    try:
        await migrate.upgrade(db)
        senders = {p: Instant(p) for p in ("telegram", "slack")}
        worker = worker_class(db, senders, lambda: datetime.now(UTC))
        counts = _Counts(db)
        cpu = 0.0
        warm = 20
        for n in range(warm + rounds):
            async with db.transaction() as s:
                for k in range(per_round):
                    await outbox.enqueue(s, platform=("telegram", "slack")[k % 2], chat_id=f"c{(n * per_round + k) % 50}",
                                         payload=Reply(f"t{n}.{k}").to_payload(), now=datetime.now(UTC))
            if n < warm:
                await worker.deliver_pending()
                continue
            with counts:  # the pass only, not the writes
                started = time.process_time()
                await worker.deliver_pending()
                cpu += time.process_time() - started
        async with db.read() as s:
            assert await outbox.backlog(s) == 0  # every row delivered
        return {"tx": counts.begin / rounds, "stmts": counts.statements / rounds, "cpu_ms": cpu * 1000 / rounds}
    finally:
        await db.dispose()


def pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else float("nan")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--chats", type=int, default=500)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    rows, chats = (200, 50) if args.smoke else (args.rows, args.chats)
    baseline = baseline_worker_class()
    print(f"{rows} rows over {chats} chats, instant sender; baseline = bot/delivery.py at {BASELINE_REV}")
    print(f"{'':<22} {'rows':>6} {'rows/s':>8} {'tx/row':>7} {'sql/row':>8} {'dups':>5}")
    ratios = []
    dups_of_batched: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        targets = [("sqlite", lambda tag: _sqlite(tmp, tag))]
        if not args.no_postgres:
            targets.append(("postgresql", None))  # type: ignore[arg-type]
        for name, make in targets:
            results = {}
            for tag, cls in (("batched", OutboxWorker), ("baseline", baseline)):
                async with _database(make, tag) as url:
                    results[tag] = r = await measure(url, cls, rows, chats)
                print(f"{name + ' ' + tag:<22} {r['rows']:>6.0f} {r['rows'] / r['seconds']:>8.0f} {r['tx']:>7.3f} "
                      f"{r['stmts']:>8.3f} {r['dups']:>5}", flush=True)
            speed = (results["batched"]["rows"] / results["batched"]["seconds"]) / (
                results["baseline"]["rows"] / results["baseline"]["seconds"])
            ratios.append(speed)
            dups_of_batched.append(results["batched"]["dups"])
            print(f"{name}: x{speed:.1f} rows/s, transactions per row {results['baseline']['tx']:.2f} -> "
                  f"{results['batched']['tx']:.3f}")
            n_lat = 40 if args.smoke else 200
            for tag, cls in (("batched", OutboxWorker), ("baseline", baseline)):
                async with _database(make, f"lat-{tag}") as url:
                    lat = await latency(url, cls, n_lat, rate=20)
                print(f"{name + ' ' + tag:<22} commit->send, {len(lat)}/{n_lat} rows at 20/s, idle poll 1 s: "
                      f"p50 {pct(lat, 50) * 1000:.0f} ms  p99 {pct(lat, 99) * 1000:.0f} ms", flush=True)
            n_rounds = 50 if args.smoke else 500
            for tag, cls in (("batched", OutboxWorker), ("baseline", baseline)):
                async with _database(make, f"trickle-{tag}") as url:
                    t = await trickle(url, cls, n_rounds, 3)
                print(f"{name + ' ' + tag:<22} trickle, {n_rounds} rounds of 3 rows on 2 platforms, one pass each: "
                      f"{t['tx']:.1f} transactions, {t['stmts']:.1f} statements, {t['cpu_ms']:.2f} ms CPU per pass",
                      flush=True)
    if any(d for d in dups_of_batched):
        print("outbox claims: DUPLICATES from the batched worker")
        return 1
    print("outbox claims: every row delivered once")
    return 0


@contextlib.asynccontextmanager
async def _database(make: Any, tag: str) -> AsyncIterator[str]:
    """A fresh database for one measurement: a SQLite file from ``make(tag)``, or (``make``
    None) a PostgreSQL database created for it and dropped after."""
    if make is not None:
        yield make(tag)
        return
    url, drop = await pg_url()
    try:
        yield url
    finally:
        await pg_drop(drop)


def _sqlite(tmp: str, tag: str) -> str:
    return f"sqlite+aiosqlite:///{tmp}/{tag}.db"


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
