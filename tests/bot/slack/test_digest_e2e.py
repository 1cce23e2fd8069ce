"""The daily digest with its chart arrives in the IT leads' Slack channel of the fake Web API.

``digests_once`` runs on a fake clock (the scheduler's wiring is not needed for this); the
real outbox worker delivers through the real Slack sender (slack_sdk's files_upload_v2:
getUploadURLExternal, the upload, completeUploadExternal) to the fake, which keeps the
uploaded bytes: the test opens them as a PNG.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from PIL import Image

from bot.app import build
from bot.delivery import UNLIMITED
from bot.slack.sender import SlackSender
from scheduler.digest import digests_once
from store import tickets
from tests.fakes.slack import FakeSlack
from tests.support.clock import FakeClock
from tests.support.scenarios import FakeKb, make_config
from tests.support.slack import WAIT, client_for

TOKEN = "xoxb-0000000001-0000000002-digestTESTtoken"
SIGNING = "8f14e45fceea167a5a36dedd4bea2543"
LEADS = "C00ITLEADS"
MSK = ZoneInfo("Europe/Moscow")


async def test_the_digest_and_its_chart_arrive_in_the_lead_channel(sqlite_url: str) -> None:
    fake = FakeSlack(token=TOKEN, signing_secret=SIGNING, rate_limits=False)
    await fake.start()
    try:
        fake.user("U0000GLEB", "Gleb Orlov", locale="ru-RU", tz="Europe/Moscow")
        leads = fake.channel(LEADS, "it-leads", members=["U0000GLEB"])

        def change(data: dict[str, Any]) -> None:
            data["slack"] = {"bot_token": TOKEN, "signing_secret": SIGNING, "api_base": fake.base_url}
            data["teams"]["it"]["lead_chats"] = {"slack": LEADS}
            data["teams"]["it"]["locale"] = "ru"

        config = make_config(change)
        sender = SlackSender(client_for(fake), rate_policy=UNLIMITED)
        clock = FakeClock(datetime(2026, 12, 1, 9, 1, tzinfo=MSK).astimezone(UTC))
        app = build(config, senders={"slack": sender}, database_url=sqlite_url, clock=clock, kb=FakeKb())
        await app.start()
        sender.bind(app.db)
        try:
            async with app.db.transaction() as s:  # one ticket filed on Monday, still open
                await tickets.create_ticket(
                    s, team="it", category="hardware", priority="normal", requester_id=1, text="принтер",
                    platform="slack", now=datetime(2026, 11, 30, 11, 0, tzinfo=MSK).astimezone(UTC),
                    first_response_due=None, resolution_due=None)

            assert await digests_once(app) == ["digest:it:2026-11-30"]
            while await app.worker.deliver_pending():
                pass

            text = await leads.sees("ИТ-поддержка — сводка за понедельник, 30 ноября 2026", timeout=WAIT)
            assert "Создано 1" in text.text and "открыто сейчас 1" in text.text
            upload = await fake.wait_for(lambda: next((m for m in leads.messages() if m.files), None), WAIT)
            (shared,) = upload.files
            assert shared["name"] == "it-2026-11-30.png"
            content = fake.files[shared["id"]]["_content"]
            with Image.open(io.BytesIO(content)) as image:
                assert image.format == "PNG" and image.size == (900, 400)
            assert len(fake.calls_of("files.completeUploadExternal")) == 1

            assert await digests_once(app) == []  # nothing twice
            while await app.worker.deliver_pending():
                pass
            assert len([m for m in leads.messages() if m.files]) == 1
        finally:
            await app.close()
    finally:
        await fake.close()
    assert fake.block_errors == [], fake.block_errors
