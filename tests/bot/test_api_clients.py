"""The platform API clients of ``deskbot run`` under load (found by bench/load.py).

Telegram: aiogram parses every Bot API answer with ``Response[<result type>]``; pydantic
caches that parametrized model only weakly, so the garbage collector dropped it between
calls and every few sends paid for building its schema again (tens of ms). The frontend's
bot keeps each result type's model alive.

Slack: slack_sdk's ``AsyncWebClient`` without a session opens a new HTTP session and TCP
connection for every call. The frontend gives it one session when it starts (every call
on kept-alive connections) and closes it in ``close()``.
"""

from __future__ import annotations

import gc
import weakref

from aiogram.methods import Response, SendMessage

from bot.slack.frontend import SlackFrontend
from bot.telegram.frontend import TelegramFrontend
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram
from tests.support.desk import RecordingSender
from tests.support.scenarios import make_config
from tests.support.telegram import TOKEN, telegram_section

SLACK_TOKEN = "xoxb-0000000001-0000000002-clientTESTtoken"
SIGNING = "45c48cce2e2d7fbdea1afc51c7c6ad26"


async def test_the_telegram_response_model_survives_garbage_collection() -> None:
    async with FakeTelegram(token=TOKEN, rate_limits=False) as fake:
        anna = fake.user(100001, "Anna")
        config = make_config(lambda data: data.__setitem__("telegram", telegram_section(fake, "polling")))
        front = TelegramFrontend(config, sender=RecordingSender(platform="telegram"))
        try:
            await front.bot.send_message(anna.id, "one")
            model = weakref.ref(Response[SendMessage.__returning__])  # type: ignore[misc]
            gc.collect()
            assert model() is not None, "the parsed-answer model was collected: the next call rebuilds it"
            await front.bot.send_message(anna.id, "two")
            assert Response[SendMessage.__returning__] is model()  # type: ignore[misc]
        finally:
            await front.close()
        assert [c.text for c in fake.sent(anna.id)] == ["one", "two"]


async def test_slack_web_api_calls_share_one_session_closed_by_close() -> None:
    async with FakeSlack(token=SLACK_TOKEN, signing_secret=SIGNING, rate_limits=False) as fake:
        fake.channel("C00ITQUEUE", "it-queue", members=[])
        config = make_config(lambda data: data.__setitem__(
            "slack", {"bot_token": SLACK_TOKEN, "signing_secret": SIGNING, "api_base": fake.base_url}))
        front = SlackFrontend(config, sender=RecordingSender(platform="slack"))
        front.bind(_Unused())  # type: ignore[arg-type]
        await front.start()  # auth.test
        session = front.client.session
        assert session is not None and not session.closed
        for n in range(3):
            await front.client.chat_postMessage(channel="C00ITQUEUE", text=f"card {n}")
        assert [c.method for c in fake.calls] == ["auth.test"] + ["chat.postMessage"] * 3
        assert len({c.connection for c in fake.calls}) == 1  # one kept-alive connection for all four
        await front.stop()
        await front.close()
        assert session.closed and front.client.session is None


class _Unused:
    """A bound app the frontend does not touch in this test (no event is received)."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"the app was used: {name}")
