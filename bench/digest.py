"""How long the leads' digest and ``/stats month`` take on a big desk, on SQLite and PostgreSQL.

Seeds a year of history — N tickets (40 % of them the IT team's, the rest spread over the
other teams of the sample config), 2,000 requesters, KB feedback (gaps tied to tickets,
deflections, shown suggestions) — straight into a freshly migrated database (SQLite:
``executemany`` in one transaction; PostgreSQL: ``COPY`` through asyncpg), then times
``scheduler.digest.compute`` for the IT team: yesterday's digest and ``/stats month``
(the last 30 days), best of ``--repeat`` runs, with the rows the period holds. The chart
is timed once on its own (it does not depend on the size). Goal: under 1 s on PostgreSQL
at 1M tickets.

Run from the repository root::

    python bench/digest.py                    # 100k and 1M tickets, SQLite and PostgreSQL
    python bench/digest.py --sizes 100000 --db postgres
    python bench/digest.py --smoke            # 3,000 tickets on both, seconds (used by the tests)

PostgreSQL: a throw-away database is created on ``--pg`` (default the local server,
``$DESKBOT_TEST_POSTGRES`` if set) and dropped afterwards. Exit status 0 when every
check passed (the numbers are consistent with the seed), 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.app import membership_specs, person_specs  # noqa: E402
from bot.config import Config, load_config  # noqa: E402
from handlers.cards import team_timezone  # noqa: E402
from handlers.texts import translator  # noqa: E402
from scheduler import digest  # noqa: E402
from store import migrate, people  # noqa: E402
from store.db import Database  # noqa: E402
from store.models import KbFeedback, Person, Ticket  # noqa: E402

PG_SERVER = os.environ.get("DESKBOT_TEST_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432")
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=ZoneInfo("Europe/Moscow")).astimezone(UTC)
TEAM = "it"
TEAM_SHARE = 0.4
REQUESTERS = 2000
DAYS = 365
GAP_PHRASES = [f"{w} {v}" for w in ("printer", "vpn", "mail", "1c", "badge", "wifi", "laptop", "zoom", "crm", "salary")
               for v in ("does not work", "is slow", "error", "how to", "access", "broken", "setup", "again")]
BATCH = 50_000


# --- the seed ----------------------------------------------------------------------------


@dataclass
class Seeded:
    tickets: int
    kb_rows: int
    team_tickets: int


def _ticket_rows(config: Config, n: int, first_requester: int, agents: dict[str, list[int]],
                 rng: random.Random) -> Iterator[dict[str, Any]]:
    teams = list(config.teams)
    others = [t for t in teams if t != TEAM]
    categories: dict[str, list[str]] = {t: [k for k, c in config.categories.items() if c.team == t] for t in teams}
    # Filed in time order, as a real desk's tickets are (ids grow with time; so does their
    # place on disk), over DAYS days.
    offsets = sorted((rng.uniform(0, DAYS * 86400) for _ in range(n)), reverse=True)
    for i, back in enumerate(offsets, 1):
        team = TEAM if rng.random() < TEAM_SHARE else rng.choice(others)
        created = NOW - timedelta(seconds=back)
        age = (NOW - created).total_seconds()
        answered = created + timedelta(seconds=min(age, rng.expovariate(1 / 7200)))
        first_response = answered if answered < NOW and (age > 3600 or rng.random() < 0.6) else None
        if age < 3 * 86400:
            status = rng.choice(("new", "claimed", "waiting", "resolved", "closed"))
        else:
            status = rng.choices(("closed", "resolved", "claimed", "waiting"), (90, 7, 2, 1))[0]
        if status == "new":
            first_response = None
        resolved = None
        if status in ("resolved", "closed"):
            start = first_response or created
            resolved = min(NOW, start + timedelta(seconds=rng.expovariate(1 / 129600)))
        csat = rng.choices((5, 4, 3, 2, 1), (50, 25, 10, 8, 7))[0] if resolved and rng.random() < 0.6 else None
        yield {
            "id": i, "team": team, "category": rng.choice(categories[team] or ["other"]), "priority": "normal",
            "status": status, "tier": "L1", "requester_id": first_requester + rng.randrange(REQUESTERS),
            "assignee_id": rng.choice(agents[team]) if status != "new" and agents[team] else None,
            "subject": f"request {i}", "platform": "telegram", "kb_query": None, "version": 0,
            "created_at": created, "updated_at": resolved or first_response or created,
            "first_response_due": created + timedelta(hours=4), "resolution_due": created + timedelta(days=2),
            "first_response_at": first_response, "resolved_at": resolved,
            "closed_at": resolved if status == "closed" else None, "csat": csat,
            "csat_comment": "still broken" if csat is not None and csat <= 2 and rng.random() < 0.5 else None,
            "resolution_note": None, "fields": "{}",
            "sla_paused_at": created + timedelta(hours=1) if status == "waiting" else None,
            "sla_paused_minutes": rng.choice((0, 0, 30, 120)) if resolved else 0,
        }


def _kb_rows(n: int, rng: random.Random, tickets: list[tuple[int, datetime]]) -> Iterator[dict[str, Any]]:
    kb_id = 0
    for ticket_id, created in tickets:  # a gap for ~15 % of the tickets
        kb_id += 1
        yield {"id": kb_id, "slug": None, "query": rng.choice(GAP_PHRASES), "outcome": "gap", "person_id": None,
               "ticket_id": ticket_id, "created_at": created}
    for _ in range(n // 2):  # deflections and suggestions shown
        kb_id += 1
        yield {"id": kb_id, "slug": "vpn-connect-ru", "query": "vpn", "outcome": rng.choice(("solved", "shown", "shown")),
               "person_id": None, "ticket_id": None, "created_at": NOW - timedelta(seconds=rng.uniform(0, DAYS * 86400))}


def _batches(rows: Iterator[dict[str, Any]], columns: Sequence[str]) -> Iterator[list[tuple[Any, ...]]]:
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(tuple(row[c] for c in columns))
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _sqlite_value(v: Any) -> Any:
    if isinstance(v, datetime):  # how SQLAlchemy stores a naive UTC datetime in SQLite
        return v.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    return v


def _pg_value(v: Any) -> Any:
    return v.astimezone(UTC).replace(tzinfo=None) if isinstance(v, datetime) else v


async def seed(db: Database, config: Config, n: int) -> Seeded:
    """A year of history in a migrated, empty database."""
    async with db.transaction() as s:
        await people.sync_from_config(s, person_specs(config), membership_specs(config))
    async with db.transaction() as s:
        agents: dict[str, list[int]] = {}
        for team in config.teams:
            agents[team] = [p.id for p, _ in await people.team_members(s, team) if p.id is not None]
        first = 100_000
    requesters = [(first + i, f"bench-{i}", f"Requester {i}", None, False, NOW) for i in range(REQUESTERS)]
    rng = random.Random(10)
    t_cols = [c.name for c in Ticket.__table__.columns]  # type: ignore[attr-defined]
    k_cols = [c.name for c in KbFeedback.__table__.columns]  # type: ignore[attr-defined]
    p_cols = [c.name for c in Person.__table__.columns]  # type: ignore[attr-defined]
    gaps: list[tuple[int, datetime]] = []
    team_tickets = 0

    def tickets() -> Iterator[dict[str, Any]]:
        nonlocal team_tickets
        for row in _ticket_rows(config, n, first, agents, rng):
            team_tickets += row["team"] == TEAM
            if rng.random() < 0.15:
                gaps.append((row["id"], row["created_at"]))
            yield row

    if db.dialect == "sqlite":
        path = db.url.split(":///", 1)[1]
        conn = sqlite3.connect(path)
        try:
            conn.execute("PRAGMA synchronous=OFF")
            with conn:
                conn.executemany(f"INSERT INTO person ({', '.join(p_cols)}) VALUES ({', '.join('?' * len(p_cols))})",
                                 [tuple(_sqlite_value(v) for v in r) for r in requesters])
                for cols, table, rows in ((t_cols, "ticket", tickets()), (k_cols, "kb_feedback", None)):
                    source = rows if rows is not None else _kb_rows(n, rng, gaps)
                    sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
                    for batch in _batches(source, cols):
                        conn.executemany(sql, [tuple(_sqlite_value(v) for v in r) for r in batch])
            conn.execute("ANALYZE")
            kb_rows = conn.execute("SELECT count(*) FROM kb_feedback").fetchone()[0]
        finally:
            conn.close()
    else:
        import asyncpg

        conn = await asyncpg.connect(db.url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            await conn.copy_records_to_table("person", records=[tuple(_pg_value(v) for v in r) for r in requesters],
                                             columns=p_cols)
            for batch in _batches(tickets(), t_cols):
                await conn.copy_records_to_table("ticket", records=[tuple(_pg_value(v) for v in r) for r in batch],
                                                 columns=t_cols)
            for batch in _batches(_kb_rows(n, rng, gaps), k_cols):
                await conn.copy_records_to_table("kb_feedback", records=[tuple(_pg_value(v) for v in r) for r in batch],
                                                 columns=k_cols)
            for table in ("person", "ticket", "kb_feedback"):
                await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
            await conn.execute("VACUUM ANALYZE")  # what autovacuum does soon after a bulk load
            kb_rows = await conn.fetchval("SELECT count(*) FROM kb_feedback")
        finally:
            await conn.close()
    return Seeded(n, int(kb_rows), team_tickets)


# --- the measurement -----------------------------------------------------------------------


@dataclass
class Timing:
    seconds: float
    numbers: digest.Numbers
    frt_rows: int
    res_rows: int


async def timed(db: Database, config: Config, period: digest.Period, repeat: int) -> Timing:
    from store import metrics

    runs = []
    numbers = None
    for _ in range(repeat):
        started = time.perf_counter()
        async with db.transaction() as s:
            numbers = await digest.compute(s, config, TEAM, period, NOW)
        runs.append(time.perf_counter() - started)
    assert numbers is not None
    async with db.transaction() as s:
        frt = len(await metrics.first_responses(s, TEAM, period.start, period.end))
        res = len(await metrics.resolutions(s, TEAM, period.start, period.end))
    return Timing(min(runs), numbers, frt, res)


def check(seeded: Seeded, day: Timing, month: Timing) -> list[str]:
    """Consistency with the seed (not exact numbers: those are the tests' job)."""
    problems = []
    per_day = seeded.team_tickets / DAYS
    if not 0.3 * per_day <= day.numbers.created <= 3 * per_day + 5:
        problems.append(f"digest: created {day.numbers.created}, expected about {per_day:.0f}")
    if not 0.5 * 30 * per_day <= month.numbers.created <= 2 * 30 * per_day + 10:
        problems.append(f"month: created {month.numbers.created}, expected about {30 * per_day:.0f}")
    if month.res_rows != month.numbers.resolved or month.numbers.frt_p50 is None or month.numbers.res_p90 is None:
        problems.append("month: resolutions or percentiles missing")
    if len(month.numbers.days) != 14 or sum(d.created for d in month.numbers.days) == 0:
        problems.append("chart series empty")
    if month.numbers.open_now == 0 or not month.numbers.oldest or not month.numbers.gaps:
        problems.append("open tickets, oldest or KB gaps missing")
    return problems


async def run_one(kind: str, n: int, config: Config, repeat: int, pg: str, tmp: Path) -> tuple[list[str], list[str]]:
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / f'digest-{n}.db'}"
        name = None
    else:
        import asyncpg

        name = f"deskbot_bench_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(pg.replace("postgresql+asyncpg://", "postgresql://") + "/postgres")
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        url = f"{pg}/{name}"
    db = Database(url)
    try:
        await migrate.upgrade(db)
        started = time.perf_counter()
        seeded = await seed(db, config, n)
        seed_s = time.perf_counter() - started
        zone = ZoneInfo(team_timezone(config, TEAM))
        yesterday = NOW.astimezone(zone).date() - timedelta(days=1)
        day = await timed(db, config, digest.day_period(yesterday, zone), repeat)
        month_period = digest.parse_period("month", NOW, zone)
        assert month_period is not None
        month = await timed(db, config, month_period, repeat)
    finally:
        await db.dispose()
        if name is not None:
            import asyncpg

            admin = await asyncpg.connect(pg.replace("postgresql+asyncpg://", "postgresql://") + "/postgres")
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
    line = (f"{kind:<9} {seeded.tickets:>9,} {seeded.kb_rows:>9,} {seeded.team_tickets:>9,} {seed_s:>7.1f}s"
            f"  digest {day.seconds:>6.3f}s ({day.frt_rows:,}+{day.res_rows:,} rows)"
            f"  month {month.seconds:>6.3f}s ({month.frt_rows:,}+{month.res_rows:,} rows)")
    return [line], [f"{kind} {n}: {p}" for p in check(seeded, day, month)]


def chart_seconds(config: Config, numbers: digest.Numbers) -> float:
    started = time.perf_counter()
    digest.chart_file(translator("en"), numbers, config)
    return time.perf_counter() - started


async def main_async(args: argparse.Namespace) -> int:
    config = load_config(ROOT / "config.yaml", env={})
    sizes = [3000] if args.smoke else [int(x) for x in args.sizes.split(",")]
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    print(f"digest bench: team {TEAM} ({TEAM_SHARE:.0%} of the tickets), {DAYS} days of history, now {NOW:%Y-%m-%d %H:%M} UTC,"
          f" best of {args.repeat}")
    print("database    tickets   kb rows  team's   seeding   timings (first-response + resolution rows measured)")
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            for kind in kinds:
                lines, found = await run_one(kind, n, config, args.repeat, args.pg, Path(tmp))
                print(*lines, sep="\n", flush=True)
                problems += found
    zone = ZoneInfo(team_timezone(config, TEAM))
    empty = digest.Numbers(TEAM, digest.day_period(NOW.date(), zone), NOW, 0, 0, 0, 0, None, None, None, None, None,
                           [], [], 0, [], None, 0, [], 0, [], [])
    from store.metrics import DayFlow

    series = [DayFlow(b, 30 + i, 28 + i, i % 4) for i, b in enumerate(digest.day_bounds(NOW.date(), 14, zone)[:-1])]
    first = chart_seconds(config, _with_days(empty, series))  # includes importing matplotlib
    print(f"chart (14 days, PNG): {chart_seconds(config, _with_days(empty, series)):.3f}s (first one {first:.2f}s)")
    for p in problems:
        print("PROBLEM:", p)
    print("every check passed" if not problems else f"{len(problems)} check(s) failed")
    return 0 if not problems else 1


def _with_days(numbers: digest.Numbers, days: list[Any]) -> digest.Numbers:
    from dataclasses import replace

    return replace(numbers, days=days)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="3,000 tickets on both databases (seconds)")
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated ticket counts")
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per measurement (the best is shown)")
    parser.add_argument("--pg", default=PG_SERVER, help="PostgreSQL server URL (postgresql+asyncpg://user@host:port)")
    args = parser.parse_args()
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
