"""The fake Bot API driven by the real aiogram Bot over loopback HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramRetryAfter,
)
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyParameters,
)
from aiohttp import web

from tests.fakes.telegram import FakeTelegram, RateLimits


def make_bot(fake: FakeTelegram) -> Bot:
    return Bot(fake.token, session=AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url)))


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    f = FakeTelegram(rate_limits=False)
    await f.start()
    yield f
    await f.close()


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    b = make_bot(fake)
    yield b
    await b.session.close()


def keyboard(*labels_data: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=t, callback_data=d) for t, d in labels_data]]
    )


async def test_get_me_reports_topics_setting() -> None:
    async with FakeTelegram(has_topics_enabled=True, username="helpdesk_bot") as fake:
        bot = make_bot(fake)
        try:
            me = await bot.get_me()
        finally:
            await bot.session.close()
    assert me.username == "helpdesk_bot"
    assert me.id == fake.bot_id
    assert me.has_topics_enabled is True
    assert fake.calls_of("getMe")[0].ok


async def test_send_then_edit_text_and_markup(fake: FakeTelegram, bot: Bot) -> None:
    anna = fake.user(101, "Anna", language_code="ru")
    sent = await bot.send_message(anna.id, "<b>Ticket #1</b> &lt;open&gt;", parse_mode="HTML",
                                  reply_markup=keyboard(("Claim", "b1:c:1")))
    assert sent.text == "Ticket #1 <open>"
    assert sent.entities and sent.entities[0].type == "bold" and sent.entities[0].length == 9
    view = anna.last()
    assert view is not None and view.buttons == ["Claim"] and view.button_data == {"Claim": "b1:c:1"}

    edited = await bot.edit_message_text("Ticket #1 claimed", chat_id=anna.id,
                                         message_id=sent.message_id)
    assert isinstance(edited, Message) and edited.edit_date is not None
    assert anna.last().text == "Ticket #1 claimed"  # type: ignore[union-attr]
    assert anna.last().buttons == []  # type: ignore[union-attr]  # no markup given: removed
    assert anna.last().history == ["Ticket #1 <open>", "Ticket #1 claimed"]  # type: ignore[union-attr]

    await bot.edit_message_reply_markup(chat_id=anna.id, message_id=sent.message_id,
                                        reply_markup=keyboard(("Resolve", "b1:r:1")))
    assert anna.last().buttons == ["Resolve"]  # type: ignore[union-attr]


async def test_edit_not_modified_and_not_found(fake: FakeTelegram, bot: Bot) -> None:
    fake.user(101, "Anna")
    sent = await bot.send_message(101, "same", reply_markup=keyboard(("A", "a")))
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text("same", chat_id=101, message_id=sent.message_id,
                                    reply_markup=keyboard(("A", "a")))
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(chat_id=101, message_id=sent.message_id,
                                            reply_markup=keyboard(("A", "a")))
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=101, message_id=999)
    await bot.delete_message(101, sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=101, message_id=sent.message_id)
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(555, "nobody")


async def test_bad_html_is_rejected_and_counted(fake: FakeTelegram, bot: Bot) -> None:
    fake.user(101, "Anna")
    for text in ("a & b", "1 < 2", "<x>tag</x>", "<b>open", "<b>x</i>", "<span>s</span>"):
        with pytest.raises(TelegramBadRequest, match="can't parse entities"):
            await bot.send_message(101, text, parse_mode="HTML")
    assert len(fake.html_errors) == 6
    # The same texts escaped are fine, and plain text is never parsed.
    import html

    ok = await bot.send_message(101, html.escape("<b>\"x' & </a> &amp;"), parse_mode="HTML")
    assert ok.text == "<b>\"x' & </a> &amp;"
    await bot.send_message(101, "a & b < c")
    assert len(fake.html_errors) == 6


async def test_text_length_is_counted_after_entity_parsing(fake: FakeTelegram, bot: Bot) -> None:
    fake.user(101, "Anna")
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(101, "x" * 4097)
    await bot.send_message(101, "x" * 4096)
    await bot.send_message(101, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML")
    await bot.send_message(101, "&amp;" * 4096, parse_mode="HTML")
    await bot.send_message(101, "😀" * 4096)  # Telegram counts characters, not UTF-16 units
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(101, "<b></b>", parse_mode="HTML")


async def test_callback_data_over_64_bytes_rejected(fake: FakeTelegram, bot: Bot) -> None:
    fake.user(101, "Anna")
    await bot.send_message(101, "ok", reply_markup=keyboard(("A", "x" * 64)))
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(101, "no", reply_markup=keyboard(("A", "x" * 65)))
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(101, "no", reply_markup=keyboard(("A", "ж" * 33)))  # 66 bytes


async def test_blocked_chat_is_forbidden(fake: FakeTelegram, bot: Bot) -> None:
    anna = fake.user(101, "Anna")
    await anna.blocks_bot()
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(101, "hello")
    await anna.unblocks_bot()
    await bot.send_message(101, "hello again")
    kinds = [next(k for k in u if k != "update_id") for u in fake.updates]
    assert kinds == ["my_chat_member", "my_chat_member"]
    assert fake.updates[0]["my_chat_member"]["new_chat_member"]["status"] == "kicked"


async def test_429_with_retry_after_and_early_retries() -> None:
    async with FakeTelegram(rate_limits=RateLimits(private=(1, 1.0))) as fake:
        fake.user(101, "Anna")
        fake.user(102, "Boris")
        bot = make_bot(fake)
        try:
            await bot.send_message(101, "one")
            with pytest.raises(TelegramRetryAfter) as caught:
                await bot.send_message(101, "two")
            assert caught.value.retry_after == 1
            assert fake.early_retries == 0
            await bot.send_message(102, "another chat is not limited")
            with pytest.raises(TelegramRetryAfter):
                await bot.send_message(101, "too early")
            assert fake.early_retries == 1
            await asyncio.sleep(caught.value.retry_after)  # waiting out retry_after is the point
            await bot.send_message(101, "two")
            assert fake.early_retries == 1

            fake.inject_429(1, retry_after=3)
            with pytest.raises(TelegramRetryAfter) as injected:
                await bot.send_message(102, "x")
            assert injected.value.retry_after == 3
            with pytest.raises(TelegramRetryAfter):  # an injected 429 is global
                await bot.send_message(101, "x")
            assert fake.early_retries == 2
        finally:
            await bot.session.close()


async def test_group_and_overall_windows() -> None:
    limits = RateLimits(overall=(5, 1.0), private=(100, 1.0), group=(3, 60.0))
    async with FakeTelegram(rate_limits=limits) as fake:
        fake.add_group(-1001, "IT")
        for uid in range(1, 10):
            fake.add_user(uid, f"u{uid}")
        bot = make_bot(fake)
        try:
            for i in range(3):
                await bot.send_message(-1001, f"card {i}")
            with pytest.raises(TelegramRetryAfter) as group_limit:
                await bot.send_message(-1001, "card 4")
            assert 50 <= group_limit.value.retry_after <= 60
            await bot.send_message(1, "a")
            await bot.send_message(2, "b")  # 5 sends in the last second
            with pytest.raises(TelegramRetryAfter) as overall:
                await bot.send_message(3, "c")
            assert overall.value.retry_after == 1
            assert fake.too_many_requests == 2
        finally:
            await bot.session.close()


async def test_get_updates_offset_and_long_poll(fake: FakeTelegram, bot: Bot) -> None:
    anna = fake.user(101, "Anna")
    first = await anna.says("hello")
    await anna.says("/new")
    updates = await bot.get_updates(timeout=0)
    assert [u.message.text for u in updates] == ["hello", "/new"]  # type: ignore[union-attr]
    assert updates[0].update_id == first["_update_id"]
    assert updates[1].message.entities[0].type == "bot_command"  # type: ignore[union-attr,index]
    # Not confirmed yet: delivered again.
    assert len(await bot.get_updates(timeout=0)) == 2
    assert await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0) == []
    assert fake.updates == []
    assert updates[0].update_id in fake.confirmed_ids

    poll = asyncio.create_task(bot.get_updates(offset=updates[-1].update_id + 1, timeout=10))
    await fake.wait_call("getUpdates", lambda c: c.params.get("timeout") == "10")
    assert not poll.done()
    await anna.says("later")
    got = await asyncio.wait_for(poll, 2)
    assert [u.message.text for u in got] == ["later"]  # type: ignore[union-attr]


async def test_second_poll_terminates_the_first(fake: FakeTelegram, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=10))
    await fake.wait_call("getUpdates")
    second = asyncio.create_task(bot.get_updates(timeout=10))
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates"):
        await asyncio.wait_for(first, 2)
    second.cancel()


async def test_dispatcher_polling_story(fake: FakeTelegram, bot: Bot) -> None:
    """aiogram's own polling loop against the fake: a message, a reply with a button,
    a press answered with an alert."""
    router = Router()

    @router.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(f"got: {message.text}", reply_markup=keyboard(("Claim", "b1:claim:7")))

    @router.callback_query(F.data.startswith("b1:"))
    async def press(query: CallbackQuery) -> None:
        await query.answer("Claimed", show_alert=True)

    dp = Dispatcher()
    dp.include_router(router)
    anna = fake.user(101, "Anna", language_code="ru")
    task = asyncio.create_task(dp.start_polling(bot, handle_signals=False, close_bot_session=False,
                                                polling_timeout=1))
    try:
        await anna.says("VPN не работает")
        reply = await anna.receives("got: VPN не работает")
        assert reply.buttons == ["Claim"]
        pressed = await anna.presses(reply, "Claim")
        answer = await pressed.answered()
        assert answer == {"text": "Claimed", "show_alert": True, "url": None}
        with pytest.raises(TelegramBadRequest, match="query ID is invalid"):
            await bot.answer_callback_query(pressed.query_id)
        await fake.wait_idle()
    finally:
        await dp.stop_polling()
        await task


class WebhookReceiver:
    """A stand-in for the bot's webhook endpoint: checks the secret like the bot must."""

    def __init__(self, secret: str, fail_first: int = 0) -> None:
        self.secret = secret
        self.received: list[dict] = []
        self.fail_first = fail_first
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        if request.headers.get("X-Telegram-Bot-Api-Secret-Token") != self.secret:
            return web.Response(status=401)
        if self.fail_first > 0:
            self.fail_first -= 1
            return web.Response(status=500)
        self.received.append(await request.json())
        return web.Response(status=200)

    async def __aenter__(self) -> WebhookReceiver:
        app = web.Application()
        app.router.add_post("/telegram/webhook", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/telegram/webhook"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


async def test_webhook_push_with_and_without_secret(fake: FakeTelegram, bot: Bot) -> None:
    anna = fake.user(101, "Anna")
    fake.webhook_retry_delay = 0.01
    async with WebhookReceiver("s3cret-Token_1", fail_first=1) as hook:
        await bot.set_webhook(hook.url, secret_token="s3cret-Token_1",
                              allowed_updates=["message", "callback_query"])
        info = await bot.get_webhook_info()
        assert info.url == hook.url and info.allowed_updates == ["message", "callback_query"]
        with pytest.raises(TelegramConflictError, match="webhook is active"):
            await bot.get_updates()

        msg = await anna.says("via webhook")
        await fake.wait_confirmed(msg["_update_id"])
        assert [u["message"]["text"] for u in hook.received] == ["via webhook"]
        statuses = [p.status for p in fake.webhook_posts]
        assert statuses == [500, 200]  # a non-2xx is retried
        assert fake.webhook_posts[-1].secret == "s3cret-Token_1"

        fake.webhook_secret_mode = "none"
        msg2 = await anna.says("no secret")
        await fake.wait_for(lambda: fake.dropped_updates)
        assert fake.dropped_updates[0]["update_id"] == msg2["_update_id"]
        tries = [p for p in fake.webhook_posts if p.update_id == msg2["_update_id"]]
        assert [p.status for p in tries] == [401] * (fake.webhook_retries + 1)
        assert all(p.secret is None for p in tries)

        assert await fake.post_webhook({"message": msg2}, secret="wrong") == 401
        assert await fake.post_webhook({"message": msg2}, secret=True) == 200
        assert len(hook.received) == 2

        await bot.delete_webhook()
        assert (await bot.get_webhook_info()).url == ""
        await anna.says("polling again")
        assert len(await bot.get_updates(timeout=0)) == 1


async def test_topics_private_and_forum(bot: Bot) -> None:
    async with FakeTelegram(rate_limits=False, has_topics_enabled=True) as fake:
        bot = make_bot(fake)
        try:
            anna = fake.user(101, "Anna")
            boris = fake.user(202, "Boris")
            it = fake.group(-1001, "IT", forum=True)
            plain = fake.group(-1002, "Ops")
            topic = await bot.create_forum_topic(anna.id, "#12 VPN не работает")
            assert fake.topics(anna.id)[0].name == "#12 VPN не работает"
            sent = await bot.send_message(anna.id, "in topic", message_thread_id=topic.message_thread_id)
            assert sent.message_thread_id == topic.message_thread_id
            assert anna.messages(thread=topic.message_thread_id)[0].text == "in topic"
            with pytest.raises(TelegramBadRequest, match="message thread not found"):
                await bot.send_message(anna.id, "x", message_thread_id=999)
            with pytest.raises(TelegramBadRequest, match="the chat is not a forum"):
                await bot.create_forum_topic(plain.id, "#1")

            card_topic = await bot.create_forum_topic(it.id, "#12 VPN")
            card = await bot.send_message(it.id, "card", message_thread_id=card_topic.message_thread_id)
            await bot.close_forum_topic(it.id, card_topic.message_thread_id)
            assert fake.topic(it.id, card_topic.message_thread_id).closed  # type: ignore[union-attr]
            with pytest.raises(TelegramBadRequest, match="TOPIC_NOT_MODIFIED"):
                await bot.close_forum_topic(it.id, card_topic.message_thread_id)
            await bot.reopen_forum_topic(it.id, card_topic.message_thread_id)

            reply = await boris.says("on it", chat=it, thread=card_topic.message_thread_id)
            assert reply["reply_to_message"]["forum_topic_created"]["name"] == "#12 VPN"
            answer = await boris.says("see card", chat=it, reply_to=card.message_id)
            assert answer["message_thread_id"] == card_topic.message_thread_id
            updates = await bot.get_updates(timeout=0)
            assert updates[0].message.is_topic_message  # type: ignore[union-attr]
            assert updates[1].message.reply_to_message.message_id == card.message_id  # type: ignore[union-attr]
        finally:
            await bot.session.close()
    async with FakeTelegram(rate_limits=False) as fake:
        bot = make_bot(fake)
        try:
            fake.user(101, "Anna")
            with pytest.raises(TelegramBadRequest, match="the chat is not a forum"):
                await bot.create_forum_topic(101, "#1")
        finally:
            await bot.session.close()


async def test_files_copy_and_reply(fake: FakeTelegram, bot: Bot) -> None:
    anna = fake.user(101, "Anna")
    it = fake.group(-1001, "IT")
    photo = await anna.sends_photo("screen")
    big = await anna.sends_document("dump.zip", 25 * 1024 * 1024)
    file_id = photo["photo"][-1]["file_id"]
    sent = await bot.send_photo(it.id, file_id, caption="<i>from Anna</i>", parse_mode="HTML")
    assert sent.photo and sent.photo[-1].file_id == file_id and sent.caption == "from Anna"
    with pytest.raises(TelegramBadRequest, match="can't use file of type Photo as Document"):
        await bot.send_document(it.id, file_id)
    with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
        await bot.send_photo(it.id, "nope")
    with pytest.raises(TelegramBadRequest, match="file is too big"):
        await bot.get_file(big["document"]["file_id"])
    f = await bot.get_file(file_id)
    assert f.file_size == photo["photo"][-1]["file_size"]
    copied = await bot.copy_message(it.id, anna.id, photo["message_id"])
    assert it.messages()[-1].media["file_id"] == file_id  # type: ignore[index]
    assert copied.message_id == it.messages()[-1].message_id
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.send_photo(it.id, file_id, caption="c" * 1025)
    card = await bot.send_message(it.id, "card")
    threaded = await bot.send_message(it.id, "reply", reply_parameters=ReplyParameters(message_id=card.message_id))
    assert threaded.reply_to_message.message_id == card.message_id  # type: ignore[union-attr]
    with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
        await bot.send_message(it.id, "x", reply_parameters=ReplyParameters(message_id=404))


async def test_commands_recorded_per_scope_and_language(fake: FakeTelegram, bot: Bot) -> None:
    await bot.set_my_commands([BotCommand(command="new", description="New request")],
                              scope=BotCommandScopeAllPrivateChats())
    await bot.set_my_commands([BotCommand(command="new", description="Новая заявка")],
                              scope=BotCommandScopeAllPrivateChats(), language_code="ru")
    await bot.set_my_commands([BotCommand(command="note", description="Internal note")],
                              scope=BotCommandScopeAllGroupChats())
    assert fake.commands[("all_private_chats", "ru")][0]["description"] == "Новая заявка"
    assert fake.commands[("all_group_chats", "")][0]["command"] == "note"
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Bad-Name", description="x")])
