"""Flooding: a mass notification to 1,000 people on Telegram and 1,000 on Slack at once.

An announcement to every employee of a desk (2,000 people: half reach the desk on
Telegram, half on Slack, in no particular order) is written the way the engine writes
everything: one event, addressed person by person with ``Context.to_person`` (their
platform, their DM, their language) and flushed to the outbox in one transaction. A
second event a moment later, while the first is being delivered, sends a correction to
the first ``--follow-up`` people of each platform (so those chats get two messages, in
order, 1/s apart at most). The real :class:`~bot.delivery.OutboxWorker` delivers both
through the real ``TelegramSender`` (aiogram) and ``SlackSender`` (slack_sdk) over
loopback HTTP to ``tests/fakes/telegram.py`` and ``tests/fakes/slack.py``, which enforce

- Telegram: 30 messages/s overall, 1/s per private chat, 20/min per group (sliding windows);
- Slack: chat.postMessage about 1/s per channel, the Web API tier limits, and a
  workspace-wide chat.postMessage window of ``--slack-limit`` per second (Slack keeps one
  but publishes no number; the same figure is declared to the worker with
  ``slack_rate_policy(overall=...)``, as a desk would configure it),

and refuse some recipients: users who blocked the bot (Telegram 403 "bot was blocked by the
user"), deleted accounts (Telegram 403 "user is deactivated", Slack ``account_inactive``),
and people already known to be unreachable from an earlier send (``Identity.unreachable_at``).
Along the way the bench injects 429s: platform-wide ones (Telegram ``retry_after``, Slack
``Retry-After`` on every send) and, on Slack, one for a single channel.

Printed per platform: messages, the achieved rate of send calls beside the platform's limit
(over the whole delivery and outside the pauses the platform ordered), 429s received,
sends before a retry_after expired (the fake's ``early_retries``, and on the worker's side:
sends it started after it had received a 429 that still ran), messages lost, blocked
people skipped (marked unreachable after one refused call, never retried; those known
before: no call at all), wall time. Pass criteria, printed with the figures: 0 lost, no
send started before a retry_after expired, the rate outside ordered pauses within 10 % of
the limit (printed but not judged with ``--smoke``: seconds are too short to judge a rate on
a shared machine). Exit
status 0 when every check passed, 1 otherwise.

Run from the repository root::

    python bench/flood.py            # 1,000 + 1,000 recipients (about two minutes)
    python bench/flood.py --smoke    # 60 + 60 recipients, a few seconds (tests/bench/test_flood_smoke.py)
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from aiogram import Bot  # noqa: E402
from aiogram.client.session.aiohttp import AiohttpSession  # noqa: E402
from aiogram.client.telegram import TelegramAPIServer  # noqa: E402
from slack_sdk.web.async_client import AsyncWebClient  # noqa: E402
from sqlmodel import col, select  # noqa: E402

from bot.config import Config, load_config  # noqa: E402
from bot.delivery import OutboxWorker, RateLimit, RetryAfter  # noqa: E402
from bot.slack.sender import SlackSender, slack_rate_policy  # noqa: E402
from bot.telegram.sender import TelegramSender, telegram_rate_policy  # noqa: E402
from handlers.context import system_context  # noqa: E402
from handlers.engine import utc_clock  # noqa: E402
from handlers.events import Reply  # noqa: E402
from handlers.texts import Translator  # noqa: E402
from store import migrate, outbox  # noqa: E402
from store.db import Database  # noqa: E402
from store.models import Identity, OutboxMessage, OutboxStatus, Person  # noqa: E402
from tests.fakes.slack import FakeSlack  # noqa: E402
from tests.fakes.slack import RateLimits as SlackLimits  # noqa: E402
from tests.fakes.telegram import FakeTelegram  # noqa: E402

TELEGRAM, SLACK = "telegram", "slack"
PLATFORMS = (TELEGRAM, SLACK)
TELEGRAM_LIMIT = 30.0  # messages per second, overall
GOAL = 0.10  # the achieved rate within 10 % of the limit
FIRST_TG_USER = 800_000_001

ANNOUNCEMENT = {
    "en": "Announcement: the office network is down for maintenance on Saturday 10:00-12:00. (#{n})",
    "ru": "Объявление: в субботу с 10:00 до 12:00 офисная сеть отключается на обслуживание. (#{n})",
}
CORRECTION = {
    "en": "Correction: the maintenance is on Sunday, not Saturday. (#{n})",
    "ru": "Поправка: обслуживание в воскресенье, а не в субботу. (#{n})",
}


@dataclass(frozen=True)
class Plan:
    recipients: int  # per platform
    follow_up: int  # of them who also get the correction
    blocked: int  # per platform: refuse with 403 / account_inactive during the run (split below)
    known_unreachable: int  # per platform: marked unreachable by an earlier send
    injected: int  # platform-wide 429s per platform
    retry_after: int
    slack_limit: int  # chat.postMessage per second, workspace-wide


FULL = Plan(recipients=1000, follow_up=100, blocked=30, known_unreachable=10, injected=3, retry_after=2,
            slack_limit=10)
SMOKE = Plan(recipients=60, follow_up=10, blocked=4, known_unreachable=2, injected=1, retry_after=1,
             slack_limit=20)


@dataclass
class Recipient:
    platform: str
    user_id: str  # platform user id
    chat_id: str  # where their DM is (Telegram: the user id; Slack: the D… channel)
    locale: str
    refuses: str | None = None  # "blocked" / "deactivated": the platform refuses sends now
    known_unreachable: bool = False  # unreachable_at set before the run
    person_id: int = 0
    expected: list[str] = field(default_factory=list)  # texts they must receive, in order


@dataclass
class Figures:
    platform: str
    limit: float
    messages: int = 0  # rows written
    delivered: int = 0
    calls: int = 0  # send calls the platform took (delivered or refused 403 / account_inactive)
    first: float = 0.0
    last: float = 0.0
    paused: float = 0.0  # seconds inside [first, last] the platform had ordered a wait
    too_many: int = 0  # 429s received
    injected: int = 0
    early: int = 0  # the fake's early_retries: calls that reached it while a ban it gave still ran
    early_started: int = 0  # sends the worker started after it had received a 429 still running
    in_flight: int = 0
    early_after: list[float] = field(default_factory=list)  # ms between each early call and the 429 before it
    lost: int = 0
    refused: int = 0  # recipients refused by the platform (one call each)
    skipped: int = 0  # recipients known unreachable: no call
    problems: list[str] = field(default_factory=list)

    @property
    def span(self) -> float:
        return max(0.0, self.last - self.first)

    @property
    def rate(self) -> float:
        return self.calls / self.span if self.span > 0 else 0.0

    @property
    def rate_unpaused(self) -> float:
        active = self.span - self.paused
        return self.calls / active if active > 0 else 0.0


def text_for(table: dict[str, str]) -> Callable[[int], Callable[[Translator], Reply]]:
    return lambda n: (lambda t: Reply(table.get(t.locale, table["en"]).format(n=n)))


def union_inside(intervals: list[tuple[float, float]], lo: float, hi: float) -> float:
    """Total length of the union of ``intervals`` clipped to ``[lo, hi]``."""
    total, end = 0.0, lo
    for start, stop in sorted(intervals):
        start, stop = max(start, end), min(stop, hi)
        if stop > start:
            total += stop - start
            end = stop
    return total


def recipients(plan: Plan) -> list[Recipient]:
    """Both platforms' people, interleaved (a desk's employees are in no platform order);
    the refusing and the known-unreachable spread over the list, some among the follow-ups."""
    out: list[Recipient] = []
    for n in range(plan.recipients):
        uid = FIRST_TG_USER + n
        out.append(Recipient(TELEGRAM, str(uid), str(uid), "ru" if n % 3 == 0 else "en"))
        slack_uid = f"U{n + 1:08d}"
        out.append(Recipient(SLACK, slack_uid, "D" + slack_uid[1:], "en" if n % 3 else "ru"))
    for platform in PLATFORMS:
        mine = [r for r in out if r.platform == platform]
        step = max(1, len(mine) // (plan.blocked + plan.known_unreachable))
        picked = mine[step // 2 :: step][: plan.blocked + plan.known_unreachable]
        for k, r in enumerate(picked):
            if k < plan.known_unreachable:
                r.known_unreachable = True
            elif platform == TELEGRAM:
                r.refuses = "blocked" if k % 3 else "deactivated"
            else:
                r.refuses = "deactivated"  # Slack has no "blocked the app" for DMs: deleted accounts
    return out


async def add_people(db: Database, people: list[Recipient]) -> None:
    now = utc_clock()
    async with db.transaction() as s:
        rows = []
        for r in people:
            person = Person(key=f"{r.platform}-{r.user_id}", name=f"Employee {r.user_id}")
            s.add(person)
            rows.append((r, person))
        await s.flush()
        for r, person in rows:
            assert person.id is not None
            r.person_id = person.id
            s.add(Identity(person_id=person.id, platform=r.platform, platform_user_id=r.user_id,
                           dm_chat_id=r.chat_id, locale=r.locale, last_seen_at=now - timedelta(days=3),
                           unreachable_at=now - timedelta(days=1) if r.known_unreachable else None))


async def announce(db: Database, config: Config, people: list[Recipient], table: dict[str, str],
                   first_seq: int) -> int:
    """One engine event: the text to each person (``Context.to_person``), flushed to the
    outbox in one transaction. Returns the rows written."""
    build = text_for(table)
    now = utc_clock()
    async with db.transaction() as s:
        ctx = system_context(s, config, now, PLATFORMS, occasion=f"announcement-{first_seq}")
        for k, r in enumerate(people):
            n = first_seq + k
            await ctx.to_person(r.person_id, build(n))
            r.expected.append(table[r.locale].format(n=n))
        written = await ctx.flush()
    return len(written)


class Injector:
    """Platform-wide 429s after every ``gap`` deliveries of a platform, and on Slack one for a
    single channel near the start (hook: the worker's ``on_send``)."""

    def __init__(self, plan: Plan, totals: dict[str, int], tg: FakeTelegram, sl: FakeSlack,
                 channel_429: str | None) -> None:
        self.plan, self.tg, self.sl = plan, tg, sl
        self.at = {p: {totals[p] * (k + 1) // (plan.injected + 1) for k in range(plan.injected)} for p in PLATFORMS}
        self.sent: Counter[str] = Counter()
        self.outcomes: dict[str, Counter[str]] = {p: Counter() for p in PLATFORMS}
        self.injected: Counter[str] = Counter()
        self.channel_429 = channel_429
        self.expected_calls = dict(totals)
        self.done = asyncio.Event()

    def __call__(self, platform: str, outcome: str) -> None:
        self.outcomes[platform][outcome] += 1
        if outcome not in ("sent", "blocked"):
            return
        self.sent[platform] += 1
        if self.sent[platform] in self.at[platform]:
            if platform == TELEGRAM:
                self.tg.inject_429(1, retry_after=self.plan.retry_after)
            else:
                self.sl.inject_429(1, retry_after=self.plan.retry_after)
            self.injected[platform] += 1
        if platform == SLACK and self.channel_429 is not None and self.sent[platform] == 5:
            self.sl.inject_429(1, retry_after=self.plan.retry_after, channel=self.channel_429)
            self.injected[platform] += 1
            self.channel_429 = None
        if all(self.sent[p] >= self.expected_calls[p] for p in PLATFORMS):
            self.done.set()


class Watched:
    """A sender as the worker sees it, with the times the worker started each send and learned
    of each 429 (its ``RetryAfter``): a send started while a 429 it had learned of still ran is
    early on the worker's side, whenever it reached the fake."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.platform = inner.platform
        self.rate_policy = inner.rate_policy
        self.starts: list[tuple[float, str]] = []  # (monotonic time, chat)
        # (monotonic time, until, chat): chat None for a 429 scoped to the whole platform; a
        # chat-scoped one holds only that chat, so other chats' sends meanwhile are not early
        self.learned: list[tuple[float, float, str | None]] = []

    def cost(self, dest: Any, reply: Reply) -> int:
        return int(self.inner.cost(dest, reply))

    async def send(self, dest: Any, reply: Reply) -> str | None:
        self.starts.append((time.monotonic(), dest.chat_id))
        try:
            return await self.inner.send(dest, reply)  # type: ignore[no-any-return]
        except RetryAfter as exc:
            now = time.monotonic()
            self.learned.append((now, now + exc.seconds, None if exc.scope == "platform" else dest.chat_id))
            raise

    async def edit(self, dest: Any, message_id: str, reply: Reply) -> str | None:
        return await self.inner.edit(dest, message_id, reply)  # type: ignore[no-any-return]

    def early_starts(self) -> int:
        """Sends the worker started while a 429 it had already received, for the whole
        platform or for that send's chat, was still running."""
        return sum(1 for t, chat in self.starts
                   if any(at < t < until - 0.001 and held in (None, chat) for at, until, held in self.learned))


def figures(platform: str, limit: float, calls: list[Any], retry_after_of: Callable[[Any], int | None],
            refused_error: Callable[[Any], bool]) -> Figures:
    f = Figures(platform, limit)
    taken = [c for c in calls if c.ok or refused_error(c)]
    f.calls = len(taken)
    f.delivered = sum(1 for c in taken if c.ok)
    if taken:
        f.first, f.last = min(c.time for c in taken), max(c.time for c in taken)
    waits = [(c.time, c.time + (retry_after_of(c) or 1)) for c in calls if c.status == 429]
    f.too_many = len(waits)
    f.paused = union_inside(waits, f.first, f.last)
    return f


async def run(plan: Plan, tmp: Path, *, concurrency: int) -> list[Figures]:
    config = load_config(ROOT / "config.yaml", env={})
    load_before = os.getloadavg()
    tg = FakeTelegram()
    sl = FakeSlack(rate_limits=SlackLimits(workspace=(plan.slack_limit, 1.0)))
    await tg.start()
    await sl.start()
    db = Database(f"sqlite+aiosqlite:///{tmp / 'flood'}.db")
    bot = Bot(tg.token, session=AiohttpSession(api=TelegramAPIServer.from_base(tg.base_url)))
    client = AsyncWebClient(token=sl.token, base_url=sl.base_url)
    try:
        await migrate.upgrade(db)
        people = recipients(plan)
        for r in people:
            if r.platform == TELEGRAM:
                tg.add_user(int(r.user_id), f"Employee {r.user_id}", language_code=r.locale)
                if r.refuses == "blocked":
                    tg.block(int(r.user_id))
                elif r.refuses == "deactivated":
                    tg.deactivate(int(r.user_id))
            else:
                sl.add_user(r.user_id, f"Employee {r.user_id}", locale="ru-RU" if r.locale == "ru" else "en-US")
                sl.dm(r.user_id)
                if r.refuses == "deactivated":
                    sl.deactivate(r.user_id)
        await add_people(db, people)

        tg_sender = TelegramSender(bot, rate_policy=telegram_rate_policy())
        sl_sender = SlackSender(client, rate_policy=slack_rate_policy(overall=RateLimit(plan.slack_limit, 1.0)))
        tg_sender.bind(db)
        sl_sender.bind(db)

        follow = [r for p in PLATFORMS for r in [x for x in people if x.platform == p][: plan.follow_up]]
        reachable = [r for r in people if not r.known_unreachable]
        written_at = time.monotonic()
        messages = await announce(db, config, people, ANNOUNCEMENT, 1)
        write_seconds = time.monotonic() - written_at
        # The platform calls to expect: every message to a reachable person who does not
        # refuse, and one refused call per refusing person (their later rows: no call).
        calls_expected = {
            p: sum(1 for r in reachable if r.platform == p and not r.refuses)
            + sum(1 for r in follow if r.platform == p and not r.refuses and not r.known_unreachable)
            + sum(1 for r in reachable if r.platform == p and r.refuses)
            for p in PLATFORMS
        }
        channel_429 = next((r.chat_id for r in follow if r.platform == SLACK and not r.refuses
                            and not r.known_unreachable), None)
        inject = Injector(plan, calls_expected, tg, sl, channel_429)
        watched = {TELEGRAM: Watched(tg_sender), SLACK: Watched(sl_sender)}
        worker = OutboxWorker(db, dict(watched), utc_clock,
                              concurrency=concurrency, on_send=inject)
        stop = asyncio.Event()
        gc.collect()
        gc.freeze()  # the set-up lives to the end: keep it out of the collector's full passes
        started, cpu_started = time.monotonic(), time.process_time()
        running = asyncio.create_task(worker.run(stop, idle_seconds=0.5))
        # The correction: a second event while the first is being delivered.
        messages += await announce(db, config, follow, CORRECTION, plan.recipients * 2 + 1)
        worker.wake()
        time_box = 60 + 3 * max(calls_expected[TELEGRAM] / TELEGRAM_LIMIT, calls_expected[SLACK] / plan.slack_limit)
        timed_out = False
        try:
            await asyncio.wait_for(inject.done.wait(), timeout=time_box)
            # The last rows of the known-unreachable may still be being marked (no call).
            await worker.wait_recorded(lambda: _nothing_pending(db), timeout=10)
        except TimeoutError:
            timed_out = True
        wall = time.monotonic() - started
        cpu = time.process_time() - cpu_started
        stop.set()
        await running

        async with db.transaction() as s:
            rows = list(await s.exec(select(OutboxMessage)))
            unreachable = {(i.platform, i.dm_chat_id) for i in await s.exec(
                select(Identity).where(col(Identity.unreachable_at).is_not(None)))}
        out: list[Figures] = []
        tg_calls = [c for c in tg.calls if c.method.lower() == "sendmessage"]
        sl_calls = sl.calls_of("chat.postMessage")
        specs = [
            (TELEGRAM, TELEGRAM_LIMIT, tg_calls, lambda c: (c.response.get("parameters") or {}).get("retry_after"),
             lambda c: c.status == 403, tg),
            (SLACK, float(plan.slack_limit), sl_calls, lambda c: c.retry_after,
             lambda c: c.error == "account_inactive", sl),
        ]
        for platform, limit, calls, retry_of, refused_of, fake in specs:
            f = figures(platform, limit, calls, retry_of, refused_of)
            f.messages = sum(1 for row in rows if row.platform == platform)
            f.injected = inject.injected[platform]
            f.early, f.in_flight = fake.early_retries, fake.in_flight_during_ban
            f.early_started = watched[platform].early_starts()
            early_ids = {id(c) for c in fake.early_retry_calls}
            issued = [c.time for c in calls if c.status == 429 and id(c) not in early_ids]
            for e in fake.early_retry_calls:
                before = [t for t in issued if t <= e.time]
                if before:
                    f.early_after.append((e.time - max(before)) * 1000)
            mine = [r for r in people if r.platform == platform]
            by_chat: dict[str, list[Any]] = {}
            for c in calls:
                key = str(c.params.get("chat_id") if platform == TELEGRAM else c.params.get("channel"))
                by_chat.setdefault(key, []).append(c)
            for r in mine:
                got = by_chat.get(r.chat_id, [])
                if r.known_unreachable:
                    if got:
                        f.problems.append(f"{r.chat_id}: known unreachable, yet called {len(got)}×")
                    else:
                        f.skipped += 1
                    continue
                if r.refuses:
                    refused = [c for c in got if refused_of(c)]
                    if len(refused) != 1 or any(c.ok for c in got):
                        f.problems.append(f"{r.chat_id}: {len(refused)} refused calls (should be exactly 1)")
                    elif (platform, r.chat_id) not in unreachable:
                        f.problems.append(f"{r.chat_id}: refused but not marked unreachable")
                    else:
                        f.refused += 1
                    continue
                texts = _received(fake, platform, r.chat_id)
                missing = len(r.expected) - len(texts)
                if texts != r.expected[: len(texts)] or missing < 0:
                    f.problems.append(f"{r.chat_id}: received {texts}, expected {r.expected}")
                f.lost += max(0, missing)
            statuses = Counter(row.status for row in rows if row.platform == platform)
            stuck = {k: v for k, v in statuses.items() if k not in (OutboxStatus.SENT, OutboxStatus.BLOCKED)}
            if stuck:
                f.problems.append(f"outbox rows not settled: {dict(stuck)}")
            retried_blocked = [row for row in rows if row.platform == platform and row.status == OutboxStatus.BLOCKED
                               and row.attempts > 1]
            if retried_blocked:
                f.problems.append(f"{len(retried_blocked)} blocked rows were tried more than once")
            if timed_out:
                f.problems.append(f"not all settled within {time_box:.0f}s")
            out.append(f)
        load = os.getloadavg()
        print(f"machine: {os.cpu_count()} cores, load average {load_before[0]:.1f} at the start, {load[0]:.1f} "
              f"at the end; this process (worker, clients, both fakes) used {cpu:.0f} s of CPU in {wall:.0f} s "
              f"of delivery = {cpu / wall:.0%} of one core")
        print(f"{plan.recipients} recipients on Telegram + {plan.recipients} on Slack, interleaved; "
              f"{messages} outbox rows written by two engine events (the announcement: "
              f"{plan.recipients * 2} rows in {write_seconds:.1f} s, one transaction; the correction to "
              f"{plan.follow_up} + {plan.follow_up} while delivering); worker concurrency {concurrency}; "
              f"wall time {wall:.1f} s")
        return out
    finally:
        gc.unfreeze()
        await bot.session.close()
        await db.dispose()
        await tg.close()
        await sl.close()


async def _nothing_pending(db: Database) -> bool:
    async with db.transaction() as s:
        return await outbox.backlog(s) == 0


def _received(fake: Any, platform: str, chat_id: str) -> list[str]:
    if platform == TELEGRAM:
        return [m.get("text") or "" for m in sorted(fake.bot_messages(int(chat_id)), key=lambda m: m["message_id"])]
    return [m.get("text") or "" for m in fake.bot_messages(chat_id)]


def report(results: list[Figures], plan: Plan, *, judge_rate: bool = True) -> bool:
    print("limits enforced by the fakes: Telegram 30 msg/s overall, 1/s per private chat, 20/min per group; "
          f"Slack chat.postMessage 1/s per channel, {plan.slack_limit}/s workspace-wide, Web API tiers")
    print(f"injected: {plan.injected} platform-wide 429s per platform (retry_after {plan.retry_after} s), "
          f"+1 for one Slack channel")
    print()
    head = (f"{'platform':<9} {'rows':>5} {'deliv.':>6} {'calls':>5} {'secs':>6} {'msg/s':>6} "
            f"{'unpaused':>8} {'limit':>5} {'share':>6} {'paused':>6} {'429s':>5} {'early':>5} {'wk-early':>8} {'lost':>4} "
            f"{'refused':>7} {'skipped':>7}")
    print(head)
    ok = True
    for f in results:
        share = f.rate_unpaused / f.limit
        print(f"{f.platform:<9} {f.messages:>5} {f.delivered:>6} {f.calls:>5} {f.span:>6.1f} {f.rate:>6.1f} "
              f"{f.rate_unpaused:>8.1f} {f.limit:>5.0f} {share:>6.0%} {f.paused:>6.1f} {f.too_many:>5} "
              f"{f.early:>5} {f.early_started:>8} {f.lost:>4} {f.refused:>7} {f.skipped:>7}")
    print()
    print("rows: outbox rows written; calls: send calls the platform took (delivered + refused 403 / "
          "account_inactive); msg/s: calls over the whole delivery; unpaused: outside the waits the platform "
          "ordered (429s); share: unpaused beside the limit; early: calls that reached the fake while a "
          "retry_after it gave still ran (a call on another connection within 50 ms of the 429 counts as in "
          "flight, not early); wk-early: sends the worker started after it had received a 429 that still ran; "
          "refused: people refused once and marked unreachable; skipped: known unreachable, not called")
    for f in results:
        share = f.rate_unpaused / f.limit
        checks = [
            (f"0 lost ({f.lost})", f.lost == 0),
            (f"no send started before a retry_after expired ({f.early_started}; at the fake {f.early})",
             f.early_started == 0),
            (f"rate within {GOAL:.0%} of the limit ({f.rate_unpaused:.1f} of {f.limit:.0f} msg/s = {share:.0%})",
             abs(share - 1) <= GOAL or not judge_rate),
            (f"every refusing person called once, marked unreachable; known ones not called "
             f"({f.refused} + {f.skipped})", not f.problems),
        ]
        verdict = all(passed for _, passed in checks)
        ok &= verdict
        shown = [f"{name} {'ok' if passed else 'FAILED'}" for name, passed in checks]
        if not judge_rate:
            shown[2] = shown[2].rsplit(" ", 1)[0] + " (not judged in a smoke run)"
        print(f"{f.platform}: {'PASS' if verdict else 'FAIL'}: " + "; ".join(shown))
        if f.in_flight:
            print(f"  note: {f.in_flight} call(s) were on the wire when a 429 was answered (not early)")
        if f.early_after:
            print(f"  note: the fake's {f.early} early call(s) arrived {min(f.early_after):.0f}-"
                  f"{max(f.early_after):.0f} ms after its 429"
                  + (", all started by the worker before that 429 reached it: in flight (on the 429's own "
                     "keep-alive connection, or later than the fake's 50 ms on a loaded machine)"
                     if not f.early_started else ""))
        for problem in f.problems[:10]:
            print(f"  - {problem}")
    return ok


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="60 + 60 recipients, a few seconds")
    parser.add_argument("--recipients", type=int, help="per platform")
    parser.add_argument("--follow-up", type=int)
    parser.add_argument("--slack-limit", type=int, help="Slack's workspace-wide chat.postMessage per second")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--verbose", action="store_true", help="show the worker's warnings (each 429)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.verbose else logging.ERROR, format="%(name)s: %(message)s")
    base = SMOKE if args.smoke else FULL
    plan = Plan(
        recipients=args.recipients or base.recipients,
        follow_up=base.follow_up if args.follow_up is None else args.follow_up,
        blocked=base.blocked, known_unreachable=base.known_unreachable, injected=base.injected,
        retry_after=base.retry_after, slack_limit=args.slack_limit or base.slack_limit,
    )
    if plan.follow_up > plan.recipients or plan.blocked + plan.known_unreachable > plan.recipients:
        parser.error("--follow-up (and the refusing people) cannot exceed --recipients")
    with tempfile.TemporaryDirectory() as tmp:
        results = await run(plan, Path(tmp), concurrency=args.concurrency)
    # A smoke run lasts seconds on a shared machine: a second's stall or the 1 s a follow-up
    # must wait after its chat's first message weighs too much for a rate figure to be judged.
    return 0 if report(results, plan, judge_rate=not args.smoke) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
