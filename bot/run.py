"""``deskbot run``: every configured platform, one store, one HTTP server; and, in the one
runner process per database, the outbox worker and the scheduler.

:class:`Runner` is the long-running program without the process around it: a test
builds one with its own frontends (anything implementing
:class:`bot.frontend.Frontend`) and drives it in its own event loop; :func:`serve`
adds the signal handling of the real process.

Start order: build the desk with every frontend's sender → migrate and sync people
(:meth:`bot.app.App.start`) → bind each frontend → open the HTTP server (a webhook
frontend needs it up before it calls ``setWebhook``) → start each frontend → the first
try for the runner lock (:mod:`scheduler.runner`). A ``web`` process, which registers
nothing, starts its frontends before it opens the server, so on a shared port it takes
connections only once it can serve them.

Runner role: several processes may serve one database (webhooks behind a load
balancer); only the lock holder runs the outbox worker, the scheduler
(:mod:`scheduler.service`) and the frontends marked ``runner_only`` (Telegram long
polling: two ``getUpdates`` loops on one bot end each other with 409 Conflict). The
others still handle events and write to the outbox; the runner delivers. The role
follows the lock at every heartbeat, both ways: lost → those stop; gained → they start.
The runner wakes its worker at once for rows its own process commits, and looks for rows
committed elsewhere every ``runner.watch_seconds`` (the newest outbox id).

Process roles (``--role``, ``runner.role``): ``all`` (the default) does all of the above;
``web`` serves webhooks and never takes the lock; ``runner`` takes part in the election
and mounts no webhook routes. One ``web`` and one ``runner`` process on one database put
the inbound work and the delivery on two cores.

Shared port (``server.reuse_port``, PostgreSQL only): the processes that serve webhooks
(``web``, ``all``) bind one ``server.listen`` with ``SO_REUSEPORT``, and the kernel hands
each new connection to one of them, so N ``web`` processes take the webhooks on N cores.
Any of them answers /healthz on that port (each its own view). A ``runner`` process never
shares the port (it would 404 its share of the webhooks): it needs a port of its own. The
platform registration (Telegram ``setWebhook`` and the command menus) is made by the
processes that may be the runner (``all``, ``runner``), never by a ``web`` process: N web
processes starting together do not call it N times, and one that stops unregisters nothing.

Stop order (SIGTERM / SIGINT), within :data:`STOP_BUDGET` seconds: /healthz turns 503;
the HTTP server stops accepting and lets requests in flight (webhook updates being
handled) finish; each frontend stops receiving and finishes the events in hand; the
scheduler (runs in progress may finish) and the worker end their pass (rows not yet
delivered stay pending for the next runner); the runner lock is released, so another
process takes over at once; the frontends' connections (``close()``, when a frontend
has one) and the database are closed.
"""

from __future__ import annotations

import asyncio
import errno
import gc
import logging
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, get_args

from aiohttp import web

from bot.app import App, build
from bot.config import Config, Role, redact_secrets, split_listen
from bot.frontend import Frontend
from bot.logs import SecretFilter, secrets_of
from bot.metrics import Metrics
from bot.server import Status, make_app
from handlers.engine import utc_clock
from handlers.events import Incoming, Outcome
from handlers.ports import Clock, KnowledgeBase
from scheduler.jobs import jobs as scheduled_jobs
from scheduler.runner import RunnerElection, runner_lock
from scheduler.service import JobSpec, SchedulerService
from store import outbox
from store.db import is_sqlite

if TYPE_CHECKING:
    from bot.slack.frontend import SlackFrontend
    from bot.telegram.frontend import TelegramFrontend

log = logging.getLogger("deskbot.run")

# Seconds each shutdown step may take; together well inside the 10 s a supervisor
# (systemd's default is 90 s, Kubernetes' 30 s, ours is 10) waits before SIGKILL.
HTTP_DRAIN = 2.0
FRONTEND_STOP = 3.5
WORKER_STOP = 2.0
STOP_BUDGET = HTTP_DRAIN + FRONTEND_STOP + WORKER_STOP + 1.5
ROLES: tuple[str, ...] = get_args(Role)  # see bot.config.RunnerConfig.role


class StartError(Exception):
    """``deskbot run`` cannot start; the message says why in one line (no secrets)."""


def build_frontends(config: Config) -> list[Frontend]:
    """One frontend per configured platform (imported only when configured)."""
    frontends: list[Frontend] = []
    telegram = None
    if config.telegram.enabled:
        from bot.telegram.frontend import TelegramFrontend

        telegram = TelegramFrontend(config)
        frontends.append(telegram)
    if config.slack.enabled:
        from bot.slack.frontend import SlackFrontend

        slack = SlackFrontend(config)
        if telegram is not None:
            share_files(telegram, slack)
        frontends.append(slack)
    return frontends


def share_files(telegram: TelegramFrontend, slack: SlackFrontend) -> None:
    """Files on a ticket cross between the two platforms: each sender gets a fetcher for the
    other's files (a Telegram photo uploaded into the Slack thread, a Slack file sent to
    Telegram as a document, within Telegram's upload limit)."""
    from bot.slack.files import slack_fetcher
    from bot.slack.sender import SlackSender, telegram_fetcher
    from bot.telegram.sender import MAX_UPLOAD_BYTES, TelegramSender

    if isinstance(slack.sender, SlackSender):
        slack.sender.fetchers["telegram"] = telegram_fetcher(telegram.bot)
    if isinstance(telegram.sender, TelegramSender):
        telegram.sender.fetchers["slack"] = slack_fetcher(slack.client, max_bytes=MAX_UPLOAD_BYTES)


class Runner:
    """The desk serving ``frontends`` until :meth:`stop`."""

    def __init__(
        self,
        config: Config,
        frontends: Sequence[Frontend],
        *,
        listen: str | None = None,
        database_url: str | None = None,
        clock: Clock | None = None,
        kb: KnowledgeBase | None = None,
        kb_dir: Path | None = None,
        idle_seconds: float = 1.0,
        jobs: Sequence[JobSpec] | None = None,
        role: str | None = None,
    ) -> None:
        if not frontends:
            raise StartError("no platform to serve")
        platforms = [f.platform for f in frontends]
        if len(set(platforms)) != len(platforms):
            raise StartError(f"two frontends for one platform: {platforms}")
        self.role = role or config.runner.role
        if self.role not in ROLES:
            raise StartError(f"unknown role {self.role!r}: use one of {', '.join(ROLES)}")
        receivers = [f.platform for f in frontends if f.runner_only]
        if self.role == "web" and receivers:
            raise StartError(f"{', '.join(receivers)}: receiving without webhooks runs only where the runner "
                             "can run (role all or runner), not in a web process")
        # A runner process serves no webhooks, so it never shares the webhook port.
        self.reuse_port = config.server.reuse_port and self.role != "runner"
        if self.reuse_port:
            if not hasattr(socket, "SO_REUSEPORT"):
                raise StartError("server.reuse_port: this system has no SO_REUSEPORT")
            if is_sqlite(database_url or config.desk.database_url):
                raise StartError(
                    "server.reuse_port needs PostgreSQL: on SQLite the processes sharing the port would queue "
                    "on its one write lock, each waiting with its event loop blocked (docs/architecture.md, "
                    "\"Process roles\"); serve SQLite with one process")
        self.config = config
        self.frontends = list(frontends)
        if self.role == "web":  # the processes that may be the runner register the webhook
            for frontend in self.frontends:
                frontend.registers = False
        self.listen = listen or config.server.listen
        self.host, self.port = split_listen(self.listen)
        self.clock: Clock = clock or utc_clock
        self.metrics = Metrics(platforms)
        self.idle_seconds = idle_seconds
        self.app: App = build(
            config, senders={f.platform: f.sender for f in self.frontends}, database_url=database_url,
            clock=self.clock, kb=kb, kb_dir=kb_dir, on_handled=self._on_handled,
            on_send=self.metrics.record_send,
        )
        self.scheduler = SchedulerService(self.app, scheduled_jobs(self.app) if jobs is None else jobs)
        self.election = RunnerElection(
            runner_lock(self.app.db, config.runner), heartbeat_seconds=config.runner.heartbeat_seconds,
            on_gain=self._become_runner, on_lose=self._stop_being_runner,
        )
        self._runner_only = [f for f in self.frontends if f.runner_only]
        self.status = Status(db=self.app.db, frontends=self.frontends, metrics=self.metrics, clock=self.clock,
                             worker_running=self._worker_running, runner=self._runner_state,
                             scheduler=self._scheduler_state, standby=self._standby)
        self._http: web.AppRunner | None = None
        self._started: list[Frontend] = []
        self._worker_stop = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self.address: tuple[str, int] | None = None
        self.stopping = asyncio.Event()  # set as soon as stop() begins
        self._kb_stop = asyncio.Event()
        self._kb_reload: asyncio.Task[None] | None = None
        self._watch: asyncio.Task[None] | None = None

    # --- hooks ---------------------------------------------------------------------

    def _on_handled(self, inc: Incoming, outcome: Outcome, seconds: float) -> None:
        self.metrics.record_event(inc, outcome, seconds)
        if outcome.outgoing and self.election.is_runner:  # elsewhere the runner's worker finds the rows
            self.app.worker.wake()

    def _reason(self, exc: BaseException) -> str:
        """One line about ``exc`` with every configured secret masked."""
        text = SecretFilter(secrets_of(self.config)).redact(f"{type(exc).__name__}: {exc}")
        return (text.strip().splitlines() or [type(exc).__name__])[0]

    def _worker_running(self) -> bool:
        return self._worker is not None and not self._worker.done()

    def _runner_state(self) -> dict[str, Any]:
        return {"role": self.role, "is_runner": self.election.is_runner, "id": self.election.me,
                "holder": self.election.holder}

    def _scheduler_state(self) -> dict[str, Any]:
        """For /healthz: the jobs scheduled in this process (none unless it is the runner) and
        how many runs of each finished here since it started."""
        running = self.scheduler.running
        return {"running": running, "jobs": self.scheduler.job_ids if running else [],
                "runs": dict(self.scheduler.runs)}

    def _standby(self, frontend: Frontend) -> bool:
        return frontend in self._runner_only and frontend not in self._started

    @property
    def url(self) -> str:
        assert self.address is not None, "not started"
        host, port = self.address
        return f"http://{f'[{host}]' if ':' in host else host}:{port}"

    # --- start / stop ------------------------------------------------------------------

    async def start(self) -> None:
        """Start everything; on failure undo what was started and raise."""
        try:
            await self.app.start()
            # The KB index and config are built and live for the whole run: take them out of
            # the cyclic collector's walks (part of the search p99, see docs/kb.md "Latency").
            gc.freeze()
            if self.app.kb_reloader is not None:  # every replica follows `deskbot kb reload`
                self._kb_reload = asyncio.create_task(self.app.kb_reloader.run(self._kb_stop), name="kb-reload")
            for frontend in self.frontends:
                frontend.bind(self.app)
            # A runner-role process takes no webhooks: a misrouted one gets 404, not a second handler.
            routes = [] if self.role == "runner" else [route for f in self.frontends for route in f.routes()]
            self._http = web.AppRunner(make_app(self.status, routes), access_log=None,
                                       shutdown_timeout=HTTP_DRAIN)
            await self._http.setup()
            if self.role == "web":
                # Ready before it listens: on a shared port the kernel hands a new listener its
                # share of new connections at once, and a frontend not yet started answers 503.
                # (A web process registers nothing, so nothing needs the server up first.)
                await self._start_frontends()
            site = web.TCPSite(self._http, self.host, self.port, reuse_port=True if self.reuse_port else None)
            try:
                await site.start()
            except OSError as exc:
                hint = ""
                if exc.errno == errno.EADDRINUSE and self.config.server.reuse_port:
                    hint = (" (a runner process does not share the webhook port: give it a port of its own)"
                            if self.role == "runner" else
                            " (every process on a shared port needs server.reuse_port: true)")
                raise StartError(f"cannot listen on {self.listen}: {exc.strerror or exc}{hint}") from None
            host, port = self._http.addresses[0][:2]
            self.address = (str(host), int(port))
            log.info("listening on %s%s", self.url, " (port shared: reuse_port)" if self.reuse_port else "",
                     extra={"listen": self.url})
            if self.role == "web":
                log.info("role web: serving webhooks; the runner process delivers and schedules")
                await self.election.observe()  # /healthz names the runner all the same
            else:
                await self._start_frontends()
                await self.election.start()
        except BaseException:
            await self.stop()
            raise

    async def _start_frontends(self) -> None:
        for frontend in self.frontends:
            if frontend not in self._runner_only:
                await self._start_frontend(frontend)

    async def _start_frontend(self, frontend: Frontend) -> None:
        try:
            await frontend.start()
        except Exception as exc:  # noqa: BLE001 — e.g. a revoked token: say so in one line
            raise StartError(f"{frontend.platform}: cannot start: {self._reason(exc)}") from exc
        self._started.append(frontend)
        log.info("%s frontend started", frontend.platform, extra={"platform": frontend.platform})

    # --- runner role ----------------------------------------------------------------------

    async def _become_runner(self) -> None:
        """Start what only the runner runs: runner-only frontends, the outbox worker, the scheduler."""
        for frontend in self._runner_only:
            await self._start_frontend(frontend)
        self._worker_stop = asyncio.Event()
        self._worker = asyncio.create_task(
            self.app.worker.run(self._worker_stop, idle_seconds=self.idle_seconds,
                                shutdown_timeout=WORKER_STOP - 0.5),  # sends in flight may finish
            name="outbox-worker",
        )
        self.scheduler.start()
        if self.config.runner.watch_seconds > 0:
            self._watch = asyncio.create_task(self._watch_outbox(self.config.runner.watch_seconds),
                                              name="outbox-watch")
        self.metrics.runner.set(1)

    async def _watch_outbox(self, every: float) -> None:
        """Wake the worker when another process committed outbox rows (its own commits wake
        it directly): a look at the newest row id every ``every`` seconds."""
        seen: int | None = None
        failing = False
        while True:
            try:
                async with self.app.db.read() as s:
                    newest = await outbox.newest_id(s)
                if seen is not None and newest > seen:
                    self.app.worker.wake()
                seen = newest
                if failing:
                    log.info("outbox watch works again")
                    failing = False
            except Exception as exc:  # noqa: BLE001 — the worker's idle pass still finds the rows
                if not failing:  # once per outage, not 20 times a second
                    log.warning("outbox watch failed: %s", self._reason(exc))
                    failing = True
            await asyncio.sleep(every)  # the polling period itself, not a synchronisation

    async def _stop_being_runner(self) -> None:
        """Stop, together, the runner-only frontends, the scheduler and the outbox worker."""
        self.metrics.runner.set(0)
        if self._watch is not None:
            watch, self._watch = self._watch, None
            watch.cancel()
            await asyncio.gather(watch, return_exceptions=True)
        receiving = [f for f in self._started if f in self._runner_only]
        self._started = [f for f in self._started if f not in receiving]
        await asyncio.gather(
            *(_bounded(f"{f.platform} frontend", f.stop(), FRONTEND_STOP) for f in receiving),
            _bounded("scheduler", self.scheduler.stop(WORKER_STOP - 0.5), WORKER_STOP),
            self._stop_worker(),
        )

    async def _stop_worker(self) -> None:
        if self._worker is None:
            return
        worker, self._worker = self._worker, None
        self._worker_stop.set()
        self.app.worker.wake()
        done, _ = await asyncio.wait({worker}, timeout=WORKER_STOP)
        if not done:
            log.warning("outbox worker still busy after %ss: cancelled (pending rows stay queued)", WORKER_STOP)
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)

    async def stop(self) -> None:
        """Stop receiving, finish the events in hand, stop the worker and the scheduler, release
        the runner lock, close the database."""
        self.status.stopping = True
        self.stopping.set()
        if self._http is not None:
            http, self._http = self._http, None
            await _bounded("http server", http.cleanup(), HTTP_DRAIN + 0.5)
        started, self._started = self._started, []
        if started:
            await asyncio.gather(*(
                _bounded(f"{f.platform} frontend", f.stop(), FRONTEND_STOP) for f in reversed(started)
            ))
        await self.election.stop()  # the scheduler and the worker stop; the lock is released
        if self._kb_reload is not None:
            self._kb_stop.set()
            await _bounded("kb reload", asyncio.gather(self._kb_reload, return_exceptions=True), 5.0)  # type: ignore[arg-type]
            self._kb_reload = None
        # Last, after the worker that sends through them: frontends' own connections
        # (a frontend may have ``close()``, e.g. Telegram's HTTP session).
        for frontend in self.frontends:
            close = getattr(frontend, "close", None)
            if close is not None:
                await _bounded(f"{frontend.platform} connection", close(), 1.0)
        await self.app.close()
        log.info("stopped")


async def _bounded(what: str, step: Awaitable[None], seconds: float) -> None:
    try:
        async with asyncio.timeout(seconds):
            await step
    except TimeoutError:
        log.warning("%s did not stop within %ss", what, seconds)
    except Exception as exc:  # noqa: BLE001 — keep stopping the rest
        log.warning("%s failed to stop: %s", what, redact_secrets(f"{type(exc).__name__}: {exc}"))


async def serve(
    config: Config,
    *,
    frontends: Sequence[Frontend] | None = None,
    listen: str | None = None,
    database_url: str | None = None,
    out: TextIO | None = None,
    stop: asyncio.Event | None = None,
    on_started: Callable[[Runner], None] | None = None,
    role: str | None = None,
) -> int:
    """Run until SIGTERM / SIGINT (or ``stop`` is set); 0 after a clean stop.

    Prints ``deskbot: listening on http://HOST:PORT`` once serving (the real port when
    ``listen`` asks for port 0), so a supervisor or a test can find the server.
    """
    out = out or sys.stdout
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()

    def first_signal(signame: str) -> None:
        log.info("%s received: stopping", signame)
        stop.set()
        for sig in (signal.SIGTERM, signal.SIGINT):  # a second signal means: now
            loop.add_signal_handler(sig, second_signal, sig.name)

    def second_signal(signame: str) -> None:
        log.warning("%s received again: exiting without a clean stop", signame)
        os._exit(1)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, first_signal, sig.name)
    try:
        runner = Runner(config, build_frontends(config) if frontends is None else frontends,
                        listen=listen, database_url=database_url, role=role)
        await runner.start()
        print(f"deskbot: listening on {runner.url}", file=out, flush=True)
        if on_started is not None:
            on_started(runner)
        await stop.wait()
        await runner.stop()
        return 0
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
