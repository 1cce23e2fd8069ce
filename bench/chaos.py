"""Chaos: SIGKILL ``deskbot run`` at random moments under load, then check the books.

    python bench/chaos.py                       # 20 kills, SQLite, one process
    python bench/chaos.py --db postgresql       # the same on PostgreSQL
    python bench/chaos.py --replicas 2 --db postgresql   # two replicas behind one webhook path
    python bench/chaos.py --smoke               # 3 kills, SQLite, a small load (CI)

The load: simulated employees on Telegram and Slack file requests through the real
webhooks (a text with a unique reference, then whatever buttons the desk offers: open a
ticket, yes to the guessed category, open a new one), and two agents (boris on Telegram,
vera on Slack) claim the cards in the IT queue, answer in the ticket's thread and resolve
it; every fourth ticket is left unclaimed, so the sweep owes it a re-post
(``unclaimed_repost: 0m``). Meanwhile ``deskbot run`` is SIGKILLed at random moments
(seeded), restarted, and the fakes redeliver what was not acknowledged (Telegram: an
update not answered 200; Slack: an event not acked, with ``X-Slack-Retry-Num``; a button
press that failed is pressed again, as a person would). After the last kill the load
stops, the process is restarted once cleanly (its start runs the sweep), everything is
delivered, and the books are checked:

- tickets: every ``#N created: <ref>`` a requester saw at the fake is ticket N in the
  database with that reference, and no reference has two tickets (0 lost, 0 duplicated);
- notifications: every outbox row is ``sent`` and its platform message exists at the fake
  (0 lost); every bot message at the fake is some outbox row's (or card's) recorded
  message, else it is a duplicate send (a row sent, then the process killed before the
  send was recorded: sent again by the next runner) — counted, and attributed to the
  first kill after it (or up to ``KILL_GRACE`` before it: a send in flight at the kill
  reaches the fake just after it); at most one per chat per kill (a chat has one send
  in flight), none without a kill, and no more in all than there were kills;
- reminders: every ``unclaimed_repost`` in ``scheduled_action`` has its re-post at the fake
  in each chat it was written for, once; no re-post at the fake without one; every ticket
  still unclaimed at the end has one (the final start's sweep ran after it was filed).

With ``--replicas 2`` two processes share one PostgreSQL database behind the bench's
round-robin proxy; kills hit either, and the runner once mid-run. /healthz of both is
sampled throughout: never two runners at once, and a process never seen as the runner
never sent anything (its ``deskbot_sends_total`` stays 0), so the runner alone delivers.

Rate limits: the fakes' are off and the senders' raised (bench/_chaos_bot.py), else the
IT group's 20 messages a minute would make the backlog after each restart drain for
minutes; bench/flood.py measures the limits. Exit code 1 on FAIL.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import sys
import tempfile
import time
import traceback
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._chaos_run import (  # noqa: E402
    BotProcess,
    Proxy,
    drop_database,
    fresh_database,
    migrate,
    populate,
    start_fakes,
    write_config,
)
from tests.fakes.slack import FakeSlack  # noqa: E402
from tests.fakes.telegram import FakeTelegram, buttons_of  # noqa: E402
from tests.support.slack import SlackMessage, SlackUser  # noqa: E402
from tests.support.telegram import BotMessage, Person  # noqa: E402

IT_TELEGRAM, IT_SLACK = -1001000000001, "C00ITQUEUE"  # team it's queues in config.yaml
BORIS_TELEGRAM, VERA_SLACK = 100002, "U0000VERA"  # IT agents in config.yaml
CREATED = re.compile(r"#(\d+) created: (R\d+x\d+)\b")
REF = re.compile(r"\b(R\d+x\d+)\b")
PROBLEMS = [
    "VPN does not connect from home",
    "the printer on the third floor jams",
    "forgot my password, the account is locked",
    "Outlook does not open my mailbox",
    "my laptop will not boot",
    "wifi keeps dropping in room 4",
]
# What an employee presses to get a request filed, best first.
PRESS_ORDER = ["This is a new request", "New request", "Open a new one", "Open a ticket", "Yes, "]
STEP_TIMEOUT = 180.0  # an employee waits this long for the desk's next step, then gives the flow up
SLACK_RETRY_DELAY = 0.2
SETTLE_TIMEOUT = 240.0
# How long after a kill a send may reach the fake and still be that kill's duplicate. The
# kill's time is taken just before SIGKILL, and the fakes run on the bench's own event loop,
# so a request the process had already written when it died is read and timed by the fake
# only afterwards (5-6 ms late on PostgreSQL runs). Far below a restart (seconds), so no send
# of the restarted process falls in it. The price: a real duplicate with no kill that reached
# the fake within the grace after a kill would pass as that kill's (20 kills: 5 s of a run of
# minutes), and with two replicas a send of the other one in the window counts on this kill.
ISSUE_KILLS = 20  # must-show 3's run: at least this many kills, duplicate sends <= kills
KILL_GRACE = 0.25


# --- the people ---------------------------------------------------------------------------


@dataclass
class Msg:
    key: Any  # Telegram message_id / Slack ts
    text: str
    buttons: list[str]


class TelegramChat:
    """An employee's private chat on the fake Telegram."""

    platform = "telegram"

    def __init__(self, fake: FakeTelegram, person: Person) -> None:
        self.fake, self.person = fake, person

    def snapshot(self) -> list[Msg]:
        return [Msg(m["message_id"], m.get("text") or m.get("caption") or "", [b["text"] for b in buttons_of(m)])
                for m in self.fake.bot_messages(self.person.id)]

    async def say(self, text: str) -> None:
        await self.person.says(text)  # queued; the fake's webhook loop redelivers until answered 200

    async def press(self, key: Any, label: str) -> None:
        await self.person.presses(BotMessage(self.fake, self.person.id, key), label)


class SlackChat:
    """An employee's DM with the app on the fake Slack."""

    platform = "slack"

    def __init__(self, fake: FakeSlack, user: SlackUser, stop: asyncio.Event) -> None:
        self.fake, self.user, self.stop = fake, user, stop
        self.channel = fake.dm_id(user.id)

    def snapshot(self) -> list[Msg]:
        out = []
        for m in self.fake.bot_messages(self.channel):
            view = SlackMessage(self.fake, self.channel, m["ts"])
            out.append(Msg(m["ts"], view.text, view.buttons))
        return out

    async def say(self, text: str) -> None:
        # Slack retries an event until it is acked; unlimited here, 0.2 s apart.
        await self.user.says(text, retries=10**9, retry_delay=SLACK_RETRY_DELAY)

    async def press(self, key: Any, label: str) -> None:
        await press_slack(self.fake, self.user, SlackMessage(self.fake, self.channel, key), label)


async def press_slack(fake: FakeSlack, user: SlackUser, message: SlackMessage, label: str) -> None:
    """A click; Slack does not retry interactions, the person clicks again until it works."""
    action = await user.presses(message, label)
    post = action.post
    deadline = time.monotonic() + STEP_TIMEOUT
    while post is not None and not post.ok and time.monotonic() < deadline:
        await asyncio.sleep(SLACK_RETRY_DELAY)  # a person's pause before clicking again
        post = await fake.post_raw(post.body, post.headers["Content-Type"], kind=post.kind)


def claimed_copy(n: int, cards: list[tuple[int, Any, list[str]]]) -> Any | None:
    """The key of a card of ticket ``n`` (of ``(ticket, key, buttons)`` in the queue) that shows
    the agent's claim took effect: it has buttons, and Claim is no longer one of them; None
    while there is none. Any copy, not only the card pressed: after a kill a card may have been
    sent twice, and the copy the agent pressed may be the duplicate the desk never recorded,
    so never edits. Waiting for that one to change held the whole run for STEP_TIMEOUT (a
    smoke run ~150 s longer whenever it happened), and the agent's reply in its thread would
    go to a message the desk does not know; so the agent goes on in the copy returned."""
    return next((key for ticket, key, buttons in cards if ticket == n and buttons and "Claim" not in buttons),
                None)


@dataclass
class LoadStats:
    requests: int = 0
    told: int = 0
    abandoned: int = 0
    claims: int = 0
    replies: int = 0
    resolves: int = 0


class Load:
    """Employees filing requests and agents working the IT queue, until :meth:`stop`."""

    def __init__(self, telegram: FakeTelegram, slack: FakeSlack, rng: random.Random, *,
                 telegram_employees: int, slack_employees: int) -> None:
        self.telegram, self.slack, self.rng = telegram, slack, rng
        self.stopping = asyncio.Event()
        self.stats = LoadStats()
        self.chats: list[TelegramChat | SlackChat] = []
        for i in range(telegram_employees):
            person = telegram.user(700_001 + i, f"Employee{i}", language_code="en")
            self.chats.append(TelegramChat(telegram, person))
        for i in range(slack_employees):
            user = slack.user(f"U7{i:06d}", f"Slack Employee{i}", locale="en-US")
            self.chats.append(SlackChat(slack, user, self.stopping))
        self.boris = Person(telegram, telegram.users[BORIS_TELEGRAM])
        slack.join(IT_SLACK, VERA_SLACK)
        self.vera = SlackUser(slack, slack.users[VERA_SLACK])
        self.tasks: list[asyncio.Task[None]] = []
        self._agent_tasks: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self.tasks = [asyncio.create_task(self._employee(i, chat)) for i, chat in enumerate(self.chats)]
        self.tasks += [asyncio.create_task(self._telegram_agent()), asyncio.create_task(self._slack_agent())]

    async def stop(self, timeout: float = SETTLE_TIMEOUT) -> None:
        """Stop starting anything new; let the flows in hand finish."""
        self.stopping.set()
        pending = [*self.tasks, *self._agent_tasks]
        _, late = await asyncio.wait(pending, timeout=timeout)
        for task in late:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    # --- employees ----------------------------------------------------------------------

    async def _employee(self, index: int, chat: TelegramChat | SlackChat) -> None:
        await asyncio.sleep(self.rng.uniform(0, 1.0))  # not all at once
        n = 0
        while not self.stopping.is_set():
            n += 1
            ref = f"R{index}x{n}"
            self.stats.requests += 1
            ticket = await self._file(chat, f"{ref} {self.rng.choice(PROBLEMS)}", ref)
            if ticket is None:
                self.stats.abandoned += 1
            else:
                self.stats.told += 1
            await asyncio.sleep(self.rng.uniform(0.2, 1.5))  # a person's pace between requests

    async def _file(self, chat: TelegramChat | SlackChat, text: str, ref: str) -> int | None:
        before = {m.key for m in chat.snapshot()}
        pressed: set[tuple[Any, str]] = set()

        def next_step() -> int | tuple[Any, str] | None:
            new = [m for m in chat.snapshot() if m.key not in before]
            for m in new:
                found = CREATED.search(m.text)
                if found and found.group(2) == ref:
                    return int(found.group(1))
            for prefix in PRESS_ORDER:
                for m in reversed(new):
                    for label in m.buttons:
                        if label.startswith(prefix) and (m.key, label) not in pressed:
                            return m.key, label
            return None

        await chat.say(text)
        deadline = time.monotonic() + STEP_TIMEOUT
        while True:
            step = next_step()
            if isinstance(step, int):
                return step
            if step is not None:
                pressed.add(step)
                await chat.press(*step)
                deadline = time.monotonic() + STEP_TIMEOUT
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                await chat.fake.wait_for(lambda: next_step() is not None, min(left, 5.0))
            except TimeoutError:
                pass

    # --- agents -------------------------------------------------------------------------

    def _mine(self, n: int, platform: str) -> bool:
        """Every fourth ticket stays unclaimed; boris takes the odd ones, vera the rest."""
        if n % 4 == 0:
            return False
        return (n % 2 == 1) == (platform == "telegram")

    def _telegram_all_cards(self) -> list[tuple[int, int, list[str]]]:
        """(ticket, message id, buttons) of the bot's messages in the IT group that start with a
        ticket number: cards, re-posts (and the desk's "#N is yours.")."""
        out = []
        for m in self.telegram.bot_messages(IT_TELEGRAM):
            found = re.match(r"(?:⏰ )?#(\d+)\b", m.get("text") or "")
            if found:
                out.append((int(found.group(1)), m["message_id"], [b["text"] for b in buttons_of(m)]))
        return out

    def _telegram_cards(self, taken: set[int]) -> list[tuple[int, int]]:
        """(ticket, message id) of the cards and re-posts in the IT group boris may claim."""
        return [(n, key) for n, key, buttons in self._telegram_all_cards()
                if "Claim" in buttons and n not in taken and self._mine(n, "telegram")]

    async def _telegram_agent(self) -> None:
        taken: set[int] = set()
        while not self.stopping.is_set():
            for n, message_id in self._telegram_cards(taken):
                if n not in taken:
                    taken.add(n)
                    self._spawn(self._work_telegram(n, message_id))
            try:
                await self.telegram.wait_for(lambda: self.stopping.is_set() or self._telegram_cards(taken), 1.0)
            except TimeoutError:
                pass

    async def _work_telegram(self, n: int, card_id: int) -> None:
        fake, group = self.telegram, self.telegram.chats[IT_TELEGRAM]
        card = BotMessage(fake, IT_TELEGRAM, card_id)
        await self.boris.presses(card, "Claim", chat=group)
        self.stats.claims += 1
        try:
            card_id = await fake.wait_for(lambda: claimed_copy(n, self._telegram_all_cards()), STEP_TIMEOUT)
        except TimeoutError:
            return
        await self.boris.says(f"Looking into #{n} now", chat=group, reply_to=card_id)
        self.stats.replies += 1
        await asyncio.sleep(self.rng.uniform(0.2, 1.0))  # an agent's pace
        await self.boris.says("/resolve Fixed, please check", chat=group, reply_to=card_id)
        self.stats.resolves += 1

    def _slack_all_cards(self) -> list[tuple[int, str, list[str]]]:
        """(ticket, ts, buttons) of the bot's top-level messages in the IT channel that name a
        ticket: its cards (and whatever else the desk posts there about one)."""
        out = []
        for m in self.slack.bot_messages(IT_SLACK):
            if m.get("thread_ts") not in (None, m["ts"]):
                continue  # a reply in a thread
            view = SlackMessage(self.slack, IT_SLACK, m["ts"])
            found = re.search(r"#(\d+)\b", view.text)
            if found:
                out.append((int(found.group(1)), m["ts"], view.buttons))
        return out

    def _slack_cards(self, taken: set[int]) -> list[tuple[int, str]]:
        """(ticket, ts) of the cards and re-posts in the IT channel vera may claim."""
        return [(n, key) for n, key, buttons in self._slack_all_cards()
                if "Claim" in buttons and n not in taken and self._mine(n, "slack")]

    async def _slack_agent(self) -> None:
        taken: set[int] = set()
        while not self.stopping.is_set():
            for n, ts in self._slack_cards(taken):
                if n not in taken:
                    taken.add(n)
                    self._spawn(self._work_slack(n, ts))
            try:
                await self.slack.wait_for(lambda: self.stopping.is_set() or self._slack_cards(taken), 1.0)
            except TimeoutError:
                pass

    async def _work_slack(self, n: int, ts: str) -> None:
        fake = self.slack
        card = SlackMessage(fake, IT_SLACK, ts)
        await press_slack(fake, self.vera, card, "Claim")
        self.stats.claims += 1
        try:
            ts = await fake.wait_for(lambda: claimed_copy(n, self._slack_all_cards()), STEP_TIMEOUT)
        except TimeoutError:
            return
        await self.vera.says(f"Looking into #{n} now", channel=IT_SLACK, thread_ts=ts,
                             retries=10**9, retry_delay=SLACK_RETRY_DELAY)
        self.stats.replies += 1
        await asyncio.sleep(self.rng.uniform(0.2, 1.0))
        await self.vera.says("/resolve Fixed, please check", channel=IT_SLACK, thread_ts=ts,
                             retries=10**9, retry_delay=SLACK_RETRY_DELAY)
        self.stats.resolves += 1

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._agent_tasks.add(task)
        task.add_done_callback(self._agent_tasks.discard)


# --- watching the replicas ----------------------------------------------------------------


def sends_total(metrics: str) -> float:
    """The sum of ``deskbot_sends_total`` (every platform call the outbox worker made)."""
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith("deskbot_sends_total{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


@dataclass
class Watch:
    """/healthz and /metrics of every replica, sampled while the chaos runs."""

    samples: int = 0
    two_runners: int = 0  # samples in which two processes said they were the runner
    split_holder: int = 0  # samples in which the live processes named different holders
    jobs_outside_runner: int = 0  # a process not the runner listing scheduled jobs
    spanning_kill: int = 0  # looks a kill fell inside (not judged for two runners)
    was_runner: dict[int, bool] = field(default_factory=dict)  # pid -> seen as the runner
    sends: dict[int, float] = field(default_factory=dict)  # pid -> last deskbot_sends_total

    async def sample(self, session: aiohttp.ClientSession, bots: list[BotProcess],
                     kills: list[Any] | None = None) -> None:
        """One look at every live replica. The replicas are asked one after the other, so when
        a kill (``kills`` grew) falls inside the look, a runner that answered before it died
        and its successor that answered after are not two runners at once: such a look
        counts for the counters but not for the runner checks."""
        kills_before = len(kills) if kills is not None else 0
        reports = []
        for bot in bots:
            if not bot.alive:
                continue
            answer = await bot.health(session)
            metrics = await bot.metrics(session)
            if answer is None:
                continue
            report = answer[1]
            pid = int(report.get("pid", 0))
            runner = report.get("runner", {})
            self.was_runner[pid] = self.was_runner.get(pid, False) or bool(runner.get("is_runner"))
            if not runner.get("is_runner") and report.get("scheduler", {}).get("jobs"):
                self.jobs_outside_runner += 1
            if metrics is not None:
                self.sends[pid] = sends_total(metrics)
            reports.append(runner)
        if kills is not None and len(kills) != kills_before:
            self.spanning_kill += 1
            return
        self.samples += 1
        if sum(bool(r.get("is_runner")) for r in reports) > 1:
            self.two_runners += 1
        holders = {r.get("holder") for r in reports if r.get("holder")}
        if len(holders) > 1:
            self.split_holder += 1

    @property
    def standby_sends(self) -> float:
        """Platform calls made by processes never seen as the runner."""
        return sum(n for pid, n in self.sends.items() if not self.was_runner.get(pid))


# --- the run ------------------------------------------------------------------------------


@dataclass
class Options:
    kills: int = 20
    db: str = "sqlite"
    replicas: int = 1
    seed: int = 12
    telegram_employees: int = 6
    slack_employees: int = 4
    gap: tuple[float, float] = (0.5, 4.0)  # seconds from healthy to the next kill
    tail: float = 5.0  # seconds of load after the last kill


@dataclass
class Chaos:
    kills: list[tuple[float, str, bool]] = field(default_factory=list)  # (monotonic, replica, was runner)
    takeovers: list[float] = field(default_factory=list)  # seconds until the other replica ran
    restarts: list[float] = field(default_factory=list)  # seconds from SIGKILL to healthy again
    watch: Watch = field(default_factory=Watch)
    load: LoadStats = field(default_factory=LoadStats)
    elapsed: float = 0.0
    proxy_502: int = 0
    webhook_posts: int = 0
    slack_posts: int = 0
    books: dict[str, Any] = field(default_factory=dict)


async def is_runner(session: aiohttp.ClientSession, bot: BotProcess) -> bool:
    answer = await bot.health(session)
    return answer is not None and bool(answer[1].get("runner", {}).get("is_runner"))


async def wait_until(predicate: Any, timeout: float, what: str, every: float = 0.2) -> None:
    """A bounded poll of a process we do not share a loop with (its /healthz, the database)."""
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(every)


async def run(opts: Options, workdir: Path) -> Chaos:
    chaos = Chaos()
    rng = random.Random(opts.seed)
    telegram, slack = await start_fakes()
    populate(telegram, slack)
    config = write_config(workdir / "config.yaml", slack.base_url)
    db_url = await fresh_database(opts.db, workdir)
    await migrate(db_url)
    bots = [BotProcess(f"replica{i + 1}", config, db_url, workdir, telegram.base_url) for i in range(opts.replicas)]
    proxy = await Proxy([b.url for b in bots]).start()
    telegram.proxy_url = proxy.url + "/telegram/webhook"
    slack.request_url = proxy.url + "/slack/events"
    started = time.monotonic()
    session = aiohttp.ClientSession()
    load: Load | None = None
    watching = asyncio.Event()
    try:
        await asyncio.gather(*(b.start() for b in bots))
        await asyncio.gather(*(b.wait_healthy(session) for b in bots))
        await telegram.wait_call("setWebhook", timeout=60)

        async def watch() -> None:
            while not watching.is_set():
                await chaos.watch.sample(session, bots, chaos.kills)
                try:
                    await asyncio.wait_for(watching.wait(), 0.5)
                except TimeoutError:
                    pass

        watcher = asyncio.create_task(watch())
        load = Load(telegram, slack, rng, telegram_employees=opts.telegram_employees,
                    slack_employees=opts.slack_employees)
        load.start()
        for k in range(opts.kills):
            await asyncio.sleep(rng.uniform(*opts.gap))
            if opts.replicas == 1:
                victim = bots[0]
            elif k == opts.kills // 2:  # the runner, once, mid-run
                runners = [b for b in bots if await is_runner(session, b)]
                victim = runners[0] if runners else bots[0]
            else:
                victim = rng.choice(bots)
            was_runner = await is_runner(session, victim)
            await chaos.watch.sample(session, bots)  # its last counters before it dies
            killed = time.monotonic()
            await victim.kill()
            chaos.kills.append((killed, victim.name, was_runner))
            others = [b for b in bots if b is not victim]
            if was_runner and others:
                async def taken_over() -> bool:
                    return any([await is_runner(session, b) for b in others])

                await wait_until(taken_over, 60, "no replica took over the runner role")
                chaos.takeovers.append(time.monotonic() - killed)
            await victim.start()
            await victim.wait_healthy(session)
            chaos.restarts.append(time.monotonic() - killed)
        await asyncio.sleep(opts.tail)
        await load.stop()
        chaos.load = load.stats
        # A clean restart of every replica: the runner's start runs the sweep once more, after
        # the last ticket was filed, so every ticket still unclaimed is owed its re-post.
        for bot in bots:
            await bot.terminate()
        await asyncio.gather(*(b.start() for b in bots))
        await asyncio.gather(*(b.wait_healthy(session) for b in bots))
        await settle(session, bots, telegram, slack)
        watching.set()
        await watcher
        await chaos.watch.sample(session, bots)
        for bot in bots:
            await bot.terminate()
        chaos.elapsed = time.monotonic() - started
        chaos.proxy_502 = proxy.failed
        chaos.webhook_posts = len(telegram.webhook_posts)
        chaos.slack_posts = len(slack.posts)
        chaos.books = await books(db_url, telegram, slack, chaos.kills)
    finally:
        watching.set()
        if load is not None and not load.stopping.is_set():
            await load.stop(timeout=1)
        for bot in bots:
            await bot.close()
        await session.close()
        await proxy.close()
        await telegram.close()
        await slack.close()
        await drop_database(db_url)
    return chaos


async def settle(session: aiohttp.ClientSession, bots: list[BotProcess], telegram: FakeTelegram,
                 slack: FakeSlack) -> None:
    """Wait until the runner ran the sweep since its start and delivered everything."""
    async def runner_report() -> dict[str, Any] | None:
        for bot in bots:
            answer = await bot.health(session)
            if answer is not None and answer[1].get("runner", {}).get("is_runner"):
                return answer[1]
        return None

    async def swept_and_delivered() -> bool:
        report = await runner_report()
        return (report is not None and report["scheduler"]["runs"].get("sweep", 0) >= 1
                and report["outbox"]["backlog"] == 0 and not telegram.updates)

    await wait_until(swept_and_delivered, SETTLE_TIMEOUT, "the outbox did not drain after the last start")


# --- the books ----------------------------------------------------------------------------


def _repost(text: str, n: int) -> bool:
    return text.startswith(f"⏰ #{n} ") and "nobody has taken it" in text


async def books(db_url: str, telegram: FakeTelegram, slack: FakeSlack,
                kills: list[tuple[float, str, bool]]) -> dict[str, Any]:
    from sqlmodel import select

    from store.db import Database
    from store.inbox import stored_key
    from store.models import InboxEvent, OutboxMessage, ScheduledAction, Status, Ticket, TicketPost

    db = Database(db_url)
    try:
        async with db.transaction() as s:
            tickets = list((await s.exec(select(Ticket))).all())
            rows = list((await s.exec(select(OutboxMessage).order_by(OutboxMessage.id))).all())
            posts = list((await s.exec(select(TicketPost))).all())
            actions = list((await s.exec(select(ScheduledAction))).all())
            inbox = set((await s.exec(select(InboxEvent.event_key))).all())
    finally:
        await db.dispose()

    # Inbound: every update and event the fakes delivered (or tried to) was handled, once:
    # its key is in inbox_event, written in the transaction of its effect.
    sent_in: set[str] = {f"telegram:{telegram.bot_id}:{uid}" for uid in telegram.pushed}
    for post in slack.posts:
        if post.kind == "event_callback" and post.event_id:
            sent_in.add(f"slack:{slack.team_id}:{post.event_id}")
        elif post.kind == "block_actions":
            for action in post.payload.get("actions", []):
                sent_in.add(f"slack:{slack.team_id}:action:{action.get('action_ts')}")
    inbound_lost = sorted(k for k in sent_in if stored_key(k) not in inbox)

    def slack_channel(chat_id: str) -> str:
        return chat_id if chat_id[:1] in ("C", "D", "G") else slack.dm_id(chat_id)

    # Messages at the fakes: (platform, chat, id) -> first text.
    at_fake: dict[tuple[str, str, str], str] = {}
    for chat_id in list(telegram.messages):
        for m in telegram.bot_messages(chat_id, include_deleted=True):
            history = m.get("_history") or [m.get("text") or m.get("caption") or ""]
            at_fake[("telegram", str(chat_id), str(m["message_id"]))] = history[0]
    for channel in list(slack.messages):
        for m in slack.bot_messages(channel):
            view = SlackMessage(slack, channel, m["ts"])
            at_fake[("slack", channel, str(m["ts"]))] = view.history[0]

    # Tickets: what requesters were told, against the database.
    told: dict[str, set[int]] = defaultdict(set)
    for (platform, chat, _), text in at_fake.items():
        if (platform == "telegram" and int(chat) > 0) or (platform == "slack" and chat.startswith("D")):
            for found in CREATED.finditer(text):
                told[found.group(2)].add(int(found.group(1)))
    by_id = {t.id: t for t in tickets}
    refs = Counter(m.group(1) for t in tickets if (m := REF.search(t.subject)))
    lost_tickets = sum(1 for ref, ns in told.items() for n in ns
                       if n not in by_id or (REF.search(by_id[n].subject) or [None, None])[1] != ref)
    duplicated_tickets = sum(c - 1 for c in refs.values() if c > 1) + sum(len(ns) - 1 for ns in told.values())
    untold = sum(1 for t in tickets if (m := REF.search(t.subject)) and m.group(1) not in told)

    # Notifications: every row sent and at the fake; every message at the fake a row's.
    status = Counter(str(r.status) for r in rows)
    undelivered = sum(n for st, n in status.items() if st not in ("sent", "superseded"))
    recorded: set[tuple[str, str, str]] = set()
    missing = 0
    for r in rows:
        if str(r.status) != "sent" or not r.message_id:
            continue
        chat = slack_channel(r.chat_id) if r.platform == "slack" else r.chat_id
        key = (r.platform, chat, str(r.message_id))
        recorded.add(key)
        if key not in at_fake:
            missing += 1
    for p in posts:
        chat = slack_channel(p.chat_id) if p.platform == "slack" else p.chat_id
        recorded.add((p.platform, chat, str(p.message_id)))
        if p.thread_id:
            recorded.add((p.platform, chat, str(p.thread_id)))
    orphans = [key for key in at_fake if key not in recorded]
    texts_recorded: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for key in recorded:
        if key in at_fake:
            texts_recorded[key[:2]][at_fake[key]] += 1
    duplicates = [key for key in orphans if texts_recorded[key[:2]][at_fake[key]] > 0]
    unexplained = [key for key in orphans if key not in set(duplicates)]
    sent_at = send_times(telegram, slack)
    per_kill: Counter[int] = Counter()
    per_kill_chat: Counter[tuple[int, str, str]] = Counter()
    kill_times = [killed for killed, _, _ in kills]
    for key in duplicates:
        i = attribute(kill_times, sent_at.get(key))
        per_kill[i] += 1
        per_kill_chat[(i, key[0], key[1])] += 1

    # Reminders: each re-post the sweep recorded has one outbox row per chat it was written
    # for, and that row's message is at the fake (a second copy sent after a kill is a
    # duplicate send, counted above, not a second reminder).
    reposted = Counter(a.ticket_id for a in actions if a.kind == "unclaimed_repost")
    repost_rows: Counter[tuple[str, str, int]] = Counter()
    for r in rows:
        if r.ticket_id is not None and _repost(str(r.payload.get("text", "")), r.ticket_id):
            chat = slack_channel(r.chat_id) if r.platform == "slack" else r.chat_id
            repost_rows[(r.platform, chat, r.ticket_id)] += 1
    repost_seen: Counter[tuple[str, str, int]] = Counter()
    for key in recorded:
        text = at_fake.get(key)
        found = re.match(r"⏰ #(\d+) ", text or "")
        if text and found and _repost(text, int(found.group(1))):
            repost_seen[(key[0], key[1], int(found.group(1)))] += 1
    reminders_lost = sum(1 for n in reposted if not any(k[2] == n for k in repost_rows)) + sum(
        1 for key in repost_rows if repost_seen[key] == 0)
    reminders_doubled = (sum(c - 1 for c in reposted.values() if c > 1)
                         + sum(c - 1 for c in repost_rows.values() if c > 1)
                         + sum(c - 1 for c in repost_seen.values() if c > 1)
                         + sum(1 for key in repost_seen if key[2] not in reposted))
    unclaimed = [t.id for t in tickets if t.assignee_id is None and str(t.status) == Status.NEW]
    reminders_missed = sum(1 for n in unclaimed if n not in reposted)
    return {
        "inbound": len(sent_in), "inbound_lost": len(inbound_lost), "inbound_lost_sample": inbound_lost[:3],
        "tickets": len(tickets), "told": sum(len(ns) for ns in told.values()), "lost_tickets": lost_tickets,
        "duplicated_tickets": duplicated_tickets, "tickets_not_told": untold,
        "outbox_rows": len(rows), "outbox_status": dict(status), "undelivered": undelivered,
        "missing_at_fake": missing, "messages_at_fake": len(at_fake), "duplicates_sent": len(duplicates),
        "duplicates_per_kill_max": max((n for i, n in per_kill.items() if i >= 0), default=0),
        "duplicates_after_last_kill": per_kill.get(-1, 0), "unexplained_messages": len(unexplained),
        "duplicates_per_kill_chat_max": max(per_kill_chat.values(), default=0),
        "kills_with_duplicates": sum(1 for i in per_kill if i >= 0),
        "unexplained_sample": [at_fake[k][:80] for k in unexplained[:3]],
        "reposts_recorded": len(reposted), "reposts_at_fake": sum(repost_seen.values()),
        "reminders_lost": reminders_lost, "reminders_doubled": reminders_doubled,
        "reminders_missed": reminders_missed, "unclaimed_at_end": len(unclaimed),
        "scheduled_actions": dict(Counter(a.kind for a in actions)),
    }


def attribute(kill_times: list[float], t: float | None, grace: float = KILL_GRACE) -> int:
    """The kill a duplicate send at time ``t`` is owed to: the index of the first kill at or
    after ``t - grace`` (kills in the order made, on the fakes' monotonic clock), or -1 when
    there is none (or the send's time is unknown): a duplicate with no kill."""
    if t is None:
        return -1
    return next((i for i, killed in enumerate(kill_times) if killed >= t - grace), -1)


def send_times(telegram: FakeTelegram, slack: FakeSlack) -> dict[tuple[str, str, str], float]:
    """When each bot message was sent (the fakes' clock is time.monotonic(), as the kills')."""
    out: dict[tuple[str, str, str], float] = {}
    for call in telegram.calls:
        result = call.result if call.ok else None
        if isinstance(result, dict) and "message_id" in result and "chat" in result:
            out.setdefault(("telegram", str(result["chat"]["id"]), str(result["message_id"])), call.time)
    for call in slack.calls:
        if call.method == "chat.postMessage" and call.ok:
            out.setdefault(("slack", str(call.response.get("channel")), str(call.response.get("ts"))), call.time)
    return out


# --- the report ---------------------------------------------------------------------------


def verdict(opts: Options, chaos: Chaos) -> list[str]:
    """The failed conditions (empty: PASS)."""
    b = chaos.books
    kills = len(chaos.kills)
    checks = [
        (kills >= opts.kills, f"kills {kills} < {opts.kills}"),
        (b["told"] > 0, "no ticket was filed: the load did not run"),
        (b["lost_tickets"] == 0, f"{b['lost_tickets']} lost tickets"),
        (b["inbound_lost"] == 0, f"{b['inbound_lost']} inbound events never handled {b['inbound_lost_sample']}"),
        (b["duplicated_tickets"] == 0, f"{b['duplicated_tickets']} duplicated tickets"),
        (b["undelivered"] == 0, f"{b['undelivered']} outbox rows not delivered"),
        (b["missing_at_fake"] == 0, f"{b['missing_at_fake']} rows recorded sent but not at the fake"),
        # A chat has at most one send in flight (one lane per chat), so a kill can make at most
        # one duplicate per chat; none may appear without a kill.
        (b["duplicates_per_kill_chat_max"] <= 1,
         f"{b['duplicates_per_kill_chat_max']} duplicates in one chat after one kill"),
        (b["duplicates_after_last_kill"] == 0, f"{b['duplicates_after_last_kill']} duplicates with no kill"),
        # Issue 12, must-show 3: duplicates sent <= kills over a run of the issue's 20 kills or
        # more. A kill can duplicate one send per chat in flight, so a smoke of one to three
        # kills may see two at one kill; the per-chat bound above holds for every run.
        (kills < ISSUE_KILLS or b["duplicates_sent"] <= kills,
         f"{b['duplicates_sent']} duplicate sends > {kills} kills"),
        (b["unexplained_messages"] == 0, f"{b['unexplained_messages']} messages at the fake no row explains"),
        (b["reminders_lost"] == 0, f"{b['reminders_lost']} re-posts lost"),
        (b["reminders_doubled"] == 0, f"{b['reminders_doubled']} re-posts doubled"),
        (b["reminders_missed"] == 0, f"{b['reminders_missed']} unclaimed tickets never re-posted"),
    ]
    if opts.replicas > 1:
        w = chaos.watch
        checks += [
            (w.two_runners == 0, f"two runners at once in {w.two_runners} samples"),
            (w.jobs_outside_runner == 0, f"jobs scheduled outside the runner in {w.jobs_outside_runner} samples"),
            (w.standby_sends == 0, f"{w.standby_sends:.0f} sends by processes never the runner"),
            (len(chaos.takeovers) >= 1, "the runner was never killed: no takeover seen"),
        ]
    return [why for ok, why in checks if not ok]


def report(opts: Options, chaos: Chaos) -> bool:
    b, load = chaos.books, chaos.load
    print(f"chaos: {opts.db}, {opts.replicas} replica(s), seed {opts.seed}, "
          f"{opts.telegram_employees} Telegram + {opts.slack_employees} Slack employees, 2 agents; "
          f"fakes' rate limits off, senders' pacing raised (bench/_chaos_bot.py)")
    restarts = sorted(chaos.restarts)
    print(f"  kills (SIGKILL)            {len(chaos.kills)}"
          + (f"   (of the runner: {sum(1 for *_, r in chaos.kills if r)})" if opts.replicas > 1 else "")
          + (f"   restart to healthy p50 {restarts[len(restarts) // 2]:.1f} s, max {restarts[-1]:.1f} s"
             if restarts else ""))
    if chaos.takeovers:
        print(f"  takeovers                  {len(chaos.takeovers)}   (max {max(chaos.takeovers):.1f} s to a new runner)")
    print(f"  load                       {load.requests} requests, {load.told} told '#N created' in the flow, "
          f"{load.abandoned} abandoned; {load.claims} claims, {load.replies} agent replies, {load.resolves} resolves")
    print(f"  inbound                    {chaos.webhook_posts} Telegram webhook posts, {chaos.slack_posts} Slack posts, "
          f"{chaos.proxy_502} answered 502 by the proxy (redelivered)")
    print(f"  inbound events lost        {b['inbound_lost']}   (of {b['inbound']} updates/events/presses delivered; "
          f"handled = key in inbox_event; baseline 0) {b['inbound_lost_sample']}")
    print(f"  tickets                    {b['tickets']} in the database, {b['told']} told to their requester")
    print(f"  lost tickets               {b['lost_tickets']}   (baseline 0)")
    print(f"  duplicated tickets         {b['duplicated_tickets']}   (baseline 0)")
    print(f"  outbox rows                {b['outbox_rows']}  {b['outbox_status']}")
    print(f"  lost notifications         {b['undelivered'] + b['missing_at_fake']}   "
          f"(not sent {b['undelivered']}, sent but not at the fake {b['missing_at_fake']}; baseline 0)")
    within = "within" if b["duplicates_sent"] <= len(chaos.kills) else "OVER"
    print(f"  duplicates sent            {b['duplicates_sent']}   ({within} the issue's bound <= kills = {len(chaos.kills)}; "
          f"after {b['kills_with_duplicates']} of the kills, at most {b['duplicates_per_kill_max']} after one, "
          f"at most {b['duplicates_per_kill_chat_max']} per chat per kill (allowed 1))")
    print(f"  unexplained messages       {b['unexplained_messages']}  {b['unexplained_sample']}")
    print(f"  re-posts                   {b['reposts_recorded']} recorded, {b['reposts_at_fake']} at the fakes; "
          f"lost {b['reminders_lost']}, doubled {b['reminders_doubled']}, "
          f"unclaimed never re-posted {b['reminders_missed']} (of {b['unclaimed_at_end']} unclaimed)")
    if opts.replicas > 1:
        w = chaos.watch
        print(f"  runner                     {w.samples} /healthz samples ({w.spanning_kill} more spanned a kill: "
              f"not judged): two runners at once {w.two_runners}, "
              f"split holder {w.split_holder}, jobs outside the runner {w.jobs_outside_runner}; "
              f"sends by never-runner processes {w.standby_sends:.0f} "
              f"({sum(1 for r in w.was_runner.values() if not r)} of {len(w.was_runner)} processes never ran)")
    print(f"  elapsed                    {chaos.elapsed:.0f} s")
    failed = verdict(opts, chaos)
    print("PASS" if not failed else "FAIL: " + "; ".join(failed))
    return not failed


def parse(argv: list[str] | None = None) -> Options:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kills", type=int, default=None, help="SIGKILLs (default 20; --smoke 3)")
    p.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--replicas", type=int, choices=(1, 2), default=1)
    p.add_argument("--seed", type=int, default=12)
    p.add_argument("--smoke", action="store_true",
                   help="3 kills (1 with --replicas 2: the runner), a small load; SQLite unless --db says otherwise")
    args = p.parse_args(argv)
    if args.replicas > 1 and args.db == "sqlite":
        p.error("--replicas 2 needs --db postgresql (one runner lock shared by processes on one server)")
    opts = Options(db=args.db, replicas=args.replicas, seed=args.seed)
    if args.smoke:  # two replicas: one kill, of the runner (each start of deskbot run costs seconds)
        opts.kills = 3 if opts.replicas == 1 else 1
        opts.telegram_employees, opts.slack_employees = 2, 2
        opts.gap, opts.tail = (0.5, 1.5), 1.0
    if args.kills is not None:
        if args.kills < 0:
            p.error("--kills must be >= 0")
        opts.kills = args.kills
    return opts


def main(argv: list[str] | None = None) -> int:
    opts = parse(argv)
    with tempfile.TemporaryDirectory(prefix="deskbot-chaos-") as tmp:
        try:
            chaos = asyncio.run(run(opts, Path(tmp)))
        except Exception as exc:
            logs = sorted(Path(tmp).glob("*.log"))
            tail = logs[0].read_text(errors="replace")[-3000:] if logs else ""
            traceback.print_exc()
            print(f"FAIL: the chaos run broke off: {type(exc).__name__}: {exc}\n{tail}")
            return 1
        return 0 if report(opts, chaos) else 1


if __name__ == "__main__":
    sys.exit(main())
