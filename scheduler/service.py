"""The scheduler of the runner process: APScheduler 3's ``AsyncIOScheduler`` over thin jobs.

A job is a :class:`JobSpec`: a stable id, an ``async def job(app, now)`` and a trigger
(:func:`every` or :func:`cron`). :mod:`scheduler.jobs` lists them. Nothing is scheduled
at import time: :class:`SchedulerService` builds a fresh scheduler on :meth:`start`
(called when the process becomes the runner) and shuts it down on :meth:`stop` (when it
stops being the runner, or ``deskbot run`` stops).

Every job is added with ``coalesce=True`` (runs missed while the event loop was busy
collapse into one), ``max_instances=1`` (a slow run is never overlapped by the next) and
a misfire grace time. With ``run_at_start`` (the default) a job also runs as soon as the
scheduler starts, so a process that has just taken over catches up at once instead of
waiting a whole interval. The jobs themselves make that safe: what they do is recorded
in the database (``scheduled_action`` keys), so a repeated run repeats nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger("deskbot.scheduler")

MISFIRE_GRACE_SECONDS = 60  # a run late by more than this (event loop blocked) is skipped

JobFunc = Callable[["App", datetime], Awaitable[Any]]


@dataclass(frozen=True)
class JobSpec:
    """One scheduled job: ``func(app, now)`` whenever ``trigger`` fires."""

    id: str
    func: JobFunc
    trigger: BaseTrigger
    misfire_grace_seconds: int = MISFIRE_GRACE_SECONDS
    run_at_start: bool = True


def every(*, seconds: float = 0, minutes: float = 0, hours: float = 0) -> IntervalTrigger:
    """A trigger firing at a fixed interval."""
    if seconds <= 0 and minutes <= 0 and hours <= 0:
        raise ValueError("an interval must be positive")
    return IntervalTrigger(seconds=seconds, minutes=minutes, hours=hours, timezone=UTC)


def cron(expression: str, *, timezone: str = "UTC") -> CronTrigger:
    """A trigger from a five-field crontab line (``"30 8 * * mon-fri"``) in ``timezone``."""
    return CronTrigger.from_crontab(expression, timezone=timezone)


class SchedulerService:
    """Runs ``specs`` for ``app`` between :meth:`start` and :meth:`stop`; restartable."""

    def __init__(self, app: App, specs: Sequence[JobSpec]) -> None:
        ids = [spec.id for spec in specs]
        if len(set(ids)) != len(ids):
            raise ValueError(f"job ids must be unique: {ids}")
        self.app = app
        self.specs = list(specs)
        self.runs: dict[str, int] = {spec.id: 0 for spec in specs}  # finished runs, per job
        self._scheduler: AsyncIOScheduler | None = None
        self._running: set[asyncio.Task[Any]] = set()

    @property
    def running(self) -> bool:
        return self._scheduler is not None

    @property
    def job_ids(self) -> list[str]:
        return [spec.id for spec in self.specs]

    def start(self) -> None:
        """Schedule every job (in the running event loop)."""
        if self._scheduler is not None:
            return
        logging.getLogger("apscheduler").setLevel(logging.WARNING)  # not two INFO lines per run
        scheduler = AsyncIOScheduler(timezone=UTC)
        now = datetime.now(UTC)
        for spec in self.specs:
            scheduler.add_job(
                self._run, trigger=spec.trigger, args=(spec,), id=spec.id, name=spec.id,
                coalesce=True, max_instances=1, misfire_grace_time=spec.misfire_grace_seconds,
                replace_existing=True, **({"next_run_time": now} if spec.run_at_start else {}),
            )
        scheduler.start()
        self._scheduler = scheduler
        if self.specs:
            log.info("scheduler started: %s", ", ".join(self.job_ids))

    async def stop(self, timeout: float = 2.0) -> None:
        """No new runs; runs in progress get ``timeout`` seconds to finish, then are cancelled
        (their transaction rolls back: nothing half-done is committed)."""
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is None:
            return
        scheduler.pause()
        if self._running:
            _, late = await asyncio.wait(set(self._running), timeout=timeout)
            for task in late:
                task.cancel()
            if late:
                log.warning("%d scheduled jobs still running after %ss: cancelled", len(late), timeout)
                await asyncio.gather(*late, return_exceptions=True)
        scheduler.shutdown(wait=False)
        await asyncio.sleep(0)  # AsyncIOScheduler shuts down in a loop callback

    async def _run(self, spec: JobSpec) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._running.add(task)
        try:
            await spec.func(self.app, self.app.engine.clock())
        except Exception:  # noqa: BLE001 — logged here; the next run tries again
            log.exception("scheduled job %s failed", spec.id, extra={"job": spec.id})
        finally:
            self._running.discard(task)
            self.runs[spec.id] += 1
