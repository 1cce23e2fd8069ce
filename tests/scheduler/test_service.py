"""The scheduler service: jobs with stable ids run between start and stop (and again after a
restart), once at start, never overlapping, with the desk's clock; a failing run is logged
and the next one runs; stop lets a run in progress finish."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import pytest

from scheduler.jobs import jobs
from scheduler.service import JobSpec, SchedulerService, cron, every
from tests.support.clock import START, FakeClock

WAIT = 20.0


class Calls:
    """A job that records its calls and lets a test wait for the n-th."""

    def __init__(self, hold: asyncio.Event | None = None) -> None:
        self.calls: list[tuple[Any, datetime]] = []
        self.active = 0
        self.most_active = 0
        self.hold = hold
        self.entered = asyncio.Event()
        self.changed = asyncio.Condition()

    async def __call__(self, app: Any, now: datetime) -> None:
        self.entered.set()
        self.active += 1
        self.most_active = max(self.most_active, self.active)
        try:
            if self.hold is not None:
                await self.hold.wait()
        finally:
            self.active -= 1
        self.calls.append((app, now))
        async with self.changed:
            self.changed.notify_all()

    async def wait(self, count: int) -> None:
        async with asyncio.timeout(WAIT):
            async with self.changed:
                await self.changed.wait_for(lambda: len(self.calls) >= count)


def fake_app() -> Any:
    return SimpleNamespace(engine=SimpleNamespace(clock=FakeClock()))


async def test_jobs_run_at_start_with_the_app_and_its_clock_until_stopped() -> None:
    app, job = fake_app(), Calls()
    service = SchedulerService(app, [JobSpec("tick", job, every(seconds=0.05))])
    assert not service.running

    service.start()
    await job.wait(3)
    await service.stop()
    done = len(job.calls)
    await asyncio.sleep(0.2)  # time for several more ticks, had it not stopped

    assert len(job.calls) == done and not service.running
    assert all(called_app is app and now == START for called_app, now in job.calls)
    assert service.runs["tick"] == done


async def test_a_job_without_run_at_start_waits_for_its_trigger() -> None:
    job = Calls()
    service = SchedulerService(fake_app(), [JobSpec("later", job, every(hours=1), run_at_start=False)])
    service.start()
    try:
        (scheduled,) = service._scheduler.get_jobs()  # type: ignore[union-attr]
        assert (scheduled.next_run_time - datetime.now(scheduled.next_run_time.tzinfo)).total_seconds() > 3000
    finally:
        await service.stop()
    assert job.calls == []


async def test_jobs_coalesce_never_overlap_and_keep_their_ids() -> None:
    hold = asyncio.Event()
    slow = Calls(hold)
    service = SchedulerService(fake_app(), [JobSpec("slow", slow, every(seconds=0.02)),
                                            JobSpec("daily", Calls(), cron("30 8 * * mon-fri"), run_at_start=False)])
    service.start()
    try:
        scheduled = {j.id: j for j in service._scheduler.get_jobs()}  # type: ignore[union-attr]
        assert set(scheduled) == {"slow", "daily"} and service.job_ids == ["slow", "daily"]
        assert all(j.coalesce and j.max_instances == 1 and j.misfire_grace_time == 60 for j in scheduled.values())
        await asyncio.sleep(0.2)  # ten intervals go by while the first run is held
        assert slow.most_active == 1
        hold.set()
        await slow.wait(2)
    finally:
        await service.stop()
    assert slow.most_active == 1


async def test_stop_lets_a_run_in_progress_finish() -> None:
    hold = asyncio.Event()
    job = Calls(hold)
    service = SchedulerService(fake_app(), [JobSpec("slow", job, every(hours=1))])
    service.start()
    await asyncio.wait_for(job.entered.wait(), WAIT)

    stopping = asyncio.create_task(service.stop(timeout=WAIT))
    await asyncio.sleep(0.05)
    assert not stopping.done()  # waits for the run
    hold.set()
    await stopping

    assert len(job.calls) == 1


async def test_stop_cancels_a_run_that_outlasts_the_timeout() -> None:
    job = Calls(asyncio.Event())  # never released
    service = SchedulerService(fake_app(), [JobSpec("stuck", job, every(hours=1))])
    service.start()
    await asyncio.wait_for(job.entered.wait(), WAIT)

    await service.stop(timeout=0.1)

    assert job.active == 0 and job.calls == []  # cancelled, not completed


async def test_a_failing_run_is_logged_and_the_next_one_runs(caplog: pytest.LogCaptureFixture) -> None:
    runs = Calls()

    async def flaky(app: Any, now: datetime) -> None:
        await runs(app, now)
        if len(runs.calls) == 1:
            raise RuntimeError("database went away")

    service = SchedulerService(fake_app(), [JobSpec("flaky", flaky, every(seconds=0.05))])
    with caplog.at_level(logging.ERROR, logger="deskbot.scheduler"):
        service.start()
        await runs.wait(2)
        await service.stop()

    assert any("scheduled job flaky failed" in r.getMessage() for r in caplog.records)


async def test_the_service_starts_again_after_a_stop() -> None:
    job = Calls()
    service = SchedulerService(fake_app(), [JobSpec("tick", job, every(hours=1))])
    service.start()
    await job.wait(1)
    await service.stop()
    service.start()  # this process became the runner again
    await job.wait(2)
    await service.stop()
    assert len(job.calls) == 2


def test_job_ids_must_be_unique() -> None:
    job = Calls()
    with pytest.raises(ValueError, match="unique"):
        SchedulerService(fake_app(), [JobSpec("a", job, every(minutes=1)), JobSpec("a", job, every(minutes=2))])


def test_an_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        every()


def test_the_job_list_has_unique_ids() -> None:
    specs = jobs(fake_app())
    assert len({s.id for s in specs}) == len(specs)
    assert all(isinstance(s, JobSpec) for s in specs)
