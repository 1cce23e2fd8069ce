"""The Slack frontend inside ``deskbot run``'s :class:`~bot.run.Runner`: built by
``build_frontends`` when ``slack`` is configured, its ``/slack/events`` mounted on the one
HTTP server beside ``/healthz``, signed events handled there, and a clean stop."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from sqlalchemy import func
from sqlmodel import select

from bot.run import Runner, build_frontends
from bot.slack.frontend import SlackFrontend
from store.models import InboxEvent
from tests.fakes.slack import FakeSlack
from tests.support.desk import RecordingSender
from tests.support.scenarios import make_config

TOKEN = "xoxb-0000000001-0000000002-runTESTtoken"
SECRET = "c4ca4238a0b923820dcc509a6f75849b"


def slack_config(fake: FakeSlack | None = None, **extra: Any) -> Any:
    section = {"bot_token": TOKEN, "signing_secret": SECRET,
               "api_base": fake.base_url if fake is not None else "http://127.0.0.1:9/api/", **extra}
    return make_config(lambda data: data.__setitem__("slack", section))


def test_build_frontends_builds_the_slack_frontend_with_its_sender() -> None:
    frontends = build_frontends(slack_config())
    assert [f.platform for f in frontends] == ["slack"]
    front = frontends[0]
    from bot.slack.sender import SlackSender

    assert isinstance(front, SlackFrontend) and isinstance(front.sender, SlackSender)
    assert front.sender.client is front.client  # the sender posts through the frontend's client (api_base, token)
    assert front.client.base_url == "http://127.0.0.1:9/api/" and front.mode == "http"
    assert [r.path for r in front.routes()] == ["/slack/events"]


def test_an_app_token_means_socket_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    front = SlackFrontend(slack_config(app_token="xapp-1-A0-1-abc"), sender=RecordingSender(platform="slack"))
    assert front.mode == "socket" and front.health()["connected"] is False


async def test_the_run_server_serves_slack_events_and_healthz(sqlite_url: str) -> None:
    async with FakeSlack(token=TOKEN, signing_secret=SECRET, rate_limits=False) as fake:
        anna = fake.user("U0000ANNA", "Anna Ivanova", locale="ru-RU")
        config = slack_config(fake)
        front = SlackFrontend(config, sender=RecordingSender(platform="slack"))
        runner = Runner(config, [front], listen="127.0.0.1:0", database_url=sqlite_url)
        await runner.start()
        try:
            fake.request_url = f"{runner.url}/slack/events"
            async with aiohttp.ClientSession() as http, http.get(f"{runner.url}/healthz") as resp:
                health = await resp.json()
            assert resp.status == 200
            assert health["platforms"]["slack"]["connected"] is True, health
            said = await anna.says("VPN is down")
            assert said.status == 200
            async with runner.app.db.transaction() as s:
                n = (await s.exec(select(func.count()).select_from(InboxEvent))).one()
            assert n == 1
            assert (await fake.post_event({"type": "app_home_opened", "user": anna.id}, sign_mode="wrong")).status == 401
        finally:
            await runner.stop()
        assert front.health()["connected"] is False


async def test_socket_mode_connects_on_start_and_closes_on_stop(sqlite_url: str) -> None:
    """With the app token the frontend opens a Socket Mode connection to the fake when the
    run starts (apps.connections.open at api_base), /healthz says so, and stopping closes it
    (the desk's flows over the socket: test_receive_socket.py)."""
    async with FakeSlack(token=TOKEN, signing_secret=SECRET, rate_limits=False) as fake:
        config = slack_config(fake, app_token=fake.app_token)
        front = SlackFrontend(config, sender=RecordingSender(platform="slack"))
        runner = Runner(config, [front], listen="127.0.0.1:0", database_url=sqlite_url)
        await runner.start()
        try:
            await fake.wait_socket(20.0)
            assert front.socket is not None and front.socket.app is front.bolt
            assert [c.method for c in fake.calls if c.method == "apps.connections.open"] == ["apps.connections.open"]
            async with aiohttp.ClientSession() as http, http.get(f"{runner.url}/healthz") as resp:
                health = await resp.json()
            assert health["platforms"]["slack"]["connected"] is True and health["platforms"]["slack"]["mode"] == "socket"
        finally:
            await runner.stop()
        assert front.socket is None
        await fake.wait_for(lambda: not fake.socket_connected or None, 20.0)  # the connection was closed
        assert front.health()["connected"] is False
