"""Telegram long polling with two ``deskbot run`` on one database: only the runner polls
(two getUpdates loops on one bot end each other with 409 Conflict); the other stands by,
healthy, without calling the Bot API at all; when the runner stops, it starts polling."""

from __future__ import annotations

import aiohttp

from bot.run import Runner
from bot.telegram.frontend import TelegramFrontend
from tests.bot.test_run_runner import until
from tests.fakes.telegram import FakeTelegram
from tests.support.scenarios import make_config

WAIT = 20.0


async def test_only_the_runner_polls_and_the_next_runner_resumes(db_url: str) -> None:
    async with FakeTelegram(token="424242425:AAHfake-token-for-tests_0123456789abc", rate_limits=False) as fake:
        config = make_config(
            lambda d: d.__setitem__("telegram", {"token": fake.token, "api_base": fake.base_url, "mode": "polling"}),
            lambda d: d.__setitem__("runner", {"lease_seconds": 1.0, "heartbeat_seconds": 0.25}),
        )
        fronts = [TelegramFrontend(config, polling_timeout_s=1) for _ in range(2)]
        runners = [Runner(config, [front], listen="127.0.0.1:0", database_url=db_url, idle_seconds=0.2)
                   for front in fronts]
        first, second = runners
        try:
            await first.start()
            await second.start()
            assert first.election.is_runner and not second.election.is_runner
            assert fronts[0].runner_only and fronts[0].poller is not None and fronts[0].poller.running
            assert fronts[1].poller is not None and not fronts[1].poller.running
            assert fronts[1].me is None  # on standby: not even getMe
            async with aiohttp.ClientSession() as session, session.get(second.url + "/healthz") as resp:
                health = await resp.json()
            assert resp.status == 200, health
            assert health["platforms"]["telegram"]["standby"] is True

            ann = fake.user(700_101, "Ann", language_code="en")
            await ann.says("/help")
            await ann.receives(timeout=WAIT)

            conflicts = [c for c in fake.calls_of("getUpdates") if c.status == 409]
            assert conflicts == [], conflicts  # one poller while both run

            await first.stop()  # (its own last getUpdates ends its abandoned long poll: one 409)
            await until(lambda: fronts[1].poller is not None and fronts[1].poller.running)
            await ann.says("/help")
            await ann.receives(timeout=WAIT)  # polled and delivered by the new runner
            assert second.election.is_runner
        finally:
            for runner in runners:
                await runner.stop()
        assert fake.internal_errors == []
