"""Must-show 8 for real: ``deskbot run`` (the command line, ``python -m bot``) as a
subprocess with the sample config's Telegram platform switched on by its environment
variables and pointed at the fake Bot API, in polling and in webhook mode.

anna (telegram 100001 in config.yaml) writes to the bot through the fake and files a
ticket (the KB articles first, then "Создать заявку", then "Да, …"); the IT group
(-1001000000001) gets the card. ``/healthz`` answers 200 with the telegram platform
connected and the database ok; ``/metrics`` shows the event counters, the tickets opened
and the sends by outcome moved compared with a scrape taken before the ticket; SIGTERM
exits 0 within 10 s; neither stdout nor stderr ever shows the token or the webhook secret.

Webhook mode and loopback: the config accepts only an https:// webhook URL (as Telegram
does), and ``deskbot run`` offers no way around that, which is right: in production a
reverse proxy terminates TLS and forwards to ``server.listen`` (docs/telegram.md). The
test plays that proxy: the bot registers the public https URL with ``setWebhook`` (the
test checks URL, secret and allowed updates), then the fake's registered webhook URL is
pointed at the run server's loopback ``/telegram/webhook``, which is where the proxy
would forward. Everything after that — the secret header, the 200 only after the
commit — is the real server's.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from handlers.texts import translator
from tests.bot.conftest import ROOT, SAMPLE_CONFIG, _is_desk_var
from tests.bot.telegram.test_story_e2e import with_button
from tests.bot.test_run import sample
from tests.bot.test_run_process import LISTENING, TOKEN, WEBHOOK_SECRET
from tests.fakes.telegram import FakeTelegram
from tests.support.telegram import BotMessage, Group, Person, as_update

ANNA, IT_CHAT = 100001, -1001000000001  # as in config.yaml
PUBLIC_WEBHOOK = "https://desk.example.com/telegram/webhook"  # what an operator configures
SECRETS = [TOKEN, TOKEN.split(":")[1], WEBHOOK_SECRET]
PROBLEM = "Не работает VPN, не могу подключиться из дома"
START_TIMEOUT = 90.0  # a cold start migrates a new database; slow on a loaded machine
ru = translator("ru")  # anna's language
team = translator("en")  # the IT group's: no team locale, desk.default_locale is en


@dataclass
class Run:
    proc: asyncio.subprocess.Process
    url: str
    first_line: str

    async def stop(self, sig: signal.Signals) -> tuple[int, float, str, str]:
        """Send ``sig``; (exit code, seconds to exit, whole stdout, stderr)."""
        started = time.monotonic()
        self.proc.send_signal(sig)
        out, err = await asyncio.wait_for(self.proc.communicate(), 30)
        assert self.proc.returncode is not None
        return self.proc.returncode, time.monotonic() - started, self.first_line + out.decode(), err.decode()


@asynccontextmanager
async def deskbot_run(fake: FakeTelegram, mode: str, tmp_path: Path, *, db: str | None = None,
                      config: Path = SAMPLE_CONFIG) -> AsyncIterator[Run]:
    """``deskbot run`` on ``db`` (default: a SQLite file in ``tmp_path``) with ``config``."""
    env = {k: v for k, v in os.environ.items() if not _is_desk_var(k)}
    env.update(PYTHONPATH=str(ROOT), PYTHONIOENCODING="utf-8",
               TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE=fake.base_url, TELEGRAM_MODE=mode,
               TELEGRAM_WEBHOOK_URL=PUBLIC_WEBHOOK, TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "--config", str(config), "--log-format", "json",
        "run", "--listen", "127.0.0.1:0", "--db", db or str(tmp_path / "desk.db"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=str(tmp_path), env=env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), START_TIMEOUT)).decode()
        found = LISTENING.search(line)
        if found is None:
            proc.kill()
            _, err = await proc.communicate()
            pytest.fail(f"no 'listening on' line: {line!r}; stderr: {err.decode()[-3000:]}")
        yield Run(proc, found.group(1), line)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def get(session: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with session.get(url) as resp:
        return resp.status, await resp.text()


async def healthy(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    """/healthz once the process is up (a bounded poll: only the start is waited for)."""
    deadline = time.monotonic() + 20
    while True:
        status, body = await get(session, url + "/healthz")
        if status == 200 or time.monotonic() > deadline:
            report: dict[str, Any] = json.loads(body)
            assert status == 200, report
            return report
        await asyncio.sleep(0.1)


async def files_vpn_ticket(anna: Person, it: Group) -> BotMessage:
    """anna writes PROBLEM, opens ticket #1 past the KB offer with the guessed category (VPN
    and network); returns its card in the IT group."""
    await anna.says(PROBLEM)
    offer = await with_button(anna, ru("btn_open_ticket"))
    await anna.presses(offer, ru("btn_open_ticket"))
    yes = ru("btn_yes_category", category="").strip(" ,")
    guess = await with_button(anna, yes)
    assert any("VPN и сеть" in b for b in guess.buttons), guess.buttons
    await anna.presses(guess, next(b for b in guess.buttons if b.startswith(yes)))
    await anna.sees("#1", timeout=20)
    card = await with_button(it, team("btn_claim"))  # the card reached the IT group
    assert "#1" in card.text and "VPN" in card.text
    return card


def counters(text: str) -> dict[str, float]:
    """The numbers this test expects to move with one ticket (0 when not yet exported)."""
    return {
        "text events": sample(text, "deskbot_events_handled_total", platform="telegram", kind="text") or 0.0,
        "button events": sample(text, "deskbot_events_handled_total", platform="telegram", kind="button") or 0.0,
        "tickets opened (it)": sample(text, "deskbot_tickets_opened_total", team="it") or 0.0,
        "sends sent": sample(text, "deskbot_sends_total", platform="telegram", outcome="sent") or 0.0,
    }


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_deskbot_run_files_a_ticket_through_the_fake_bot_api(tmp_path: Path, mode: str) -> None:
    async with FakeTelegram(token=TOKEN) as fake:  # the real rate limits on
        anna = fake.user(ANNA, "Anna", last_name="Ivanova", language_code="ru")
        it = fake.group(IT_CHAT, "IT support", forum=False)
        async with deskbot_run(fake, mode, tmp_path) as run, aiohttp.ClientSession() as session:
            if mode == "webhook":
                (hook,) = await fake.wait_call("setWebhook", timeout=20)
                assert hook.params["url"] == PUBLIC_WEBHOOK
                assert hook.params["secret_token"] == WEBHOOK_SECRET
                assert {"message", "callback_query", "my_chat_member"} <= set(hook.params["allowed_updates"])
                assert fake.webhook is not None
                fake.webhook["url"] = run.url + "/telegram/webhook"  # the reverse proxy's forward
            else:
                await fake.wait_call("getUpdates", timeout=20)

            health = await healthy(session, run.url)
            assert health["pid"] == run.proc.pid and health["status"] == "ok"
            assert health["database"]["ok"] is True
            assert health["platforms"]["telegram"]["connected"] is True
            assert health["platforms"]["telegram"]["mode"] == mode
            before = counters((await get(session, run.url + "/metrics"))[1])

            if mode == "webhook":  # a forged POST through the same server: refused, nothing handled
                forged = as_update(await anna.says("/help", push=False), update_id=999_999)
                assert await fake.post_webhook(forged, secret=None) == 401
                assert await fake.post_webhook(forged, secret="wh_" + WEBHOOK_SECRET[::-1][:20]) == 401

            await files_vpn_ticket(anna, it)

            after = counters((await get(session, run.url + "/metrics"))[1])
            assert after["text events"] >= before["text events"] + 1, (before, after)
            assert after["button events"] >= before["button events"] + 2, (before, after)
            assert after["tickets opened (it)"] == before["tickets opened (it)"] + 1, (before, after)
            # anna: KB offer, category question, "created"; the IT group: the card.
            assert after["sends sent"] >= before["sends sent"] + 4, (before, after)
            assert (await healthy(session, run.url))["platforms"]["telegram"]["connected"] is True

            code, seconds, out, err = await run.stop(signal.SIGTERM)

        if mode == "webhook":
            assert fake.calls_of("getUpdates") == []
            assert [p.status for p in fake.webhook_posts if p.status != 401] == [200, 200, 200]
        assert fake.html_errors == [] and fake.internal_errors == []
    assert code == 0, err[-3000:]
    assert seconds < 10, seconds
    handled = [r for r in map(json.loads, err.splitlines()) if r["msg"] == "event handled"]
    assert [r["action"] for r in handled][:1] == ["text"] and len(handled) == 3, handled
    assert {r["platform"] for r in handled} == {"telegram"} and {r["person"] for r in handled} == {"anna"}
    assert handled[-1]["ticket"] == 1
    for secret in SECRETS:
        assert secret not in out, "a secret on stdout"
        assert secret not in err, "a secret on stderr"
