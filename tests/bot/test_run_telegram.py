"""Must-show 8: ``deskbot run`` as a subprocess against the fake Bot API — the real command
line, the real Telegram frontend polling over loopback, the real outbox worker and sender.
/healthz answers, /metrics shows the counters moving after a ticket, SIGTERM exits 0
within 10 s, and the bot token appears nowhere in the output."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
import time
from pathlib import Path

import aiohttp
import pytest

pytest.importorskip("bot.telegram.frontend")  # merged with the Telegram frontend (h-tgin)
from tests.bot.conftest import ROOT, SAMPLE_CONFIG, _is_desk_var  # noqa: E402
from tests.bot.test_run import sample  # noqa: E402
from tests.fakes.telegram import FakeTelegram  # noqa: E402

TOKEN = "7311122233:AAH4xQ1rFz9Vb2lK8sTtY0pWmNcDe3fGhIj"
ANNA, BORIS, IT_CHAT = 100001, 100002, -1001000000001  # as in config.yaml
LISTENING = re.compile(r"deskbot: listening on (http://127\.0\.0\.1:\d+)")


async def get(session: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with session.get(url) as resp:
        return resp.status, await resp.text()


async def test_deskbot_run_against_the_fake_bot_api(tmp_path: Path) -> None:
    async with FakeTelegram(token=TOKEN) as fake:
        anna = fake.user(ANNA, "Anna", language_code="ru")
        it = fake.group(IT_CHAT, "IT support", forum=False)
        env = {k: v for k, v in os.environ.items() if not _is_desk_var(k)}
        env.update(PYTHONPATH=str(ROOT), PYTHONIOENCODING="utf-8", TELEGRAM_BOT_TOKEN=TOKEN,
                   TELEGRAM_API_BASE=fake.base_url)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "--config", str(SAMPLE_CONFIG), "--log-format", "json",
            "run", "--listen", "127.0.0.1:0", "--db", str(tmp_path / "desk.db"),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=str(tmp_path), env=env,
        )
        assert proc.stdout is not None
        try:
            line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
            found = LISTENING.search(line)
            assert found, (line, (await proc.stderr.read()).decode()[-3000:] if proc.stderr else "")
            url = found.group(1)
            await fake.wait_call("getUpdates", timeout=20)  # polling

            async with aiohttp.ClientSession() as session:
                status, body = await get(session, url + "/healthz")
                health = json.loads(body)
                assert status == 200, health
                assert health["platforms"]["telegram"]["connected"] is True and health["pid"] == proc.pid
                before = (await get(session, url + "/metrics"))[1]
                assert sample(before, "deskbot_tickets_opened_total", team="it") is None

                await anna.says("Не работает VPN, не могу подключиться из дома")
                offer = await anna.receives("статьях", timeout=20)  # KB articles + "Создать заявку"
                await anna.presses(offer, "Создать заявку")
                confirm = await anna.receives("VPN и сеть", timeout=20)
                await anna.presses(confirm, "Да")
                await anna.receives("создана", timeout=20)
                await it.receives("#1", timeout=20)  # the card reached the IT group

                after = (await get(session, url + "/metrics"))[1]
            assert sample(after, "deskbot_tickets_opened_total", team="it") == 1.0
            assert (sample(after, "deskbot_events_handled_total", platform="telegram", kind="text") or 0) >= 1
            assert (sample(after, "deskbot_events_handled_total", platform="telegram", kind="button") or 0) >= 2
            assert (sample(after, "deskbot_sends_total", platform="telegram", outcome="sent") or 0) >= 3

            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            _, err_bytes = await asyncio.wait_for(proc.communicate(), 20)
            seconds = time.monotonic() - started
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    err = err_bytes.decode()
    assert proc.returncode == 0, err[-3000:]
    assert seconds < 10
    assert TOKEN not in err and TOKEN.split(":")[1] not in err
    handled = [r for r in map(json.loads, err.splitlines()) if r["msg"] == "event handled"]
    assert len(handled) >= 3 and {r["platform"] for r in handled} == {"telegram"}
    assert any(r["ticket"] == 1 and r["person"] == "anna" for r in handled)
