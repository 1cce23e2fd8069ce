"""A desk process killed right after a listener's ``ack()`` loses nothing.

The desk runs as a child process (``child()`` below) serving ``/slack/events`` on
loopback; the fake Slack in this test's loop posts a signed DM event to it. The child
stops dead at one of the two worst moments — right after ``ack()`` before the engine ran
(``HANG=before``), or after the engine committed but before the HTTP answer went out
(``HANG=after``) — and is killed with SIGKILL. Slack got no answer (bolt answers only
after the listener returned: ``process_before_response``), so it redelivers the event
(``X-Slack-Retry-Num: 1``, same ``event_id``) to the restarted desk, which handles it
exactly once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import select

from store.db import Database
from store.models import InboxEvent, OutboxMessage
from tests.fakes.slack import FakeSlack

ROOT = Path(__file__).resolve().parents[3]
WAIT = 60.0
TOKEN = "xoxb-0000000001-0000000002-killTESTtoken"
SECRET = "eccbc87e4b5ce2fe28308fd9f2a7baf3"


def child() -> None:
    asyncio.run(_child())


async def _child() -> None:
    from aiohttp import web

    from bot.app import build
    from bot.slack.frontend import SlackFrontend
    from bot.slack.handoff import Handoff
    from handlers.events import Incoming, Outcome
    from tests.support.clock import FakeClock
    from tests.support.desk import RecordingSender
    from tests.support.scenarios import FakeKb, make_config

    hang = os.environ.get("HANG", "")

    class Hanging(Handoff):
        async def handle(self, inc: Incoming) -> Outcome:
            if hang == "before":
                print(f"acked {inc.event_key}", flush=True)  # the listener called ack() already
                await asyncio.Event().wait()
            outcome = await super().handle(inc)  # committed when this returns
            print(f"handled {inc.event_key} duplicate={outcome.duplicate}", flush=True)
            if hang == "after":
                await asyncio.Event().wait()
            return outcome

    section = {"bot_token": TOKEN, "signing_secret": SECRET, "api_base": os.environ["FAKE_BASE"]}
    config = make_config(lambda data: data.__setitem__("slack", section))
    front = SlackFrontend(config, sender=RecordingSender(platform="slack"), desk=Hanging())
    app = build(config, senders={"slack": front.sender}, database_url=os.environ["DB_URL"],
                clock=FakeClock(), kb=FakeKb())
    await app.start()
    front.bind(app)
    server = web.Application()
    server.add_routes(front.routes())
    runner = web.AppRunner(server, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    await front.start()
    print(f"listening {runner.addresses[0][1]}", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await front.stop()
    await runner.cleanup()
    await app.close()


async def spawn(fake: FakeSlack, db_url: str, hang: str = "") -> tuple[asyncio.subprocess.Process, str]:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("DESKBOT_", "SLACK_", "TELEGRAM_"))},
           "PYTHONPATH": str(ROOT), "FAKE_BASE": fake.base_url, "DB_URL": db_url, "HANG": hang}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from tests.bot.slack.test_receive_kill import child; child()",
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    line = await read_line(proc, "listening")
    return proc, f"http://127.0.0.1:{line.split()[1]}/slack/events"


async def read_line(proc: asyncio.subprocess.Process, prefix: str) -> str:
    assert proc.stdout is not None

    async def read() -> str:
        while True:
            raw = await proc.stdout.readline()  # type: ignore[union-attr]
            if not raw:
                stderr = await proc.stderr.read() if proc.stderr else b""  # type: ignore[union-attr]
                raise AssertionError(f"child ended early:\n{stderr.decode()[-2000:]}")
            if raw.decode().startswith(prefix):
                return raw.decode().strip()

    return await asyncio.wait_for(read(), WAIT)


async def counts(db_url: str) -> tuple[int, int]:
    db = Database(db_url)
    try:
        async with db.transaction() as s:
            events = (await s.exec(select(func.count()).select_from(InboxEvent))).one()
            replies = (await s.exec(select(func.count()).select_from(OutboxMessage)
                                    .where(OutboxMessage.platform == "slack"))).one()
            return events, replies
    finally:
        await db.dispose()


@pytest.mark.parametrize("hang", ["before", "after"])
async def test_killed_right_after_the_ack_then_restarted_handles_the_event_once(db_url: str, hang: str) -> None:
    async with FakeSlack(token=TOKEN, signing_secret=SECRET, rate_limits=False) as fake:
        anna = fake.user("U0000ANNA", "Anna Ivanova", locale="ru-RU")
        first, url = await spawn(fake, db_url, hang)
        fake.request_url = url
        try:
            said = asyncio.create_task(anna.says("VPN is down"))
            await read_line(first, "acked" if hang == "before" else "handled")
        finally:
            first.send_signal(signal.SIGKILL)
            await first.wait()
        post = (await said).post
        assert first.returncode == -signal.SIGKILL
        assert not post.ok  # Slack never saw a 200 for it: it will redeliver
        assert await counts(db_url) == ((0, 0) if hang == "before" else (1, 1))

        second, fake.request_url = await spawn(fake, db_url)
        try:
            retry = (await fake.redeliver(post, 1, reason="http_error"))[0]
            assert retry.status == 200
            line = await read_line(second, "handled")
            assert line.endswith(f"duplicate={hang == 'after'}")
        finally:
            second.send_signal(signal.SIGTERM)
            await asyncio.wait_for(second.wait(), WAIT)
        assert second.returncode == 0
    assert await counts(db_url) == (1, 1)  # one event, one answer (the KB suggestions)
