"""Telegram webhooks served by several ``deskbot run --role web`` processes on one port
(``server.reuse_port``) beside one ``--role runner``: only the runner registers
(``setWebhook``, the command menus), the web processes only read ``getMe``, so starting
and stopping a web process changes nothing at Telegram; an update reaching the shared port
is handled by a web process and its reply delivered by the runner."""

from __future__ import annotations

from collections import Counter

from bot.run import Runner
from bot.telegram.frontend import TelegramFrontend
from tests.fakes.telegram import FakeTelegram
from tests.support.scenarios import make_config

TOKEN = "424242425:AAHfake-token-for-tests_0123456789abc"
PUBLIC_WEBHOOK = "https://desk.example.com/telegram/webhook"
REGISTERING = ("setWebhook", "deleteWebhook", "setMyCommands")


async def test_only_the_runner_registers_the_webhook_that_web_processes_serve(clean_pg_url: str) -> None:
    async with FakeTelegram(token=TOKEN, rate_limits=False) as fake:
        config = make_config(
            lambda d: d.__setitem__("telegram", {"token": fake.token, "api_base": fake.base_url, "mode": "webhook",
                                                 "webhook": {"url": PUBLIC_WEBHOOK, "secret": "s3cret-for-tests"}}),
            lambda d: d.__setitem__("server", {"listen": "127.0.0.1:0", "reuse_port": True}),
            lambda d: d.__setitem__("runner", {"lease_seconds": 1.0, "heartbeat_seconds": 0.25}),
        )

        def calls() -> Counter[str]:
            return Counter(c.method for c in fake.calls)

        running: list[Runner] = []
        try:
            runner = Runner(config, [TelegramFrontend(config)], database_url=clean_pg_url, idle_seconds=0.2,
                            role="runner")
            await runner.start()
            running.append(runner)
            registered = calls()
            assert registered["setWebhook"] == 1 and fake.webhook is not None
            assert fake.webhook["url"] == PUBLIC_WEBHOOK

            webs = []
            for _ in range(2):
                assert runner.reuse_port is False  # the runner has a port of its own
                listen = f"127.0.0.1:{webs[0].address[1]}" if webs else None
                web = Runner(config, [TelegramFrontend(config)], listen=listen, database_url=clean_pg_url,
                             role="web")
                await web.start()
                running.append(web)
                webs.append(web)
            assert webs[0].url == webs[1].url != runner.url
            now = calls()
            assert {m: now[m] for m in REGISTERING} == {m: registered[m] for m in REGISTERING}
            assert now["getMe"] == registered["getMe"] + 2  # each web process learns the bot id

            fake.webhook["url"] = webs[0].url + "/telegram/webhook"  # the proxy forwards to the shared port
            ann = fake.user(700_101, "Ann", language_code="en")
            await ann.says("/help")
            await ann.receives(timeout=20.0)  # handled by a web process, sent by the runner

            running.remove(webs[0])
            await webs[0].stop()
            await ann.says("/help")
            await ann.receives(timeout=20.0)  # the other web process serves on
            after = calls()
            assert {m: after[m] for m in REGISTERING} == {m: registered[m] for m in REGISTERING}
        finally:
            for r in reversed(running):
                await r.stop()
        assert fake.internal_errors == []
