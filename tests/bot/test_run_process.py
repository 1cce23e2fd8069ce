"""``deskbot run`` as a real process (the command line, with the loop test frontend in place of
Telegram): it prints where it listens, /healthz answers, /metrics moves after a ticket, the
logs have one line per event and no secret, and SIGTERM / SIGINT exit 0 within 10 s."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from tests.bot.conftest import ROOT, SAMPLE_CONFIG, _is_desk_var
from tests.bot.test_run import sample

TOKEN = "7311122233:AAH4xQ1rFz9Vb2lK8sTtY0pWmNcDe3fGhIj"
WEBHOOK_SECRET = "wh_Q8f2LmZp4RtY7uVxK3nB9cD"
SLACK_BOT = "xoxb-4471122334-5566778899001-Zr8QvL2mN4pT6wX9yB1cD3fG"
SLACK_SIGNING = "8f2b7c1d9e4a6b3c5d7e9f1a2b4c6d8e"
SECRETS = [TOKEN, TOKEN.split(":")[1], WEBHOOK_SECRET, SLACK_BOT, SLACK_SIGNING]
LISTENING = re.compile(r"deskbot: listening on (http://127\.0\.0\.1:\d+)")


@dataclass
class Process:
    proc: asyncio.subprocess.Process
    url: str

    async def stop(self, sig: signal.Signals) -> tuple[int, float, str]:
        """Send ``sig``; (exit code, seconds to exit, stderr)."""
        started = time.monotonic()
        self.proc.send_signal(sig)
        _, err = await asyncio.wait_for(self.proc.communicate(), 20)
        assert self.proc.returncode is not None
        return self.proc.returncode, time.monotonic() - started, err.decode()


@pytest.fixture
async def deskbot_run(tmp_path: Path) -> AsyncIterator[Process]:
    env = {k: v for k, v in os.environ.items() if not _is_desk_var(k)}
    env.update(PYTHONPATH=str(ROOT), PYTHONIOENCODING="utf-8", TELEGRAM_BOT_TOKEN=TOKEN,
               TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET, SLACK_BOT_TOKEN=SLACK_BOT,
               SLACK_SIGNING_SECRET=SLACK_SIGNING)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.bot.loop_frontend", "--config", str(SAMPLE_CONFIG), "--log-format", "json",
        "run", "--listen", "127.0.0.1:0", "--db", str(tmp_path / "run.db"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=str(tmp_path), env=env,
    )
    assert proc.stdout is not None
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        m = LISTENING.search(line)
        if m is None:
            proc.kill()
            _, err = await proc.communicate()
            pytest.fail(f"no 'listening on' line: {line!r}; stderr: {err.decode()[-2000:]}")
        yield Process(proc, m.group(1))
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def post_event(session: aiohttp.ClientSession, url: str, key: int, who: str, **fields: object) -> dict:
    async with session.post(url + "/loop/event", json={"who": who, "key": key, **fields}) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()  # type: ignore[no-any-return]


async def test_healthz_metrics_logs_and_sigterm(deskbot_run: Process) -> None:
    url = deskbot_run.url
    async with aiohttp.ClientSession() as session:
        async with session.get(url + "/healthz") as resp:
            health = await resp.json()
            assert resp.status == 200, health
        assert health["pid"] == deskbot_run.proc.pid and health["platforms"]["loop"]["connected"]
        async with session.get(url + "/metrics") as resp:
            before = await resp.text()
        assert sample(before, "deskbot_tickets_opened_total", team="it") is None

        posted = 1
        answer = await post_event(session, url, posted, "anna", text="Не работает VPN, не могу подключиться из дома")
        while not any("создана" in r["text"] for r in answer["replies"]):
            assert posted < 5, answer
            buttons = [b for r in answer["replies"] for b in r["buttons"]]
            picks = ([b for b in buttons if "Создать заявку" in b["label"]]
                     or [b for b in buttons if b["label"].startswith("Да")])
            assert picks, answer
            posted += 1
            answer = await post_event(session, url, posted, "anna", action=picks[0]["action"],
                                      ticket_id=picks[0].get("ticket_id"), value=picks[0].get("value"))

        async with session.get(url + "/metrics") as resp:
            after = await resp.text()
    assert sample(after, "deskbot_tickets_opened_total", team="it") == 1.0
    assert (sample(after, "deskbot_events_handled_total", platform="loop", kind="text") or 0) >= 1
    assert (sample(after, "deskbot_event_handling_seconds_count", platform="loop") or 0) >= 2

    code, seconds, err = await deskbot_run.stop(signal.SIGTERM)

    assert code == 0, err[-2000:]
    assert seconds < 10
    records = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert records and len(records) == len(err.strip().splitlines()), "every log line is one JSON object"
    handled = [r for r in records if r["msg"] == "event handled"]
    assert len(handled) == posted  # one line per event
    assert all(r["platform"] == "loop" and r["person"] == "anna" and "action" in r for r in handled)
    assert any(r.get("ticket") == 1 for r in handled)
    assert any("connect" in r["msg"] and "/bot***/getMe" in r["msg"] for r in records)  # redacted, not dropped
    for secret in SECRETS:
        assert secret not in err


async def test_sigint_also_stops_cleanly(deskbot_run: Process) -> None:
    async with aiohttp.ClientSession() as session:
        await post_event(session, deskbot_run.url, 1, "anna", text="/help")

    code, seconds, err = await deskbot_run.stop(signal.SIGINT)

    assert code == 0, err[-2000:]
    assert seconds < 10
    assert "Traceback" not in err
