"""``digests_once`` on a fake clock: due at the team's local digest time, sent once (across
runs, a second App and concurrent runs), and after downtime only the latest, late, with its date."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import select

from bot.app import App, build
from bot.config import Config
from scheduler.digest import digests_once
from store.models import OutboxMessage, ScheduledAction
from tests.support.clock import FakeClock
from tests.support.desk import RecordingSender
from tests.support.scenarios import FakeKb, make_config

MSK = ZoneInfo("Europe/Moscow")
LEADS = "C00ITLEADS"


def leads_config() -> Config:
    def change(data: dict[str, Any]) -> None:
        data["teams"]["it"]["lead_chats"] = {"slack": LEADS}
        data["teams"]["it"]["digest_time"] = "09:00"

    return make_config(change)


@asynccontextmanager
async def slack_app(config: Config, db_url: str, clock: FakeClock) -> AsyncIterator[tuple[App, RecordingSender]]:
    sender = RecordingSender(platform="slack")
    app = build(config, senders={"slack": sender}, database_url=db_url, clock=clock, kb=FakeKb())
    await app.start()
    try:
        yield app, sender
    finally:
        await app.close()


async def deliver(app: App) -> None:
    while await app.worker.deliver_pending():
        pass


async def digest_rows(app: App) -> tuple[list[str], int]:
    async with app.db.transaction() as s:
        keys = list(await s.exec(select(ScheduledAction.key).where(ScheduledAction.kind == "digest")))
        outbox = (await s.exec(select(func.count()).select_from(OutboxMessage))).one()
    return sorted(keys), outbox


def msk(day: int, hour: int, minute: int = 0, month: int = 12) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=MSK).astimezone(UTC)


async def test_the_digest_goes_out_at_the_local_time_once(db_url: str) -> None:
    clock = FakeClock(msk(1, 8, 59))
    config = leads_config()
    async with slack_app(config, db_url, clock) as (app, sender):
        assert await digests_once(app) == []  # 08:59 in Moscow: not yet
        clock.now = msk(1, 9, 0)
        assert await digests_once(app) == ["digest:it:2026-11-30"]  # only IT has a lead chat
        await deliver(app)
        (got,) = sender.messages
        assert got.chat == LEADS
        assert got.text.startswith("IT support — digest for Monday, November 30, 2026")
        assert "Sent late" not in got.text
        (chart,) = got.files
        assert chart.data is not None and chart.data.startswith(b"\x89PNG") and chart.kind == "photo"

        clock.advance(minutes=30)
        assert await digests_once(app) == []  # the same process, later
        async with slack_app(config, db_url, clock) as (again, _):  # another process on the same database
            assert await digests_once(again) == []
        assert await digest_rows(app) == (["digest:it:2026-11-30"], 1)


async def test_concurrent_runs_send_one_digest(db_url: str) -> None:
    clock = FakeClock(msk(1, 9, 5))
    config = leads_config()
    async with slack_app(config, db_url, clock) as (one, _), slack_app(config, db_url, clock) as (two, _):
        results = await asyncio.gather(digests_once(one), digests_once(two), digests_once(one))
        assert sorted(k for r in results for k in r) == ["digest:it:2026-11-30"]
        assert await digest_rows(one) == (["digest:it:2026-11-30"], 1)


async def test_after_three_days_down_only_the_latest_digest_is_sent_late_with_its_date(db_url: str) -> None:
    clock = FakeClock(msk(28, 10, 0, month=11))  # Saturday
    config = leads_config()
    async with slack_app(config, db_url, clock) as (app, sender):
        assert await digests_once(app) == ["digest:it:2026-11-27"]
        await deliver(app)
    clock.now = msk(1, 14, 0)  # down until Tuesday 14:00: Sunday's, Monday's and Tuesday's were due
    async with slack_app(config, db_url, clock) as (app, sender):
        assert await digests_once(app) == ["digest:it:2026-11-30"]
        assert await digests_once(app) == []
        await deliver(app)
        (late,) = sender.messages
        assert late.text.startswith("IT support — digest for Monday, November 30, 2026")
        assert "Sent late: it was due Dec 1 9:00\u202fAM MSK" in late.text
        clock.advance(days=1)  # Wednesday 14:00: back to normal, one a day
        assert await digests_once(app) == ["digest:it:2026-12-01"]
        assert await digest_rows(app) == (["digest:it:2026-11-27", "digest:it:2026-11-30", "digest:it:2026-12-01"], 3)


async def test_a_team_zone_decides_the_local_time(db_url: str) -> None:
    def tokyo(data: dict[str, Any]) -> None:
        data["calendars"]["tokyo"] = {"timezone": "Asia/Tokyo"}
        data["teams"]["hr"]["calendar"] = "tokyo"
        data["teams"]["hr"]["lead_chats"] = {"slack": "C00HRLEADS"}
        data["teams"]["hr"]["digest_time"] = "08:30"
        data["teams"]["hr"]["locale"] = "ru"

    config = make_config(tokyo)
    at = datetime(2026, 12, 1, 8, 30, tzinfo=ZoneInfo("Asia/Tokyo")).astimezone(UTC)  # 02:30 in Moscow
    clock = FakeClock(at - timedelta(minutes=1))
    async with slack_app(config, db_url, clock) as (app, sender):
        assert await digests_once(app) == []
        clock.now = at
        assert await digests_once(app) == ["digest:hr:2026-11-30"]
        await deliver(app)
        (got,) = sender.messages
        assert got.chat == "C00HRLEADS" and got.text.startswith("Отдел кадров — сводка за понедельник, 30 ноября")


async def test_a_team_whose_digest_fails_does_not_hold_back_the_others(sqlite_url: str, monkeypatch: Any) -> None:
    from scheduler import digest

    def both(data: dict[str, Any]) -> None:
        data["teams"]["it"]["lead_chats"] = {"slack": LEADS}
        data["teams"]["hr"]["lead_chats"] = {"slack": "C00HRLEADS"}

    real = digest.compute

    async def broken_for_hr(s: Any, config: Config, team: str, *args: Any) -> Any:
        if team == "hr":
            raise RuntimeError("hr is broken")
        return await real(s, config, team, *args)

    monkeypatch.setattr(digest, "compute", broken_for_hr)
    clock = FakeClock(msk(1, 9, 30))
    async with slack_app(make_config(both), sqlite_url, clock) as (app, _):
        assert await digests_once(app) == ["digest:it:2026-11-30"]
        monkeypatch.setattr(digest, "compute", real)
        assert await digests_once(app) == ["digest:hr:2026-11-30"]  # retried on the next run
