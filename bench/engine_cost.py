"""Engine cost per event: SQL statements, transactions and time of each event kind.

Drives ``Engine.handle`` in process (no network, no platform), as ``tests/support/desk.py``
does, on SQLite and PostgreSQL, with the shape of issue 12: one team of 21 agents and
no team chat, so every card update fans out to 21 direct messages. One *flow* is

    text → suggestions      a requester writes, the KB suggests articles
    open ticket tap         "Open a ticket": the category question
    category tap            "Another category": the category list
    new request filed       the category is chosen: the ticket is filed, its card to 21 DMs
    claim                   an agent claims it from their DM card (21 cards edited)
    reply                   ``/reply N text``: relayed to the requester (21 cards edited)
    resolve                 ``/resolve N note``: the requester is asked to rate (21 cards)

*One sender*: flows run one after another; the statements and transactions of each event
are counted (``tests/support/queries.py``) and it is timed; the outbox is drained after
each event, untimed, so cards exist and are edited as in real use. *50 senders*: 50
requesters (each with one of the agents) run their flows at once while the real outbox
worker delivers in the same process; the figure is events/s over the wall time.

``--baseline REV`` runs the same measurement on another revision of the engine (exported
to a temporary directory with ``git archive``) in the same run and prints it beside.
``--profile KIND`` prints the top cProfile entries (cumulative) of that event kind.

Run: ``python bench/engine_cost.py [--flows 30] [--senders 50] [--db sqlite,postgres]``
``--smoke`` runs a couple of flows per database in seconds (``tests/handlers/test_engine_cost_bench.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from bot.app import App, build  # noqa: E402
from bot.config import Config, parse_config  # noqa: E402
from handlers.events import Incoming, Outcome  # noqa: E402
from tests.support.desk import RecordingSender  # noqa: E402
from tests.support.queries import count_queries  # noqa: E402

PG_SERVER = os.environ.get("DESKBOT_TEST_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432")
PLATFORM = "console"
AGENTS = 21
KINDS = ("text", "open_ticket", "category_tap", "filed", "claim", "reply", "resolve")
LABELS = {
    "text": "text → suggestions", "open_ticket": "open ticket tap", "category_tap": "category tap",
    "filed": "new request filed", "claim": "claim", "reply": "reply", "resolve": "resolve",
}


def bench_config(agents: int = AGENTS) -> Config:
    """The sample config with the IT team's first tier made of ``agents`` agents and no
    team chats anywhere (each queue is its agents' DMs)."""
    data: dict[str, Any] = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    names = [f"agent{n:02d}" for n in range(1, agents + 1)]
    for n, key in enumerate(names, 1):
        data["people"][key] = {"name": f"Agent {n:02d}", "locale": "en" if n % 2 else "ru"}
    for team in data["teams"].values():
        team.pop("chats", None)
        team.pop("lead_chats", None)
    data["teams"]["it"]["tiers"]["L1"] = names
    data["teams"]["it"]["assignment"] = "manual"
    return parse_config(data, source="<bench config>", env={})


class Driver:
    """Feeds events to one desk's engine, the way a frontend does."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.seq = 0
        self.times: dict[str, list[float]] = defaultdict(list)
        self.counts: dict[str, list[tuple[int, int]]] = defaultdict(list)  # (statements, transactions)
        self.count = False  # count statements per event (one sender only: the count is global)
        self.drain = True  # deliver the outbox after each event (untimed)
        self.profile_kind: str | None = None
        self.profiler = cProfile.Profile()

    async def send(self, kind: str, inc: Incoming) -> Outcome:
        profiling = self.profile_kind == kind
        if self.count:
            with count_queries(self.app.db) as q:
                started = time.perf_counter()
                outcome = await self._handle(inc, profiling)
                elapsed = time.perf_counter() - started
            self.counts[kind].append((q.statements, q.transactions))
        else:
            started = time.perf_counter()
            outcome = await self._handle(inc, profiling)
            elapsed = time.perf_counter() - started
        self.times[kind].append(elapsed)
        if self.drain:
            while await self.app.worker.deliver_pending():
                pass
        return outcome

    async def _handle(self, inc: Incoming, profiling: bool) -> Outcome:
        if not profiling:
            return await self.app.engine.handle(inc)
        self.profiler.enable()
        try:
            return await self.app.engine.handle(inc)
        finally:
            self.profiler.disable()

    def event(self, who: str, **fields: Any) -> Incoming:
        self.seq += 1
        return Incoming(platform=PLATFORM, chat_id=who, user_id=who, event_key=f"bench:{uuid.uuid4().hex}:{self.seq}",
                        display_name=who, **fields)

    async def flow(self, requester: str, agent: str, n: int) -> None:
        """One request from first words to resolution (see the module docstring)."""
        await self.send("text", self.event(requester, text=f"VPN не подключается из дома ({n})"))
        await self.send("open_ticket", self.event(requester, action="open_ticket"))
        await self.send("category_tap", self.event(requester, action="cat_list"))
        outcome = await self.send("filed", self.event(requester, action="cat", value="network"))
        number = next((o.reply.ticket_id for o in outcome.outgoing if o.reply.ticket_id), None)
        if number is None:
            raise RuntimeError(f"no ticket was filed: {[o.reply.text for o in outcome.outgoing]}")
        await self.send("claim", self.event(agent, action="claim", ticket_id=number))
        await self.send("reply", self.event(agent, text=f"/reply {number} Перезапустите клиент VPN, пожалуйста"))
        await self.send("resolve", self.event(agent, text=f"/resolve {number} restarted the VPN client"))


def database_url(name: str, tmp: Path) -> tuple[str, str | None]:
    """(url, the PostgreSQL database to drop afterwards)."""
    if name == "sqlite":
        return f"sqlite+aiosqlite:///{tmp / f'bench-{uuid.uuid4().hex[:8]}.db'}", None
    db_name = f"deskbot_bench_{uuid.uuid4().hex[:10]}"
    return f"{PG_SERVER}/{db_name}", db_name


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_SERVER.replace("postgresql+asyncpg://", "postgresql://") + "/postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def open_desk(config: Config, url: str) -> App:
    app = build(config, senders={PLATFORM: RecordingSender()}, database_url=url)
    await app.start()
    await app.add_identities(PLATFORM)
    return app


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] * 1000


async def measure(db: str, flows: int, senders: int, profile_kind: str | None, tmp: Path) -> dict[str, Any]:
    config = bench_config()
    agents = [f"agent{n:02d}" for n in range(1, AGENTS + 1)]
    result: dict[str, Any] = {"db": db}

    # One sender: counted, timed, the outbox drained after each event.
    url, pg_name = database_url(db, tmp)
    if pg_name:
        await _pg_admin(f'CREATE DATABASE "{pg_name}"')
    try:
        app = await open_desk(config, url)
        try:
            driver = Driver(app)
            await driver.flow("warmup", agents[0], 0)  # first-use costs (people created, caches) left out
            driver.times.clear()
            driver.count = True
            driver.profile_kind = profile_kind
            for n in range(flows):
                await driver.flow(f"emp{n % 5}", agents[n % AGENTS], n)
            total = sum(sum(v) for v in driver.times.values())
            events = sum(len(v) for v in driver.times.values())
            result["one"] = {
                "kinds": {
                    kind: {
                        "statements": max(s for s, _ in driver.counts[kind]),
                        "statements_min": min(s for s, _ in driver.counts[kind]),
                        "transactions": max(t for _, t in driver.counts[kind]),
                        "p50": pct(driver.times[kind], 0.5), "p99": pct(driver.times[kind], 0.99),
                    }
                    for kind in KINDS
                },
                "events": events, "events_per_s": events / total,
                "statements_per_event": sum(s for v in driver.counts.values() for s, _ in v) / events,
            }
            if profile_kind:
                buf = io.StringIO()
                pstats.Stats(driver.profiler, stream=buf).sort_stats("cumulative").print_stats(r"(handlers|store)/", 25)
                result["profile"] = buf.getvalue()
        finally:
            await app.close()
    finally:
        if pg_name:
            await _pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')

    # Many senders at once, the real outbox worker running beside them.
    url, pg_name = database_url(db, tmp)
    if pg_name:
        await _pg_admin(f'CREATE DATABASE "{pg_name}"')
    try:
        app = await open_desk(config, url)
        try:
            driver = Driver(app)
            driver.drain = False
            per_sender = max(1, flows // senders) if senders > 1 else flows
            stop = asyncio.Event()
            worker = asyncio.create_task(app.worker.run(stop, idle_seconds=0.05))
            started = time.perf_counter()

            errors: list[str] = []

            async def sender(i: int) -> None:
                for n in range(per_sender):
                    try:
                        await driver.flow(f"req{i}", agents[i % AGENTS], n)
                    except Exception as exc:  # noqa: BLE001 — counted and shown: an error a user would see
                        errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}")

            await asyncio.gather(*(sender(i) for i in range(senders)))
            wall = time.perf_counter() - started
            stop.set()
            await worker
            outbox_rows = await outbox_status(app)
            every = [t for v in driver.times.values() for t in v]
            result["many"] = {
                "senders": senders, "events": len(every), "events_per_s": len(every) / wall,
                "p50": pct(every, 0.5), "p99": pct(every, 0.99),
                "errors": len(errors), "error_kinds": sorted(set(errors))[:3],
                "outbox": outbox_rows,
                "kinds": {kind: {"p50": pct(driver.times[kind], 0.5) if driver.times[kind] else float("nan"),
                                 "p99": pct(driver.times[kind], 0.99) if driver.times[kind] else float("nan")}
                          for kind in KINDS},
            }
        finally:
            await app.close()
    finally:
        if pg_name:
            await _pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
    return result


async def outbox_status(app: Any) -> dict[str, int]:
    """Outbox rows by status when the senders are done (pending: not delivered yet)."""
    from sqlalchemy import func
    from sqlmodel import select

    from store.models import OutboxMessage

    async with app.db.read() as s:
        rows = await s.exec(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
        return {str(status): int(n) for status, n in rows}


def run_all(dbs: list[str], flows: int, senders: int, profile_kind: str | None) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        return [asyncio.run(measure(db, flows, senders, profile_kind, Path(tmp))) for db in dbs]


def run_baseline(rev: str, argv: list[str]) -> list[dict[str, Any]]:
    """This script and its counting helper run against revision ``rev`` of the rest."""
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        tree.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
        for rel in ("bench/engine_cost.py", "tests/support/queries.py"):
            (tree / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / rel, tree / rel)
        env = {**os.environ, "PYTHONPATH": str(tree)}
        out = subprocess.run([sys.executable, str(tree / "bench" / "engine_cost.py"), *argv, "--json"],
                             cwd=tree, env=env, check=True, stdout=subprocess.PIPE, text=True).stdout
        return json.loads(out.strip().splitlines()[-1])


def outbox_line(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items(), key=lambda kv: -kv[1])) or "empty"


def print_tables(results: list[dict[str, Any]], base: list[dict[str, Any]] | None, rev: str | None) -> None:
    by_db = {r["db"]: r for r in base} if base else {}
    for r in results:
        b = by_db.get(r["db"])
        many = r["many"]
        print(f"\n## {r['db']}: {AGENTS} agents, no team chat"
              + (f" (before = {rev}, after = this tree)" if b else ""))
        head = "| event | statements | transactions | ms p50 | ms p99 | ms p50 / p99, " + f"{many['senders']} senders |"
        print(head)
        print("|---|---|---|---|---|---|")
        for kind in KINDS:
            k, m = r["one"]["kinds"][kind], many["kinds"][kind]
            stm = str(k["statements"]) if k["statements"] == k["statements_min"] else f"{k['statements_min']}–{k['statements']}"
            cells = [stm, str(k["transactions"]), f"{k['p50']:.1f}", f"{k['p99']:.1f}", f"{m['p50']:.0f} / {m['p99']:.0f}"]
            if b:
                bk, bm = b["one"]["kinds"][kind], b["many"]["kinds"][kind]
                before = [str(bk["statements"]), str(bk["transactions"]), f"{bk['p50']:.1f}", f"{bk['p99']:.1f}",
                          f"{bm['p50']:.0f} / {bm['p99']:.0f}"]
                cells = [f"{x} → {y}" for x, y in zip(before, cells, strict=True)]
            print(f"| {LABELS[kind]} | " + " | ".join(cells) + " |")
        one = r["one"]
        line = (f"one sender: {one['events_per_s']:.0f} events/s, {one['statements_per_event']:.1f} statements/event; "
                f"{many['senders']} senders: {many['events_per_s']:.0f} events/s, p50 {many['p50']:.0f} ms, "
                f"p99 {many['p99']:.0f} ms ({many['events']} events, {many.get('errors', 0)} failed flows)")
        print(f"\n- {line}")
        if "outbox" in many:
            print(f"- outbox when the {many['senders']} senders were done: " + outbox_line(many["outbox"]))
        if b:
            bo, bm = b["one"], b["many"]
            print(f"- before: {bo['events_per_s']:.0f} events/s, {bo['statements_per_event']:.1f} statements/event; "
                  f"{bm['senders']} senders: {bm['events_per_s']:.0f} events/s, p50 {bm['p50']:.0f} ms, "
                  f"p99 {bm['p99']:.0f} ms ({bm['events']} events, {bm.get('errors', 0)} failed flows)")
            if "outbox" in bm:
                print(f"- before, outbox when the senders were done: " + outbox_line(bm["outbox"]))
            for err in bm.get("error_kinds", []):
                print(f"- before, a failed flow: {err}")
        for err in many.get("error_kinds", []):
            print(f"- a failed flow: {err}")
        if "profile" in r:
            print(f"\ncProfile of '{LABELS.get(r.get('profile_kind', ''), '')}' events, cumulative:\n")
            print(r["profile"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--flows", type=int, default=30, help="flows for one sender (and per 50 senders: flows/senders each, at least 1)")
    parser.add_argument("--senders", type=int, default=50)
    parser.add_argument("--db", default="sqlite,postgres")
    parser.add_argument("--profile", choices=KINDS, help="print the cProfile of this event kind")
    parser.add_argument("--baseline", metavar="REV", help="also measure revision REV, printed beside")
    parser.add_argument("--smoke", action="store_true", help="a few flows per database, in seconds")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.smoke:
        args.flows, args.senders = 2, 2
    dbs = [d.strip() for d in args.db.split(",") if d.strip()]
    for d in dbs:
        if d not in ("sqlite", "postgres"):
            parser.error(f"unknown database {d!r} (sqlite, postgres)")
    if args.json:
        print(json.dumps(run_all(dbs, args.flows, args.senders, None)))
        return
    base = None
    if args.baseline:
        base = run_baseline(args.baseline, ["--flows", str(args.flows), "--senders", str(args.senders), "--db", args.db])
    results = run_all(dbs, args.flows, args.senders, args.profile)
    for r in results:
        r["profile_kind"] = args.profile
    print(f"engine cost per event: {args.flows} flows of {len(KINDS)} events for one sender, "
          f"{args.senders} concurrent senders; {os.cpu_count()} cores; python {sys.version.split()[0]}")
    print_tables(results, base, args.baseline)


if __name__ == "__main__":
    main()
