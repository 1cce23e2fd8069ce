"""The jobs the runner process schedules (:class:`scheduler.service.SchedulerService`).

One line per job, with a stable id (it names the job in logs and ``/healthz``), e.g.::

    JobSpec("digests", digests_once, every(minutes=5)),

A job is ``async def job(app, now)``; it must be safe to run again (it records what it
did, keyed, in the same transaction as its effects), since a new runner runs every job
once as soon as it takes over. The outbox worker is not a job here: it is a
long-running loop of its own (:class:`bot.delivery.OutboxWorker`), started and stopped
with the scheduler.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scheduler.digest import digests_once
from scheduler.service import JobSpec, every
from scheduler.sweep import sweep_once

if TYPE_CHECKING:
    from bot.app import App


def jobs(app: App) -> list[JobSpec]:
    """Every scheduled job of ``app``."""
    return [
        JobSpec("sweep", sweep_once, every(minutes=1)),
        JobSpec("digests", digests_once, every(minutes=1)),  # each team's at its local digest_time, once a day
    ]
