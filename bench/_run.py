"""Process plumbing for the bench scripts: real ``deskbot run`` processes against the fakes.

Everything a load, chaos or replica bench needs, importable (``from bench._run import ...``;
run the scripts from the repository root, this module puts it on ``sys.path``)::

    async with Fakes(rate_limits=False) as fakes:              # Telegram + Slack on loopback
        db = await fresh_database("sqlite", tmp)                # or "postgres": CREATE DATABASE
        cfg = write_config(tmp / "desk.yaml", fakes, db.url)    # a desk on both platforms
        bot = await DeskbotProcess.start(cfg, db.url, fakes, log_path=tmp / "bot.log")
        fakes.point_at(bot.url)                                 # webhooks go to this process
        pop = Population(fakes)
        flow = pop.flow("telegram")                             # a new employee
        step = await flow.next()                                # one inbound event, timed
        ...
        print(bot.peak_rss_mb())
        await bot.stop()                                        # SIGTERM (or bot.kill(): SIGKILL)
        await db.drop()

The pieces:

* :class:`Fakes` — ``tests/fakes`` FakeTelegram and FakeSlack in this process (subclasses
  :class:`LoadTelegram` / :class:`LoadSlack`). Every call the bot makes to them is passed
  to :meth:`Fakes.observe` callbacks the moment it is recorded, which is how a bench times
  "inbound request → the matching outbound call" (:class:`Expectations`). ``rate_limits``
  is passed to both fakes (``False``: no windows; the platforms' real limits are what
  ``bench/flood.py`` measures). ``retain_calls=False`` stops the fakes from keeping every
  call (memory in long runs; observers still see them).
* Inbound delivery. Telegram: with ``direct=True`` (the default) an update a simulated
  person produces is POSTed at once to the bot's webhook with the secret header, from the
  sending task, so 50 senders are 50 requests in flight (Telegram itself keeps up to
  ``max_connections`` = 40 open); the HTTP status is in :func:`last_status`. With
  ``direct=False`` the fake's own queue delivers one update at a time, in order, and retries
  an update until it got a 2xx (a refused connection — the bot is restarting — forever):
  that is Telegram's redelivery, for crash benches. Slack: every event / action is a
  signed POST to ``/slack/events`` (``FakeSlack.post_raw``); the fake records each answer
  in ``fakes.slack.posts`` and ``redeliver(post)`` sends it again like Slack does.
  :meth:`Fakes.point_at` sets both platforms' target to a running process (or another
  port: a proxy, a second replica).
* :func:`write_config` — a config file for a desk on both platforms (webhook mode, the
  public webhook URL registered with ``setWebhook`` is rewritten by :meth:`Fakes.point_at`
  as a reverse proxy would forward it), with ``agents`` agents (``agent1..N``). Teams come
  from ``Fakes(teams=N)``: 1 is the sample's IT team, its queue a Telegram group
  (:data:`TG_GROUP`) and a Slack channel (:data:`SLACK_CHANNEL`); more are bench teams
  ``desk0..N-1`` (:func:`bench_teams`), each with its own group and channel and one routing
  word, replacing the sample's teams and categories (deskbot delivers one message at a time
  per chat, so spreading requests over teams spreads the delivery lanes). Secrets go
  through the environment (:func:`desk_env`), as in production.
* :func:`fresh_database` — a new SQLite file or a new PostgreSQL database
  (``CREATE DATABASE`` on :data:`PG_SERVER`); ``await db.drop()`` removes it
  (``DROP DATABASE ... WITH (FORCE)``).
* :class:`DeskbotProcess` — ``python -m bot --config C run --listen 127.0.0.1:0 --db URL``
  as a child process: waits for its "listening on" line and ``/healthz`` 200
  (:meth:`~DeskbotProcess.wait_healthy`), ``stop()`` (SIGTERM, exit code), ``kill()``
  (SIGKILL), ``peak_rss_mb()`` (``VmHWM`` from ``/proc``, psutil's RSS elsewhere), logs to
  a file. ``paced=False`` runs the same command line through :mod:`bench._unpaced`, which
  only replaces the senders' rate policies by ``UNLIMITED`` (see there) — for throughput
  figures with the fakes' limits off; the default is the real ``deskbot run``.
* :class:`Population` — simulated employees (a new one per :meth:`Population.flow`, so no
  earlier ticket of theirs changes what the bot offers) and agents (config people
  ``agent1..N``, each with a Telegram id and a Slack id, members of the team group and
  channel). :class:`Flow` drives one request through its life, one inbound event per
  :meth:`Flow.next`: the request text, the taps (open a ticket, the category), the claim,
  the agent's reply, the requester's reply, the resolve; each returns a :class:`Step` with
  the HTTP status, the time of the request, of its answer and of the first matching
  outbound call at the fake (what the person would see), or an error. The primitive
  actions (``Employee.text``, ``tap``, ``Agent.claim``, ``Agent.reply``, ``Employee.reply``,
  ``Agent.resolve``) are usable on their own.

Nothing here sleeps to synchronise: waits are on the fakes' recorded calls (futures
resolved by the observers) or bounded polls of ``/healthz`` while a process starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import json
import os
import re
import signal
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import yaml  # noqa: E402

from handlers.texts import translator  # noqa: E402
from tests.fakes.slack import FakeSlack  # noqa: E402
from tests.fakes.telegram import FakeTelegram  # noqa: E402
from tests.support.slack import SlackMessage, SlackUser  # noqa: E402
from tests.support.telegram import BotMessage, Person  # noqa: E402

TG_TOKEN = "7311122233:AAH4xQ1rFz9Vb2lK8sTtY0pWmNcDe3fGhIj"
TG_SECRET = "wh_Q8f2LmZp4RtY7uVxK3nB9cD-bench"
PUBLIC_WEBHOOK = "https://desk.example.com/telegram/webhook"
SLACK_TOKEN = "xoxb-4471122334-5566778899001-BenchLoadTokenZr8Qv"
SLACK_SIGNING = "8f2b7c1d9e4a6b3c5d7e9f1a2b4c6d8e"
TG_GROUP = -1001000000001  # the IT team's Telegram group
SLACK_CHANNEL = "C00ITQUEUE"  # the IT team's Slack channel
PG_SERVER = os.environ.get("DESKBOT_TEST_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432")
SAMPLE_CONFIG = ROOT / "config.yaml"
LISTENING = re.compile(r"deskbot: listening on (http://127\.0\.0\.1:\d+)")
START_TIMEOUT = 120.0
FIRST_EMPLOYEE_TG = 800_000_001
FIRST_AGENT_TG = 900_000_001
LOCALE = "en"  # every simulated person writes English (the texts below)

en = translator(LOCALE)
CREATED = re.compile(r"#(\d+) created")
OPEN_LABEL = en("btn_open_ticket")
YES_PREFIX = en("btn_yes_category", category="").strip(" ,")
CLAIM_LABEL = en("btn_claim")


def _it_categories() -> tuple[str, ...]:
    """The titles of the IT team's categories, as the category question shows them."""
    data = yaml.safe_load(SAMPLE_CONFIG.read_text("utf-8"))
    return tuple(c["title"][LOCALE] for c in data["categories"].values()
                 if c.get("team") == "it" and not c.get("ask") and c["title"].get(LOCALE) != "Other")


IT_CATEGORIES = _it_categories()
TEAM_WORDS = ("printer", "vpn", "password", "outlook", "monitor", "wifi", "badge", "parking", "invoice",
              "vacation", "laptop", "license", "headset", "payslip", "contract", "furniture")


@dataclass(frozen=True)
class BenchTeam:
    """A team of the bench desk: its queue chats, the word that routes a request to it, and
    the title of its category (as the category question shows it)."""

    key: str
    tg_group: int
    slack_channel: str
    word: str | None  # None: the sample config's IT team (its own categories)
    titles: tuple[str, ...]

    def problem(self, n: int) -> str:
        if self.word is None:
            return PROBLEMS[n % len(PROBLEMS)]
        return f"my {self.word} does not work since this morning ({n})"


def bench_teams(teams: int) -> list[BenchTeam]:
    """One team: the sample config's IT team. More: ``desk0..N-1``, each with one category
    (routed by one word of :data:`TEAM_WORDS`) and its own Telegram group and Slack channel."""
    if teams <= 1:
        return [BenchTeam("it", TG_GROUP, SLACK_CHANNEL, None, IT_CATEGORIES)]
    if teams > len(TEAM_WORDS):
        raise ValueError(f"at most {len(TEAM_WORDS)} bench teams")
    return [BenchTeam(f"desk{i}", -1002000000001 - i, f"C0DESK{i:04d}", TEAM_WORDS[i],
                      (f"Desk {i} ({TEAM_WORDS[i]})",)) for i in range(teams)]

_status: contextvars.ContextVar[int] = contextvars.ContextVar("webhook_status", default=0)


def last_status() -> int:
    """The HTTP status of the last update this task POSTed through a ``direct`` LoadTelegram
    (0: the connection failed)."""
    return _status.get()


# --- the fakes -------------------------------------------------------------------------

Observer = Callable[[str, Any], None]


class ObservedCalls(list):  # type: ignore[type-arg]
    """The fakes' ``calls``: each appended call goes to the observers (and is kept while
    ``retain``)."""

    def __init__(self, platform: str) -> None:
        super().__init__()
        self.platform = platform
        self.observers: list[Observer] = []
        self.retain = True
        self.total = 0

    def append(self, call: Any) -> None:
        self.total += 1
        if self.retain:
            super().append(call)
        for observe in self.observers:
            observe(self.platform, call)


class LoadTelegram(FakeTelegram):
    """FakeTelegram with observed calls and, when ``direct``, updates POSTed at once."""

    def __init__(self, *, direct: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.calls = ObservedCalls("telegram")
        self.direct = direct

    async def push_update(self, update: dict[str, Any], *, redeliver: bool = False) -> dict[str, Any]:
        if not self.direct or self.webhook is None:
            return await super().push_update(update, redeliver=redeliver)
        update = dict(update)
        if not (redeliver and "update_id" in update):
            update["update_id"] = self._next_update_id
            self._next_update_id += 1
        self.pushed[update["update_id"]] = update
        query = update.get("callback_query")
        if query is not None and query["id"] not in self.callback_queries:
            self.callback_queries[query["id"]] = {"answer": None, "data": query.get("data"),
                                                  "user": query["from"]["id"]}
        status = await self.post_webhook(update, assign_id=False)
        _status.set(status)
        if 200 <= status < 300:
            self.confirmed_ids.add(update["update_id"])
        return update


class LoadSlack(FakeSlack):
    """FakeSlack with observed calls and an index for message lookups (the fake scans a
    channel's list; a queue channel with thousands of cards makes that quadratic)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.calls = ObservedCalls("slack")
        self._index: dict[str, tuple[int, dict[str, dict[str, Any]]]] = {}

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        listed = self.messages.get(channel, [])
        done, by_ts = self._index.get(channel, (0, {}))
        if done < len(listed):
            for m in listed[done:]:
                by_ts.setdefault(m["ts"], m)
            self._index[channel] = (len(listed), by_ts)
        return by_ts.get(ts)


class Fakes:
    """Both fake platforms on loopback, for one bench (``async with Fakes() as fakes``)."""

    def __init__(self, *, rate_limits: Any = False, direct: bool = True, retain_calls: bool = True,
                 telegram: bool = True, slack: bool = True, teams: int = 1) -> None:
        self.telegram = LoadTelegram(token=TG_TOKEN, rate_limits=rate_limits, direct=direct) if telegram else None
        self.slack = (LoadSlack(token=SLACK_TOKEN, signing_secret=SLACK_SIGNING, rate_limits=rate_limits)
                      if slack else None)
        self.retain_calls = retain_calls
        self.teams = bench_teams(teams)
        self.tg_groups: dict[int, Any] = {}
        self.slack_channels: dict[str, Any] = {}
        for team in self.teams:
            if self.telegram is not None:
                self.tg_groups[team.tg_group] = self.telegram.group(team.tg_group, f"{team.key} queue", forum=False)
            if self.slack is not None:
                self.slack_channels[team.slack_channel] = self.slack.channel(
                    team.slack_channel, f"{team.key}-queue", members=[])
        self.team_chats = {str(t.tg_group) for t in self.teams} | {t.slack_channel for t in self.teams}

    async def __aenter__(self) -> Fakes:
        if self.telegram is not None:
            await self.telegram.start()
            self.telegram._client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60),
                                                          connector=aiohttp.TCPConnector(limit=200))
            self.telegram.calls.retain = self.retain_calls
        if self.slack is not None:
            await self.slack.start()
            # The fake's HTTP client gives up after 10 s; a loaded bot may take longer to
            # answer, which is a slow answer, not a lost connection.
            self.slack._client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60),
                                                       connector=aiohttp.TCPConnector(limit=200))
            self.slack.calls.retain = self.retain_calls
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.telegram is not None:
            await self.telegram.close()
        if self.slack is not None:
            await self.slack.close()

    def observe(self, observer: Observer) -> None:
        """``observer(platform, call)`` for every call the bot makes from now on."""
        for fake in (self.telegram, self.slack):
            if fake is not None:
                fake.calls.observers.append(observer)

    def unobserve(self, observer: Observer) -> None:
        for fake in (self.telegram, self.slack):
            if fake is not None and observer in fake.calls.observers:
                fake.calls.observers.remove(observer)

    async def wait_webhook(self, timeout: float = 30.0) -> None:
        """Until the bot registered its Telegram webhook (``setWebhook``)."""
        if self.telegram is not None:
            await self.telegram.wait_for(lambda: self.telegram.webhook is not None, timeout)  # type: ignore[union-attr]

    def point_at(self, base_url: str) -> None:
        """Deliver inbound requests to the process at ``base_url`` (``http://host:port``)."""
        if self.telegram is not None:
            assert self.telegram.webhook is not None, "no webhook set yet: await wait_webhook() first"
            self.telegram.webhook["url"] = base_url.rstrip("/") + "/telegram/webhook"
        if self.slack is not None:
            self.slack.request_url = base_url.rstrip("/") + "/slack/events"

    def counts(self) -> dict[str, int]:
        """Calls made to each fake so far."""
        return {p: f.calls.total for p, f in (("telegram", self.telegram), ("slack", self.slack)) if f is not None}


# --- config and database ------------------------------------------------------------------

def agent_keys(agents: int) -> list[str]:
    return [f"agent{i}" for i in range(1, agents + 1)]


def agent_slack_id(n: int) -> str:
    return f"UAGENT{n:04d}"


def write_config(path: Path, fakes: Fakes, database_url: str, *, agents: int = 5,
                 changes: Callable[[dict[str, Any]], None] | None = None) -> Path:
    """The sample config with the platforms pointed at ``fakes``, ``database_url``, and
    ``agents`` agents (``agent1..N``) as L1 of the IT team (``fakes.teams``: one) or of each
    bench team (more: they replace the sample's teams and categories), with both platforms'
    queue chats."""
    data = yaml.safe_load(SAMPLE_CONFIG.read_text("utf-8"))
    data["desk"]["database_url"] = database_url
    data["server"]["listen"] = "127.0.0.1:0"
    people = data["people"]
    for n, key in enumerate(agent_keys(agents), start=1):
        people[key] = {"name": f"Agent {n}", "locale": LOCALE, "telegram": FIRST_AGENT_TG + n - 1,
                       "slack": agent_slack_id(n)}
    chats = lambda team: {  # noqa: E731
        **({"telegram": team.tg_group} if fakes.telegram is not None else {}),
        **({"slack": team.slack_channel} if fakes.slack is not None else {})}
    if fakes.teams[0].word is None:  # the sample's IT team
        it = data["teams"]["it"]
        it["tiers"] = {"L1": agent_keys(agents), "L2": ["vera"], "L3": []}
        it["chats"] = chats(fakes.teams[0])
    else:
        data["teams"] = {t.key: {"title": {"en": t.titles[0], "ru": t.titles[0]}, "calendar": "moscow",
                                 "assignment": "manual", "leads": ["gleb"], "tiers": {"L1": agent_keys(agents)},
                                 "chats": chats(t)} for t in fakes.teams}
        data["categories"] = {f"cat_{t.key}": {"team": t.key, "title": {"en": t.titles[0], "ru": t.titles[0]},
                                               "keywords": [t.word]} for t in fakes.teams}
        data["categories"]["other"] = {"team": fakes.teams[0].key, "title": {"en": "Other", "ru": "Другое"},
                                       "keywords": []}
        data["sweep"]["teams"] = {}
    if fakes.telegram is not None:
        data["telegram"] = {"token": "${TELEGRAM_BOT_TOKEN}", "mode": "webhook", "api_base": fakes.telegram.base_url,
                            "webhook": {"url": PUBLIC_WEBHOOK, "secret": "${TELEGRAM_WEBHOOK_SECRET}"}}
    else:
        data["telegram"] = {"token": ""}
    if fakes.slack is not None:
        data["slack"] = {"bot_token": "${SLACK_BOT_TOKEN}", "signing_secret": "${SLACK_SIGNING_SECRET}",
                         "app_token": "", "api_base": fakes.slack.base_url}
    else:
        data["slack"] = {"bot_token": ""}
    if changes is not None:
        changes(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    return path


def desk_env() -> dict[str, str]:
    """The environment of a bench's deskbot process: the secrets, nothing of the caller's desk."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DESKBOT_", "TELEGRAM_", "SLACK_"))}
    env.update(PYTHONPATH=str(ROOT), PYTHONIOENCODING="utf-8", TELEGRAM_BOT_TOKEN=TG_TOKEN,
               TELEGRAM_WEBHOOK_SECRET=TG_SECRET, SLACK_BOT_TOKEN=SLACK_TOKEN, SLACK_SIGNING_SECRET=SLACK_SIGNING)
    return env


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_SERVER.replace("postgresql+asyncpg://", "postgresql://") + "/postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@dataclass
class BenchDatabase:
    kind: str  # "sqlite" | "postgres"
    url: str
    path: Path | None = None  # SQLite file
    name: str | None = None  # PostgreSQL database

    async def drop(self) -> None:
        if self.kind == "postgres" and self.name:
            await _pg_admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        elif self.path is not None:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(str(self.path) + suffix).unlink(missing_ok=True)


async def fresh_database(kind: str, directory: Path) -> BenchDatabase:
    """A new, empty database (``deskbot run`` migrates it on start)."""
    if kind == "sqlite":
        path = directory / f"bench-{uuid.uuid4().hex[:8]}.db"
        return BenchDatabase("sqlite", f"sqlite+aiosqlite:///{path}", path=path)
    if kind == "postgres":
        name = f"deskbot_bench_{uuid.uuid4().hex[:10]}"
        await _pg_admin(f'CREATE DATABASE "{name}"')
        return BenchDatabase("postgres", f"{PG_SERVER}/{name}", name=name)
    raise ValueError(f"database kind {kind!r}: sqlite or postgres")


# --- the deskbot process ------------------------------------------------------------------

def peak_rss_mb(pid: int) -> float | None:
    """Peak resident set of ``pid`` in MB (``VmHWM``), or its current RSS where /proc is
    missing and psutil is installed; None when neither can tell."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    try:
        import psutil  # type: ignore[import-untyped]

        return float(psutil.Process(pid).memory_info().rss) / 2**20
    except Exception:  # noqa: BLE001 - not installed, or the process is gone
        return None


def _die_with_parent() -> None:
    """In the child, before exec: SIGKILL when the bench dies (Linux ``PR_SET_PDEATHSIG``).
    A bench stopped by ``timeout`` or Ctrl-C left its ``deskbot run`` serving on, and the
    orphan's CPU went into the next run's figures (found 2026-12-03: one ran 50 minutes)."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG


class DeskbotProcess:
    """A real ``deskbot run`` child process (see the module docstring)."""

    def __init__(self, proc: asyncio.subprocess.Process, url: str, log_path: Path | None,
                 drain: asyncio.Task[None]) -> None:
        self.proc = proc
        self.url = url
        self.log_path = log_path
        self._drain = drain
        self.peak_rss: float | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    @classmethod
    async def start(cls, config: Path, database_url: str, fakes: Fakes | None = None, *,
                    log_path: Path | None = None, log_level: str = "INFO", paced: bool = True,
                    extra_env: dict[str, str] | None = None, point: bool = True,
                    timeout: float = START_TIMEOUT, role: str | None = None,
                    listen: str = "127.0.0.1:0") -> DeskbotProcess:
        """Start, wait for "listening on" and /healthz 200; with ``fakes`` (and ``point``)
        wait for the webhook to be registered (by this process, or by the runner for a web
        process) and point the fakes at it. ``role``: ``deskbot run --role``."""
        module = "bot" if paced else "bench._unpaced"
        argv = [sys.executable, "-m", module, "--config", str(config), "--log-level", log_level,
                "run", "--listen", listen, "--db", database_url] + (["--role", role] if role else [])
        self = await cls.spawn(argv, {**desk_env(), **(extra_env or {})}, log_path=log_path, timeout=timeout)
        try:
            if fakes is not None and point:
                if fakes.telegram is not None:
                    await fakes.telegram.wait_for(lambda: fakes.telegram.webhook is not None, timeout)  # type: ignore[union-attr]
                fakes.point_at(self.url)
            await self.wait_healthy(timeout)
        except BaseException:
            await self.kill()
            raise
        return self

    @classmethod
    async def start_bare(cls, platform: str, fakes: Fakes, *, log_path: Path | None = None,
                         timeout: float = START_TIMEOUT) -> DeskbotProcess:
        """The bare baseline for ``platform`` (bench/_bare_telegram.py, bench/_bare_slack.py)
        against ``fakes``, which are pointed at it."""
        env = desk_env()
        if platform == "telegram":
            assert fakes.telegram is not None
            env["TELEGRAM_API_BASE"] = fakes.telegram.base_url
        else:
            assert fakes.slack is not None
            env["SLACK_API_BASE"] = fakes.slack.base_url
        self = await cls.spawn([sys.executable, str(ROOT / "bench" / f"_bare_{platform}.py")], env,
                               log_path=log_path, timeout=timeout)
        try:
            if platform == "telegram":
                assert fakes.telegram is not None
                fakes.telegram.webhook = {"url": self.url + "/telegram/webhook", "secret_token": TG_SECRET,
                                          "allowed_updates": None, "max_connections": 40}
            else:
                assert fakes.slack is not None
                fakes.slack.request_url = self.url + "/slack/events"
            await self.wait_healthy(timeout)
        except BaseException:
            await self.kill()
            raise
        return self

    @classmethod
    async def spawn(cls, argv: list[str], env: dict[str, str], *, log_path: Path | None = None,
                    timeout: float = START_TIMEOUT) -> DeskbotProcess:
        """Run ``argv``; return once it printed "deskbot: listening on URL" (stderr to ``log_path``)."""
        log = open(log_path, "ab") if log_path is not None else None  # noqa: SIM115 - the child writes it
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdout=asyncio.subprocess.PIPE,
                stderr=log if log is not None else asyncio.subprocess.DEVNULL, cwd=str(ROOT), env=env,
                preexec_fn=_die_with_parent)
        finally:
            if log is not None:
                log.close()
        assert proc.stdout is not None
        try:
            line = (await asyncio.wait_for(proc.stdout.readline(), timeout)).decode()
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise RuntimeError(f"{argv[2:4]} did not start within {timeout}s{_tail(log_path)}") from None
        found = LISTENING.search(line)
        if found is None:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()
            raise RuntimeError(f"{argv[2:4]}: no 'listening on' line: {line!r}{_tail(log_path)}")

        async def drain() -> None:  # nothing else is expected on stdout; never let it block
            while await proc.stdout.read(65536):  # type: ignore[union-attr]
                pass

        return cls(proc, found.group(1), log_path, asyncio.create_task(drain()))

    def cpu_seconds(self) -> float | None:
        """User + system CPU time the process used so far (from /proc)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return None

    async def health(self) -> tuple[int, dict[str, Any]]:
        async with aiohttp.ClientSession() as http, http.get(self.url + "/healthz") as resp:
            return resp.status, await resp.json(content_type=None)

    async def wait_healthy(self, timeout: float = 30.0) -> dict[str, Any]:
        """/healthz 200 (a bounded poll while the process starts; fails when it exits)."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            if self.proc.returncode is not None:
                raise RuntimeError(f"deskbot run exited with {self.proc.returncode}{_tail(self.log_path)}")
            try:
                status, report = await self.health()
                if status == 200:
                    return report
                last = report
            except (aiohttp.ClientError, OSError, ValueError) as exc:
                last = repr(exc)
            await asyncio.sleep(0.05)  # polling a starting process; nothing to wait on
        raise RuntimeError(f"/healthz not 200 within {timeout}s: {last}")

    def events_logged(self) -> int | None:
        """Events the process's engine handled, by its "event handled" log lines (None: no log)."""
        if self.log_path is None or not self.log_path.exists():
            return None
        with open(self.log_path, "rb") as log:
            return sum(line.count(b"event handled") for line in log)

    def peak_rss_mb(self) -> float | None:
        """Peak RSS so far (kept after the process exited, when it was read before)."""
        if self.proc.returncode is None:
            value = peak_rss_mb(self.proc.pid)
            if value is not None:
                self.peak_rss = value
        return self.peak_rss

    async def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM; the exit code (SIGKILL after ``timeout``)."""
        self.peak_rss_mb()
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        await self._drain
        return self.proc.returncode  # type: ignore[return-value]

    async def kill(self) -> int:
        """SIGKILL, now (the crash benches' kill)."""
        self.peak_rss_mb()
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        await self._drain
        return self.proc.returncode  # type: ignore[return-value]


class SplitDeskbot:
    """``deskbot run --role runner`` beside ``web_procs`` ``deskbot run --role web`` on one
    database: the fakes post to the web processes; the runner delivers. Several web
    processes share one port (``server.reuse_port``, here ``DESKBOT_REUSE_PORT=true``): the
    first asks for port 0, the others for the port it got, and the kernel spreads the fakes'
    connections over them. The runner registers the webhook and has a port of its own.
    Quacks like :class:`DeskbotProcess` for the load bench (its CPU and RSS are the
    processes' sums)."""

    def __init__(self, runner: DeskbotProcess, webs: list[DeskbotProcess]) -> None:
        self.runner = runner
        self.webs = webs
        self.web = webs[0]
        self.url = self.web.url

    @property
    def pid(self) -> str:  # type: ignore[override]
        return " + ".join(f"{w.pid}" for w in self.webs) + f" (web) + {self.runner.pid} (runner)"

    @property
    def processes(self) -> list[DeskbotProcess]:
        return [*self.webs, self.runner]

    @classmethod
    async def start(cls, config: Path, database_url: str, fakes: Fakes, *, log_dir: Path,
                    paced: bool = True, web_procs: int = 1) -> SplitDeskbot:
        if web_procs < 1:
            raise ValueError("at least one web process")
        runner = await DeskbotProcess.start(config, database_url, fakes, log_path=log_dir / "deskbot-runner.log",
                                            paced=paced, point=False, role="runner")
        webs: list[DeskbotProcess] = []
        shared = {"DESKBOT_REUSE_PORT": "true"} if web_procs > 1 else {}
        try:
            for n in range(web_procs):
                listen = "127.0.0.1:" + (webs[0].url.rsplit(":", 1)[1] if webs else "0")
                webs.append(await DeskbotProcess.start(
                    config, database_url, fakes, log_path=log_dir / f"deskbot-web{n + 1 if web_procs > 1 else ''}.log",
                    paced=paced, role="web", listen=listen, extra_env=shared))
            assert all(w.url == webs[0].url for w in webs), [w.url for w in webs]
        except BaseException:
            for proc in [*webs, runner]:
                await proc.kill()
            raise
        return cls(runner, webs)

    def cpu_seconds(self) -> float | None:
        each = [p.cpu_seconds() for p in self.processes]
        return None if any(c is None for c in each) else sum(each)  # type: ignore[misc]

    async def health(self) -> tuple[int, dict[str, Any]]:
        return await self.runner.health()  # the runner's view: the worker and the backlog

    def peak_rss_mb(self) -> float | None:
        each = [p.peak_rss_mb() for p in self.processes]
        return None if any(r is None for r in each) else sum(each)  # type: ignore[misc]

    async def stop(self, timeout: float = 20.0) -> int:
        codes = [await w.stop(timeout) for w in self.webs]
        codes.append(await self.runner.stop(timeout))
        return next((c for c in codes if c), 0)

    async def kill(self) -> int:
        for w in self.webs:
            await w.kill()
        return await self.runner.kill()


def _tail(path: Path | None, chars: int = 2000) -> str:
    if path is None or not path.exists():
        return ""
    return "; log tail:\n" + path.read_text("utf-8", "replace")[-chars:]


# --- matching outbound calls -----------------------------------------------------------------

def call_chat(platform: str, call: Any) -> str | None:
    """The chat a call addresses (Telegram ``chat_id``, Slack ``channel``) as a string."""
    value = call.params.get("chat_id" if platform == "telegram" else "channel")
    return None if value in (None, "") else str(value)


def call_text(platform: str, call: Any) -> str:
    """What a call shows: the text (Telegram HTML source, Slack text + blocks)."""
    params = call.params
    if platform == "telegram":
        return str(params.get("text") or params.get("caption") or "")
    blocks = params.get("blocks")
    return str(params.get("text") or "") + ("" if not blocks else json.dumps(blocks, ensure_ascii=False))


def call_buttons(platform: str, call: Any) -> list[str]:
    if platform == "telegram":
        markup = call.params.get("reply_markup")
        if not isinstance(markup, dict):
            return []
        return [b.get("text", "") for row in markup.get("inline_keyboard", []) for b in row]
    out = []
    for block in call.params.get("blocks") or []:
        if isinstance(block, dict) and block.get("type") == "actions":
            out.extend(str((el.get("text") or {}).get("text", "")) for el in block.get("elements", []))
    return out


SHOWING = {
    "telegram": frozenset({"sendmessage", "editmessagetext", "editmessagereplymarkup", "copymessage",
                           "sendphoto", "senddocument"}),
    "slack": frozenset({"chat.postMessage", "chat.update", "chat.postEphemeral"}),
}


@dataclass
class _Waiter:
    predicate: Callable[[str, Any], bool]
    future: asyncio.Future[Any]


class Expectations:
    """Futures for "the next call to chat X that shows Y", resolved by a :class:`Fakes`
    observer at the moment the fake records the call (``call.time`` is when it arrived)."""

    def __init__(self, fakes: Fakes) -> None:
        self._waiting: dict[tuple[str, str], list[_Waiter]] = defaultdict(list)
        self.unmatched = 0  # showing calls nobody waited for (cards edited, extra notices)
        fakes.observe(self._seen)

    def expect(self, platform: str, chat: str | int, predicate: Callable[[str, Any], bool]) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[(platform, str(chat))].append(_Waiter(predicate, future))
        return future

    def _seen(self, platform: str, call: Any) -> None:
        if not call.ok:
            return
        method = call.method if platform == "slack" else call.method.lower()
        if method not in SHOWING[platform]:
            return
        chat = call_chat(platform, call)
        waiters = self._waiting.get((platform, chat or ""))
        if not waiters:
            self.unmatched += 1
            return
        for w in list(waiters):
            if w.future.done():
                waiters.remove(w)
                continue
            if w.predicate(platform, call):
                waiters.remove(w)
                w.future.set_result(call)
                return
        self.unmatched += 1


def shows(text: str | None = None, *, button: str | None = None, button_prefix: str | None = None,
          regex: re.Pattern[str] | None = None, methods: frozenset[str] | None = None,
          message_id: Any = None) -> Callable[[str, Any], bool]:
    """A predicate over (platform, call): every given condition holds."""

    def check(platform: str, call: Any) -> bool:
        if methods is not None and (call.method if platform == "slack" else call.method.lower()) not in methods:
            return False
        if message_id is not None:
            key = "message_id" if platform == "telegram" else "ts"
            if str(call.params.get(key)) != str(message_id):
                return False
        body = call_text(platform, call)
        if text is not None and text not in body:
            return False
        if regex is not None and not regex.search(body):
            return False
        labels = call_buttons(platform, call)
        if button is not None and button not in labels:
            return False
        return not (button_prefix is not None and not any(b.startswith(button_prefix) for b in labels))

    return check


def has_buttons(platform: str, call: Any) -> bool:
    return bool(call_buttons(platform, call))


def any_of(*predicates: Callable[[str, Any], bool]) -> Callable[[str, Any], bool]:
    return lambda platform, call: any(p(platform, call) for p in predicates)


# --- the population ------------------------------------------------------------------------

@dataclass
class Step:
    """One inbound event and what came of it."""

    platform: str
    kind: str  # text, tap_open, tap_category, claim, agent_reply, requester_reply, resolve
    started: float  # monotonic, when the request was sent
    status: int = 0  # HTTP status of the webhook answer (0: no answer)
    acked: float = 0.0  # when the answer came
    shown: float = 0.0  # when the matching outbound call reached the fake (0: none)
    error: str | None = None
    call: Any = None  # the matching outbound call

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def latency(self) -> float:
        """Seconds from the request to the matching outbound call."""
        return self.shown - self.started

    @property
    def ack_latency(self) -> float:
        return self.acked - self.started


_tokens = itertools.count(1)
CARD_NUMBER = re.compile(r"(?<!&)#(\d+)\b")  # not an HTML character reference (&#39;)


class Cards:
    """Queue cards as they reach the team chats (a card may be sent before the requester's
    "#N created"), by (platform, ticket number)."""

    def __init__(self, fakes: Fakes) -> None:
        self.chats = fakes.team_chats
        self.seen: dict[tuple[str, int], Any] = {}
        self._waiting: dict[tuple[str, int], asyncio.Future[Any]] = {}
        fakes.observe(self._seen)

    def _seen(self, platform: str, call: Any) -> None:
        if not call.ok or call.method not in ("sendMessage", "sendmessage", "chat.postMessage"):
            return
        if call_chat(platform, call) not in self.chats:
            return
        if CLAIM_LABEL not in call_buttons(platform, call):
            return
        found = CARD_NUMBER.search(call_text(platform, call))
        if found is None:
            return
        key = (platform, int(found.group(1)))
        self.seen.setdefault(key, call)
        waiter = self._waiting.pop(key, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(call)

    async def wait(self, platform: str, number: int) -> Any:
        key = (platform, number)
        if key in self.seen:
            return self.seen.pop(key)
        future = self._waiting[key] = asyncio.get_running_loop().create_future()
        try:
            return await future
        finally:
            self.seen.pop(key, None)


def token(prefix: str) -> str:
    """A word no other message contains (so a predicate finds exactly its answer)."""
    return f"{prefix}{next(_tokens):07d}"


class Population:
    """Simulated people on both platforms (see the module docstring)."""

    def __init__(self, fakes: Fakes, *, agents: int = 5, timeout: float = 30.0) -> None:
        self.fakes = fakes
        self.expectations = Expectations(fakes)
        self.timeout = timeout
        self._employees = itertools.count(0)
        self.tg_agents: list[Person] = []
        self.slack_agents: list[SlackUser] = []
        if fakes.telegram is not None:
            self.tg_agents = [fakes.telegram.user(FIRST_AGENT_TG + n, f"Agent{n + 1}", language_code=LOCALE)
                              for n in range(agents)]
        if fakes.slack is not None:
            self.slack_agents = [fakes.slack.user(agent_slack_id(n + 1), f"Agent {n + 1}", locale="en-US")
                                 for n in range(agents)]
            for channel in fakes.slack_channels.values():
                channel.add(*self.slack_agents)
        self._next_agent = itertools.count(0)
        self._next_team = itertools.count(0)
        self.cards = Cards(fakes)

    def employee(self, platform: str) -> Any:
        """A new employee (never seen by the desk)."""
        n = next(self._employees)
        if platform == "telegram":
            assert self.fakes.telegram is not None
            return self.fakes.telegram.user(FIRST_EMPLOYEE_TG + n, f"Emp{n}", language_code=LOCALE)
        assert self.fakes.slack is not None
        return self.fakes.slack.user(f"UEMP{n:07d}", f"Employee {n}", locale="en-US")

    def agent(self, platform: str) -> Any:
        agents = self.tg_agents if platform == "telegram" else self.slack_agents
        return agents[next(self._next_agent) % len(agents)]

    def flow(self, platform: str, problem: str | None = None) -> Flow:
        """A new employee's request to the next team (round robin), worked by the next agent."""
        n = next(self._next_team)
        team = self.fakes.teams[n % len(self.fakes.teams)]
        return Flow(self, platform, self.employee(platform), self.agent(platform),
                    problem or team.problem(n), team)

    # --- timing one inbound event ---------------------------------------------------------

    async def timed(self, platform: str, kind: str, chat: str | int, predicate: Callable[[str, Any], bool],
                    send: Callable[[], Any], acked: asyncio.Event | None = None) -> Step:
        """Register the expectation, send (``send()`` POSTs one event; ``acked`` is set when
        its answer came), wait for the match."""
        future = self.expectations.expect(platform, chat, predicate)
        step = Step(platform, kind, time.monotonic())
        try:
            step.status = await self._send(platform, send)
        except Exception as exc:  # noqa: BLE001 - counted, not fatal
            step.status, step.error = 0, f"send: {type(exc).__name__}: {exc}"
        finally:
            step.acked = time.monotonic()
            if acked is not None:
                acked.set()
        if step.error is None and not 200 <= step.status < 300:
            step.error = f"HTTP {step.status}"
        if step.error is not None:
            future.cancel()
            return step
        try:
            call = await asyncio.wait_for(asyncio.shield(future), self.timeout)
        except TimeoutError:
            future.cancel()
            step.error = f"no matching outbound call within {self.timeout}s"
            return step
        step.call, step.shown = call, call.time
        return step

    @staticmethod
    async def _send(platform: str, send: Callable[[], Any]) -> int:
        result = await send()
        if platform == "telegram":
            return last_status()
        post = getattr(result, "post", None)
        if post is None:
            return 0
        return int(post.status or 0)


PROBLEMS = (
    "VPN does not connect from home, error 809",
    "the printer on the third floor is jammed again",
    "I forgot my password and my account is locked",
    "Outlook does not open my mailbox since this morning",
    "the monitor in the meeting room flickers",
    "wifi keeps dropping on my laptop",
)


class Flow:
    """One request's life, one inbound event per :meth:`next` (None when it is over)."""

    def __init__(self, pop: Population, platform: str, employee: Any, agent: Any, problem: str,
                 team: BenchTeam) -> None:
        self.pop = pop
        self.team = team
        self.platform = platform
        self.employee = employee
        self.agent = agent
        self.problem = problem
        self.ticket: int | None = None
        self.card: Any = None  # Telegram: BotMessage in the group; Slack: SlackMessage in the channel
        self.prompt: Any = None  # the bot message with the next button to tap
        self.thread_ts: str | None = None  # Slack: the requester's thread of the ticket
        self.stage = "text"
        self.steps: list[Step] = []
        self.failed = False
        self._acked: asyncio.Event | None = None

    @property
    def done(self) -> bool:
        return self.stage == "done" or self.failed

    # --- where things are -----------------------------------------------------------------

    @property
    def employee_chat(self) -> str:
        if self.platform == "telegram":
            return str(self.employee.id)
        return str(self.pop.fakes.slack.dm_id(self.employee.id))  # type: ignore[union-attr]

    @property
    def team_chat(self) -> str:
        return str(self.team.tg_group) if self.platform == "telegram" else self.team.slack_channel

    @property
    def group(self) -> Any:
        """The team's Telegram group (tests.support.telegram.Group)."""
        return self.pop.fakes.tg_groups[self.team.tg_group]

    def _message(self, call: Any) -> Any:
        """The bot message a matched call created or changed."""
        if self.platform == "telegram":
            assert self.pop.fakes.telegram is not None
            mid = call.params.get("message_id") or (call.result or {}).get("message_id")
            return BotMessage(self.pop.fakes.telegram, int(call.params["chat_id"]), int(mid))
        assert self.pop.fakes.slack is not None
        ts = call.params.get("ts") or call.response.get("ts")
        return SlackMessage(self.pop.fakes.slack, str(call.params["channel"]), str(ts))

    # --- the primitive actions ---------------------------------------------------------------

    async def text(self) -> Step:
        """The employee writes the problem; they see the KB offer or the category question."""
        predicate = any_of(has_buttons, shows(regex=CREATED))
        return await self.pop.timed(self.platform, "text", self.employee_chat, predicate,
                                    lambda: self.employee.says(self.problem), self._acked)

    async def tap(self, label: str, kind: str) -> Step:
        """The employee taps a button on ``self.prompt``; they see the next question or "#N created"."""
        predicate = any_of(has_buttons, shows(regex=CREATED))
        message = self.prompt
        return await self.pop.timed(self.platform, kind, self.employee_chat, predicate,
                                    lambda: self.employee.presses(message, label), self._acked)

    async def claim(self) -> Step:
        """The agent taps Claim on the card; the card is updated in place."""
        methods = SHOWING[self.platform] - {"sendmessage", "chat.postMessage", "chat.postEphemeral"}
        key = self.card.message_id if self.platform == "telegram" else self.card.ts
        predicate = shows(methods=methods, message_id=key)
        card = self.card
        if self.platform == "telegram":
            send = lambda: self.agent.presses(card, CLAIM_LABEL, chat=self.group)  # noqa: E731
        else:
            send = lambda: self.agent.presses(card, CLAIM_LABEL)  # noqa: E731
        return await self.pop.timed(self.platform, "claim", self.team_chat, predicate, send, self._acked)

    async def agent_reply(self) -> Step:
        """The agent answers in the ticket's thread; the requester gets it."""
        word = token("q")
        text = f"Could you restart it and tell me the error code? {word}"
        if self.platform == "telegram":
            send = lambda: self.agent.says(text, chat=self.group, reply_to=self.card)  # noqa: E731
        else:
            send = lambda: self.agent.says(text, channel=self.team.slack_channel, thread_ts=self.card.ts)  # noqa: E731
        return await self.pop.timed(self.platform, "agent_reply", self.employee_chat, shows(word), send, self._acked)

    async def requester_reply(self) -> Step:
        """The requester answers (Telegram: in the chat; Slack: in the ticket's thread); the team sees it."""
        word = token("a")
        text = f"Restarted, still error 809 {word}"
        if self.platform == "telegram":
            send = lambda: self.employee.says(text)  # noqa: E731
        else:
            send = lambda: self.employee.says(text, thread_ts=self.thread_ts)  # noqa: E731
        return await self.pop.timed(self.platform, "requester_reply", self.team_chat, shows(word), send,
                                    self._acked)

    async def resolve(self) -> Step:
        """The agent resolves with a note in the thread; the requester gets the note."""
        word = token("r")
        text = f"/resolve Reset the profile, works now {word}"
        if self.platform == "telegram":
            send = lambda: self.agent.says(text, chat=self.group, reply_to=self.card)  # noqa: E731
        else:
            send = lambda: self.agent.says(text, channel=self.team.slack_channel, thread_ts=self.card.ts)  # noqa: E731
        return await self.pop.timed(self.platform, "resolve", self.employee_chat, shows(word), send, self._acked)

    # --- the flow ------------------------------------------------------------------------------

    async def next(self, acked: asyncio.Event | None = None) -> Step | None:
        """Do the next event of the flow; None once it is over (or failed). ``acked`` is set
        as soon as the event's HTTP answer came (before its outbound call is waited for)."""
        self._acked = acked
        if self.done:
            if acked is not None:
                acked.set()
            return None
        if self.stage == "text":
            step = await self.text()
        elif self.stage == "tap":
            step = await self._tap_next()
        elif self.stage == "claim":
            step = await self.claim()
        elif self.stage == "agent_reply":
            step = await self.agent_reply()
        elif self.stage == "requester_reply":
            step = await self.requester_reply()
        elif self.stage == "resolve":
            step = await self.resolve()
        else:  # pragma: no cover
            raise AssertionError(self.stage)
        self.steps.append(step)
        if not step.ok:
            self.failed = True
            return step
        await self._advance(step)
        return step

    async def _tap_next(self) -> Step:
        labels = self.prompt_buttons()
        if OPEN_LABEL in labels:
            return await self.tap(OPEN_LABEL, "tap_open")
        yes = next((b for b in labels if b.startswith(YES_PREFIX)), None)
        if yes is None:  # "Which category fits best?": one of the IT team's
            yes = next((b for b in labels if b in self.team.titles), None)
        if yes is None:
            step = Step(self.platform, "tap", time.monotonic())
            step.error = f"no button to tap: {labels}"
            if self._acked is not None:
                self._acked.set()
            return step
        return await self.tap(yes, "tap_category")

    def prompt_buttons(self) -> list[str]:
        return list(self.prompt.buttons)

    async def _advance(self, step: Step) -> None:
        if self.stage in ("text", "tap"):
            found = CREATED.search(call_text(self.platform, step.call))
            if found is None:
                self.prompt, self.stage = self._message(step.call), "tap"
                return
            self.ticket = int(found.group(1))
            if self.platform == "slack":
                self.thread_ts = str(step.call.params.get("thread_ts") or step.call.response.get("ts"))
            await self._find_card()
            self.stage = "claim"
        elif self.stage == "claim":
            self.stage = "agent_reply"
        elif self.stage == "agent_reply":
            if self.platform == "slack":
                self.thread_ts = str(step.call.params.get("thread_ts") or self.thread_ts)
            self.stage = "requester_reply"
        elif self.stage == "requester_reply":
            self.stage = "resolve"
        elif self.stage == "resolve":
            self.stage = "done"

    async def _find_card(self) -> None:
        """The ticket's card in the team chat (sent with the "created" message, often before it)."""
        assert self.ticket is not None
        try:
            call = await asyncio.wait_for(self.pop.cards.wait(self.platform, self.ticket), self.pop.timeout)
        except TimeoutError:
            self.failed = True
            self.steps.append(Step(self.platform, "card", time.monotonic(),
                                   error=f"no card #{self.ticket} in the team chat"))
            return
        self.card = self._message(call)
        chat = call_chat(self.platform, call)
        if chat not in (str(self.team.tg_group), self.team.slack_channel):  # routed elsewhere: follow the card
            self.team = next(t for t in self.pop.fakes.teams if chat in (str(t.tg_group), t.slack_channel))


class EchoFlow:
    """For the bare baselines: one employee writing again and again; each event is a text
    with a fresh token, answered by a message containing it."""

    def __init__(self, pop: Population, platform: str) -> None:
        self.pop = pop
        self.platform = platform
        self.employee = pop.employee(platform)
        self.done = False
        self.steps: list[Step] = []

    async def next(self, acked: asyncio.Event | None = None) -> Step:
        word = token("e")
        chat = (str(self.employee.id) if self.platform == "telegram"
                else str(self.pop.fakes.slack.dm_id(self.employee.id)))  # type: ignore[union-attr]
        step = await self.pop.timed(self.platform, "text", chat, shows(word),
                                    lambda: self.employee.says(f"printer is jammed {word}"), acked)
        self.steps.append(step)
        return step
