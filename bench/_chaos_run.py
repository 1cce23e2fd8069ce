"""Process plumbing for bench/chaos.py: the fakes, a round-robin webhook proxy, the config,
a fresh database and ``deskbot run`` processes to start, SIGKILL and restart.

- The fake Telegram and Slack run in the bench's event loop, their rate limits off.
  Telegram redelivers every update not answered 2xx (its retries made unlimited here,
  a short back-off); Slack retries an event not acked 2xx (``X-Slack-Retry-Num``, same
  ``event_id``) until it is.
- :class:`Proxy` is the load balancer in front of the replicas (one or two): both
  platforms post to it; it forwards each request to the next backend in turn, to the
  one after when nobody listens there, and answers 502 when the backend died with the
  request in hand (the platform then redelivers).
- :class:`BotProcess` is one ``deskbot run`` (bench/_chaos_bot.py) on a fixed port, so a
  restart serves the same address; its log goes to a file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.fakes.slack import FakeSlack  # noqa: E402
from tests.fakes.telegram import FakeTelegram  # noqa: E402

TELEGRAM_TOKEN = "7311122233:AAH4xQ1rFz9Vb2lK8sTtY0pWmNcDe3fGhIj"
WEBHOOK_SECRET = "wh_Q8f2LmZp4RtY7uVxK3nB9cD"
SLACK_TOKEN = "xoxb-4471122334-5566778899001-Zr8QvL2mN4pT6wX9yB1cD3fG"
SLACK_SECRET = "8f2b7c1d9e4a6b3c5d7e9f1a2b4c6d8e"
PUBLIC_WEBHOOK = "https://desk.example.com/telegram/webhook"  # what the bot registers
START_TIMEOUT = 400.0  # a start imports aiogram, bolt and the KB: over 2 minutes on a 2-core host at load 15
PG_ADMIN = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
HOP_HEADERS = {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RoutedTelegram(FakeTelegram):
    """The fake Bot API; the bot registers its public https webhook, the fake posts to
    ``proxy_url`` instead (where the reverse proxy would forward)."""

    proxy_url = ""

    def _m_setwebhook(self, params: dict[str, Any]) -> bool:
        ok = super()._m_setwebhook(params)
        if self.webhook is not None:
            self.webhook["url"] = self.proxy_url
        return ok


async def start_fakes() -> tuple[RoutedTelegram, FakeSlack]:
    telegram = RoutedTelegram(token=TELEGRAM_TOKEN, rate_limits=False, webhook_retries=10**9,
                              webhook_retry_delay=0.01)
    slack = FakeSlack(token=SLACK_TOKEN, signing_secret=SLACK_SECRET, rate_limits=False)
    await telegram.start()
    await slack.start()
    return telegram, slack


class Proxy:
    """Round-robin HTTP proxy in front of ``backends`` (base URLs)."""

    def __init__(self, backends: list[str]) -> None:
        self.backends = backends
        self.answered: Counter[str] = Counter()  # backend -> requests it answered
        self.failed = 0  # answered 502: the backend died mid-request, or nobody listened
        self._turn = 0
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.url = ""

    async def start(self) -> Proxy:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30),
                                              connector=aiohttp.TCPConnector(force_close=True))
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{path:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        first = self._turn
        self._turn = (self._turn + 1) % len(self.backends)
        for i in range(len(self.backends)):
            backend = self.backends[(first + i) % len(self.backends)]
            try:
                async with self._session.request(request.method, backend + request.path_qs, data=body,
                                                 headers=headers) as resp:
                    data = await resp.read()
                    self.answered[backend] += 1
                    return web.Response(status=resp.status, body=data,
                                        headers={"Content-Type": resp.headers.get("Content-Type", "text/plain")})
            except aiohttp.ClientConnectorError:
                continue  # nobody listens there (killed, restarting): the next backend
            except (aiohttp.ClientError, TimeoutError):
                break  # it died with the request in hand: the platform redelivers
        self.failed += 1
        return web.Response(status=502, text="bad gateway")


def write_config(path: Path, slack_api: str, *, lease_seconds: float = 3.0, heartbeat_seconds: float = 0.5) -> Path:
    """The repository's config.yaml with: Slack pointed at the fake, a short runner lease
    (a SIGKILLed SQLite runner's successor waits for it), team ``it`` working around the
    clock (no calendar) and re-posting an unclaimed ticket at once (``unclaimed_repost:
    0m``: every sweep after a ticket was filed owes one re-post of it, and only one)."""
    data = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    data["slack"] = {"bot_token": "${SLACK_BOT_TOKEN}", "signing_secret": "${SLACK_SIGNING_SECRET}",
                     "api_base": slack_api}
    data["runner"] = {"lease_seconds": lease_seconds, "heartbeat_seconds": heartbeat_seconds}
    data["teams"]["it"].pop("calendar", None)
    data["sweep"]["teams"] = {"it": {"unclaimed_repost": "0m"}}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def populate(telegram: FakeTelegram, slack: FakeSlack) -> None:
    """The config's people and team chats exist on both fakes."""
    data = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    for person in data["people"].values():
        lang = person.get("locale", "en")
        first, _, last = person["name"].partition(" ")
        telegram.add_user(int(person["telegram"]), first, last_name=last or None, language_code=lang)
        slack.add_user(person["slack"], person["name"], locale="ru-RU" if lang == "ru" else "en-US")
    for team in data["teams"].values():
        title = team["title"]["en"]
        telegram.add_group(int(team["chats"]["telegram"]), title)
        slack.add_channel(team["chats"]["slack"], title.lower().replace(" ", "-")[:20])


# --- databases ---------------------------------------------------------------------------


async def fresh_database(kind: str, workdir: Path) -> str:
    """A new empty database: a SQLite file in ``workdir``, or a new PostgreSQL database."""
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{workdir / 'chaos.db'}"
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    name = f"deskbot_chaos_{os.getpid()}"
    engine = create_async_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


async def drop_database(url: str) -> None:
    if not url.startswith("postgresql"):
        return
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    name = url.rsplit("/", 1)[1]
    engine = create_async_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await engine.dispose()


async def migrate(url: str) -> None:
    """Once, before the replicas start (as a deploy would: alembic does not run twice at once)."""
    from store import migrate as migrations
    from store.db import Database

    db = Database(url)
    try:
        await migrations.upgrade(db)
    finally:
        await db.dispose()


# --- deskbot run -------------------------------------------------------------------------


@dataclass
class BotProcess:
    """One ``deskbot run`` replica; :meth:`start` again after :meth:`kill` to restart it."""

    name: str
    config: Path
    db_url: str
    workdir: Path
    telegram_api: str
    port: int = field(default_factory=free_port)
    proc: asyncio.subprocess.Process | None = None
    starts: int = 0
    _log: Any = None
    _drain: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self) -> None:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("DESKBOT_", "TELEGRAM_", "SLACK_"))}
        env.update(PYTHONPATH=str(ROOT), PYTHONIOENCODING="utf-8",
                   TELEGRAM_BOT_TOKEN=TELEGRAM_TOKEN, TELEGRAM_API_BASE=self.telegram_api,
                   TELEGRAM_MODE="webhook", TELEGRAM_WEBHOOK_URL=PUBLIC_WEBHOOK,
                   TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET, SLACK_BOT_TOKEN=SLACK_TOKEN,
                   SLACK_SIGNING_SECRET=SLACK_SECRET)
        self.starts += 1
        if self._log is None:
            self._log = open(self.workdir / f"{self.name}.log", "ab")  # noqa: SIM115 — kept for the runs
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench._chaos_bot", "--config", str(self.config), "--log-format", "json",
            "run", "--listen", f"127.0.0.1:{self.port}", "--db", self.db_url,
            stdout=asyncio.subprocess.PIPE, stderr=self._log, cwd=str(self.workdir), env=env)
        assert self.proc.stdout is not None
        try:
            line = await asyncio.wait_for(self.proc.stdout.readline(), START_TIMEOUT)
        except TimeoutError:
            line = b""
        if b"listening on" not in line:
            self.proc.kill()
            await self.proc.wait()
            raise RuntimeError(f"{self.name}: deskbot run did not start (see {self.workdir / self.name}.log)")
        self._drain = asyncio.create_task(self._drain_stdout(self.proc))

    @staticmethod
    async def _drain_stdout(proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        while await proc.stdout.readline():
            pass

    async def kill(self) -> None:
        """SIGKILL: no clean stop, no lock released, requests in hand cut off."""
        if self.alive:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()

    async def terminate(self, timeout: float = 20.0) -> int | None:
        """SIGTERM and wait (the clean stop); the exit code."""
        if not self.alive:
            return None if self.proc is None else self.proc.returncode
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            self.proc.kill()
            return await self.proc.wait()

    async def close(self) -> None:
        await self.kill()
        if self._drain is not None:
            self._drain.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._drain
        if self._log is not None:
            self._log.close()
            self._log = None

    async def health(self, session: aiohttp.ClientSession) -> tuple[int, dict[str, Any]] | None:
        """(status, /healthz report), or None when nothing answers."""
        try:
            async with session.get(self.url + "/healthz", timeout=aiohttp.ClientTimeout(total=10)) as resp:
                return resp.status, json.loads(await resp.text())
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None

    async def metrics(self, session: aiohttp.ClientSession) -> str | None:
        try:
            async with session.get(self.url + "/metrics", timeout=aiohttp.ClientTimeout(total=10)) as resp:
                return await resp.text()
        except (aiohttp.ClientError, TimeoutError):
            return None

    async def wait_healthy(self, session: aiohttp.ClientSession, timeout: float = 120.0) -> dict[str, Any]:
        """/healthz answers 200 (a bounded poll: only the start is waited for)."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            if not self.alive:
                raise RuntimeError(f"{self.name} exited (code {self.proc.returncode if self.proc else None})")
            answer = await self.health(session)
            if answer is not None and answer[0] == 200:
                return answer[1]
            last = answer
            await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.name} not healthy within {timeout}s: {last}")
