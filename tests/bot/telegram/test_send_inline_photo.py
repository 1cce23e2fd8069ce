"""A file carried whole in the outbox (the digest's chart) is uploaded to Telegram as a photo
after the text (aiogram's BufferedInputFile, multipart) — against the fake Bot API."""

from __future__ import annotations

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from bot.delivery import UNLIMITED
from bot.telegram.sender import TelegramSender
from handlers.events import Destination, Reply
from scheduler.digest import inline_png
from store.db import Database
from tests.fakes.telegram import FakeTelegram

LEADS = -1002001


async def test_an_inline_png_is_sent_as_a_photo_after_the_text(database: Database) -> None:
    fake = await FakeTelegram(rate_limits=False).start()
    fake.add_group(LEADS, "IT leads")
    bot = Bot(fake.token, session=AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url)))
    try:
        sender = TelegramSender(bot, rate_policy=UNLIMITED)
        sender.bind(database)
        png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
        reply = Reply.from_payload(Reply("IT support — digest", attachments=(inline_png(png, "it.png"),)).to_payload())
        assert sender.cost(Destination("telegram", str(LEADS)), reply) == 2
        await sender.send(Destination("telegram", str(LEADS)), reply)
        calls = fake.sent(LEADS)
        assert [c.method for c in calls] == ["sendMessage", "sendPhoto"]
        photo = calls[1].params["photo"]
        upload = calls[1].params[photo.removeprefix("attach://")] if isinstance(photo, str) else photo
        assert upload["_upload"] == "it.png" and upload["_size"] == len(png)
    finally:
        await bot.session.close()
        await fake.close()
    assert fake.html_errors == []
