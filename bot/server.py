"""The one HTTP server of ``deskbot run``: ``/healthz``, ``/metrics`` and the frontends' routes.

``/healthz`` answers JSON: the database (reachable?), each platform's own report
(``Frontend.health()``; ``connected`` must be true, unless the platform is on
``standby``: it receives only in the runner process), the outbox worker, the outbox
backlog and the age of its oldest row, the pid, the runner (``runner.is_runner``:
whether this process is the one running the outbox worker and the scheduler, ``id``:
this process's holder id, ``holder``: the runner's) and the scheduler (``jobs``: the
ids scheduled here, none outside the runner; ``runs``: finished runs per job). 200 when
everything is well (the worker must run in the runner, nowhere else), 503 otherwise
(also while shutting down), so a load balancer or systemd watchdog can act on the
status alone. ``/metrics`` is the Prometheus text format of :mod:`bot.metrics`.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.config import redact_secrets
from bot.frontend import Frontend
from bot.metrics import CONTENT_TYPE, Metrics
from handlers.ports import Clock
from store import health
from store.db import Database

log = logging.getLogger("deskbot.server")

DB_TIMEOUT = 5.0  # seconds a health or metrics query may take before the database counts as down


@dataclass
class Status:
    """What the HTTP handlers look at; :class:`bot.run.Runner` keeps it current."""

    db: Database
    frontends: Sequence[Frontend]
    metrics: Metrics
    clock: Clock
    worker_running: Callable[[], bool]
    # this process's runner role: {"role": "all"|"web"|"runner", "is_runner": bool, "id": str, "holder": str | None}
    runner: Callable[[], dict[str, Any]] = lambda: {"is_runner": True}
    scheduler: Callable[[], dict[str, Any]] = lambda: {}
    standby: Callable[[Frontend], bool] = lambda _frontend: False  # receives only in the runner
    stopping: bool = False


def _frontend_health(frontend: Frontend, standby: bool) -> dict[str, Any]:
    try:
        report = dict(frontend.health())
    except Exception as exc:  # noqa: BLE001 — a broken health() is itself unhealthy
        return {"connected": False, "error": redact_secrets(f"{type(exc).__name__}: {exc}")}
    report["connected"] = bool(report.get("connected"))
    if standby:
        report["standby"] = True
    return report


async def health_report(status: Status) -> tuple[bool, dict[str, Any]]:
    """``(healthy, report)`` for /healthz."""
    database: dict[str, Any] = {"ok": True}
    outbox: dict[str, Any] = {"backlog": None, "oldest_age_seconds": None}
    try:
        async with asyncio.timeout(DB_TIMEOUT):
            async with status.db.transaction() as s:
                await health.ping(s)
                backlog = await health.outbox_backlog(s)
        outbox["backlog"] = backlog.pending
        oldest = backlog.oldest_created_at
        outbox["oldest_age_seconds"] = (
            round(max(0.0, (status.clock() - oldest).total_seconds()), 3) if oldest is not None else 0.0
        )
    except Exception as exc:  # noqa: BLE001 — any failure means the database is not usable
        reason = "timeout" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
        database = {"ok": False, "error": redact_secrets(reason.splitlines()[0] if reason else "error")}
    platforms = {f.platform: _frontend_health(f, status.standby(f)) for f in status.frontends}
    worker = {"running": status.worker_running()}
    runner = status.runner()
    healthy = (
        database["ok"] and all(p["connected"] or p.get("standby") for p in platforms.values())
        and worker["running"] == bool(runner.get("is_runner")) and not status.stopping
    )
    report = {
        "status": "ok" if healthy else ("stopping" if status.stopping else "unhealthy"),
        "pid": os.getpid(),
        "database": database,
        "platforms": platforms,
        "worker": worker,
        "outbox": outbox,
        "runner": runner,
        "scheduler": status.scheduler(),
    }
    return healthy, report


def make_app(status: Status, routes: Sequence[web.RouteDef] = ()) -> web.Application:
    """The aiohttp application: /healthz, /metrics and the frontends' ``routes``."""

    async def healthz(request: web.Request) -> web.Response:
        healthy, report = await health_report(status)
        return web.json_response(report, status=200 if healthy else 503)

    async def metrics(request: web.Request) -> web.Response:
        try:
            async with asyncio.timeout(DB_TIMEOUT):
                await status.metrics.refresh(status.db, status.clock())
        except Exception as exc:  # noqa: BLE001 — serve the process counters anyway
            log.warning("metrics: database numbers not refreshed: %s",
                        redact_secrets(f"{type(exc).__name__}: {exc}").splitlines()[0])
        return web.Response(body=status.metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    app = web.Application()
    app.add_routes([web.get("/healthz", healthz), web.get("/metrics", metrics), *routes])
    return app
