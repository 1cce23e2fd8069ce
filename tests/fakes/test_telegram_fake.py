"""The fake Bot API driven by the real aiogram Bot over loopback HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.exceptions import (
    TelegramAPIError,
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
from tests.support.telegram import bot_for as make_bot


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    f = FakeTelegram(rate_limits=False)
    await f.start()
    yield f
    await f.close()
    assert f.internal_errors == []


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


async def test_a_deactivated_user_is_forbidden(fake: FakeTelegram, bot: Bot) -> None:
    fake.user(101, "Anna")
    fake.user(102, "Boris")
    fake.deactivate(101)
    with pytest.raises(TelegramForbiddenError, match="user is deactivated"):
        await bot.send_message(101, "hello")
    await bot.send_message(102, "others still receive")
    assert fake.bot_messages(101) == [] and len(fake.bot_messages(102)) == 1


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
    # Long periods, so a slow machine cannot let a window empty in the middle of the test.
    limits = RateLimits(overall=(5, 60.0), private=(100, 60.0), group=(3, 60.0))
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
            assert 50 <= overall.value.retry_after <= 60
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
            inherited = await bot.send_message(
                it.id, "re", reply_parameters=ReplyParameters(message_id=card.message_id))
            assert inherited.message_thread_id == card_topic.message_thread_id
            assert it.messages(thread=card_topic.message_thread_id)[-1].reply_to == card.message_id

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


async def test_every_story_action_is_an_update_aiogram_reads(fake: FakeTelegram, bot: Bot) -> None:
    """The DSL's updates have the shapes Telegram sends: aiogram validates each one."""
    anna = fake.user(101, "Anna", language_code="ru", username="anna")
    boris = fake.user(202, "Boris")
    it = fake.group(-1001, "IT", forum=True)
    card = await bot.send_message(it.id, "card", reply_markup=keyboard(("Claim", "b1:c:1")))
    first = await anna.says("hello")
    await anna.starts("cat_network")
    await anna.sends_photo("screen")
    await anna.sends_document("log.txt", 1200)
    await anna.sends_voice()
    await anna.sends_video()
    await anna.sends_sticker()
    await anna.sends_location()
    await anna.sends_contact()
    await anna.sends_poll()
    await anna.forwards("fwd text", origin=boris)
    await anna.forwards("fwd hidden", origin="Secret Person")
    await anna.forwards("fwd chat", origin=it)
    await anna.edits(first, "hello, edited")
    press = await boris.presses(card, "Claim", chat=it)
    forged = await boris.presses_data(card, "garbage")
    await anna.blocks_bot()
    await anna.unblocks_bot()
    updates = await bot.get_updates(timeout=0)
    assert len(updates) == 18
    m = [u.message for u in updates]
    assert m[0].text == "hello" and m[0].from_user.language_code == "ru"  # type: ignore[union-attr]
    assert m[1].text == "/start cat_network"  # type: ignore[union-attr]
    assert m[2].photo and m[2].caption == "screen"  # type: ignore[union-attr]
    assert m[3].document.file_name == "log.txt"  # type: ignore[union-attr]
    assert m[3].document.mime_type == "text/plain"  # type: ignore[union-attr]
    assert m[4].voice and m[5].video and m[6].sticker  # type: ignore[union-attr]
    assert m[7].location and m[8].contact and m[9].poll  # type: ignore[union-attr]
    assert m[10].forward_origin.sender_user.id == boris.id  # type: ignore[union-attr]
    assert m[11].forward_origin.sender_user_name == "Secret Person"  # type: ignore[union-attr]
    assert m[12].forward_origin.sender_chat.id == it.id  # type: ignore[union-attr]
    edited = updates[13].edited_message
    assert edited is not None and edited.text == "hello, edited" and edited.edit_date
    assert edited.message_id == first["message_id"]
    query = updates[14].callback_query
    assert query is not None and query.data == "b1:c:1" and query.id == press.query_id
    assert query.message.message_id == card.message_id  # type: ignore[union-attr]
    assert updates[15].callback_query.data == "garbage"  # type: ignore[union-attr]
    assert updates[15].callback_query.id == forged.query_id  # type: ignore[union-attr]
    blocked = updates[16].my_chat_member
    assert blocked is not None and blocked.new_chat_member.status == "kicked"
    assert updates[17].my_chat_member.new_chat_member.status == "member"  # type: ignore[union-attr]


async def test_user_created_private_topic() -> None:
    async with FakeTelegram(rate_limits=False, has_topics_enabled=True) as fake:
        bot = make_bot(fake)
        try:
            anna = fake.user(101, "Anna")
            topic = await anna.creates_topic("Printer")
            msg = await anna.says("it jams", thread=topic.thread_id)
            updates = await bot.get_updates(timeout=0)
            assert updates[0].message.forum_topic_created.name == "Printer"  # type: ignore[union-attr]
            assert updates[1].message.message_thread_id == topic.thread_id  # type: ignore[union-attr]
            assert msg["is_topic_message"] is True
            await bot.send_message(anna.id, "noted", message_thread_id=topic.thread_id)
            assert [m.text for m in anna.messages(thread=topic.thread_id)] == ["noted"]
        finally:
            await bot.session.close()


async def test_updates_of_types_not_allowed_are_never_delivered(fake: FakeTelegram, bot: Bot) -> None:
    anna = fake.user(101, "Anna")
    await anna.blocks_bot()
    msg = await anna.says("text")
    updates = await bot.get_updates(timeout=0, allowed_updates=["message"])
    assert [u.update_id for u in updates] == [msg["_update_id"]]
    await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)
    assert fake.updates == [] and len(fake.filtered_updates) == 1


async def test_redelivered_update_keeps_its_id(fake: FakeTelegram, bot: Bot) -> None:
    anna = fake.user(101, "Anna")
    msg = await anna.says("once")
    first = await bot.get_updates(timeout=0)
    await bot.get_updates(offset=first[0].update_id + 1, timeout=0)
    assert fake.updates == []
    await fake.redeliver(msg["_update_id"], times=5)
    again = await bot.get_updates(timeout=0)
    assert [u.update_id for u in again] == [msg["_update_id"]] * 5
    assert {u.message.text for u in again} == {"once"}  # type: ignore[union-attr]


async def test_aiogram_webhook_handler_end_to_end(fake: FakeTelegram, bot: Bot) -> None:
    """aiogram's SimpleRequestHandler behind the fake's pushes: the secret is checked, a
    reply sent by API call and one returned in the webhook answer both reach the chat."""
    from aiogram.methods import SendMessage
    from aiogram.webhook.aiohttp_server import SimpleRequestHandler

    router = Router()

    @router.message(F.text == "call")
    async def by_call(message: Message) -> None:
        await message.answer("answered by call")

    @router.message(F.text == "return")
    async def by_return(message: Message) -> SendMessage:
        return message.answer("answered in the webhook reply")

    dp = Dispatcher()
    dp.include_router(router)
    app = web.Application()
    SimpleRequestHandler(dp, bot, handle_in_background=False, secret_token="topsecret").register(
        app, path="/telegram/webhook")
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        anna = fake.user(101, "Anna")
        await bot.set_webhook(f"http://127.0.0.1:{port}/telegram/webhook", secret_token="topsecret")
        await anna.says("call")
        await anna.receives("answered by call")
        await anna.says("return")
        await anna.receives("answered in the webhook reply")
        assert [p.status for p in fake.webhook_posts] == [200, 200]
        fake.webhook_secret_mode = "wrong"
        await anna.says("call")
        await fake.wait_for(lambda: fake.dropped_updates)
        assert {p.status for p in fake.webhook_posts[2:]} == {401}
        assert len(anna.messages()) == 2
    finally:
        await runner.cleanup()


async def test_pacing_at_the_limit_passes_and_a_burst_does_not() -> None:
    """A sender spacing its sends 1/30 s apart across private chats never sees a 429;
    the same messages as one burst do."""
    # early_grace: on a loaded machine the burst's in-flight requests may trickle in slowly.
    async with FakeTelegram(early_grace=2.0) as fake:
        for uid in range(1, 61):
            fake.add_user(uid, f"u{uid}")
        bot = make_bot(fake)
        try:
            for uid in range(1, 46):
                await bot.send_message(uid, "paced")
                await asyncio.sleep(1 / 30)  # pacing (never catching up in bursts): under test
            assert fake.too_many_requests == 0
            await asyncio.sleep(1)  # let the window empty
            results = await asyncio.gather(
                *(bot.send_message(uid, "burst") for uid in range(1, 41)), return_exceptions=True
            )
            limited = [r for r in results if isinstance(r, TelegramRetryAfter)]
            assert len(limited) == 40 - 30
            # The 31st got the 429; the other nine were in flight already: not early retries.
            assert fake.early_retries == 0 and fake.in_flight_during_ban == 9
        finally:
            await bot.session.close()


async def test_wrong_token_is_unauthorized(fake: FakeTelegram) -> None:
    from aiogram.exceptions import TelegramUnauthorizedError

    other = Bot("999:wrong", session=make_bot(fake).session)
    try:
        with pytest.raises(TelegramUnauthorizedError):
            await other.get_me()
    finally:
        await other.session.close()


async def test_forum_topics_need_an_admin_bot(fake: FakeTelegram, bot: Bot) -> None:
    it = fake.group(-1001, "IT", forum=True, bot_admin=False)
    with pytest.raises(TelegramBadRequest, match="not enough rights"):
        await bot.create_forum_topic(it.id, "#1")
    member = await bot.get_chat_member(it.id, fake.bot_id)
    assert member.status == "member"
    ops = fake.group(-1002, "Ops", forum=True)
    admin = await bot.get_chat_member(ops.id, fake.bot_id)
    assert admin.status == "administrator" and admin.can_manage_topics
    chat = await bot.get_chat(ops.id)
    assert chat.is_forum is True and chat.type == "supergroup"


async def test_webhook_waits_for_a_bot_that_is_not_listening_yet(fake: FakeTelegram, bot: Bot) -> None:
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    anna = fake.user(101, "Anna")
    await bot.set_webhook(f"http://127.0.0.1:{port}/telegram/webhook", secret_token="s")
    msg = await anna.says("while down")
    await fake.wait_for(lambda: len(fake.webhook_posts) >= 2)
    assert all(p.status is None for p in fake.webhook_posts)
    got: list[dict] = []

    async def handle(request: web.Request) -> web.Response:
        got.append(await request.json())
        return web.Response()

    app = web.Application()
    app.router.add_post("/telegram/webhook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        await fake.wait_confirmed(msg["_update_id"])
        assert [u["update_id"] for u in got] == [msg["_update_id"]]
        assert fake.dropped_updates == []
    finally:
        await runner.cleanup()


async def test_receives_follows_each_topic_separately() -> None:
    async with FakeTelegram(rate_limits=False, has_topics_enabled=True) as fake:
        bot = make_bot(fake)
        try:
            anna = fake.user(101, "Anna")
            t1 = await bot.create_forum_topic(anna.id, "#1")
            t2 = await bot.create_forum_topic(anna.id, "#2")
            await bot.send_message(anna.id, "one", message_thread_id=t1.message_thread_id)
            await bot.send_message(anna.id, "two", message_thread_id=t2.message_thread_id)
            assert (await anna.receives(thread=t2.message_thread_id)).text == "two"
            assert (await anna.receives(thread=t1.message_thread_id)).text == "one"
            assert (await anna.receives()).text == "one"
            assert (await anna.receives()).text == "two"
            with pytest.raises(AssertionError, match="no bot message"):
                await anna.receives(timeout=0.2)
            assert [t.name for t in fake.topics(anna.id)] == ["#1", "#2"]
        finally:
            await bot.session.close()


@pytest.mark.parametrize(
    "hostile",
    ["<b>bold?</b>", "</a>", "&amp; &lt;", "a\u200f\u202eRTL", "emoji 😀👩‍💻", "tab\tnl\n", "x" * 4000],
)
async def test_escaped_hostile_text_shows_literally(fake: FakeTelegram, bot: Bot, hostile: str) -> None:
    import html

    fake.user(101, "Anna")
    sent = await bot.send_message(101, f"<b>Anna:</b> {html.escape(hostile)}", parse_mode="HTML")
    assert sent.text == f"Anna: {hostile}"
    assert fake.html_errors == []


async def test_the_same_update_posted_five_times_to_the_webhook(fake: FakeTelegram, bot: Bot) -> None:
    from tests.support.telegram import as_update

    anna = fake.user(101, "Anna")
    async with WebhookReceiver("sec") as hook:
        await bot.set_webhook(hook.url, secret_token="sec")
        msg = await anna.says("once only", push=False)
        update = as_update(msg, update_id=777)
        statuses = await asyncio.gather(*(fake.post_webhook(update) for _ in range(5)))
        assert statuses == [200] * 5
        assert [u["update_id"] for u in hook.received] == [777] * 5
        assert hook.received[0]["message"]["text"] == "once only"
        assert fake.updates == []  # posted directly, nothing queued


async def test_download_texts_and_marks(fake: FakeTelegram, bot: Bot) -> None:
    anna = fake.user(101, "Anna")
    doc = await anna.sends_document("notes.txt", 300)
    f = await bot.get_file(doc["document"]["file_id"])
    data = await bot.download_file(f.file_path)  # type: ignore[arg-type]
    assert data is not None and len(data.read()) == 300
    mark = fake.mark()
    await bot.send_message(anna.id, "first")
    await bot.send_message(anna.id, "second")
    assert [c.params["text"] for c in fake.calls_of("sendmessage", since=mark)] == ["first", "second"]
    assert fake.texts(anna.id) == ["first", "second"]
    assert "sendMessage" in repr(fake.calls[-1]) and "ok" in repr(fake.calls[-1])


async def test_privacy_mode_withholds_group_chatter(fake: FakeTelegram, bot: Bot) -> None:
    boris = fake.user(202, "Boris")
    ops = fake.group(-1002, "Ops", bot_admin=False, privacy=True)
    card = await bot.send_message(ops.id, "card #3")
    await boris.says("lunch anyone?", chat=ops)
    await boris.says("on it", chat=ops, reply_to=card.message_id)
    await boris.says("/note@deskbot_test_bot internal", chat=ops)
    got = await bot.get_updates(timeout=0)
    assert [u.message.text for u in got] == ["on it", "/note@deskbot_test_bot internal"]  # type: ignore[union-attr]
    assert [m["text"] for m in fake.withheld] == ["lunch anyone?"]


async def test_negative_offset_and_limit(fake: FakeTelegram, bot: Bot) -> None:
    anna = fake.user(101, "Anna")
    for i in range(5):
        await anna.says(f"m{i}")
    assert [u.message.text for u in await bot.get_updates(offset=-2, timeout=0)] == ["m3", "m4"]  # type: ignore[union-attr]
    assert [u.message.text for u in await bot.get_updates(limit=2, timeout=0)] == ["m0", "m1"]  # type: ignore[union-attr]


async def test_inject_429_works_with_the_windows_off(fake: FakeTelegram, bot: Bot) -> None:
    fake.user(101, "Anna")
    fake.user(102, "Boris")
    for _ in range(5):
        await bot.send_message(101, "no limits in story tests")
    fake.inject_429(1, retry_after=2, chat_id=101)
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(101, "x")
    assert caught.value.retry_after == 2
    await bot.send_message(102, "another chat is not banned by a chat 429")
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(101, "early")
    assert fake.early_retries == 1 and fake.too_many_requests == 2


async def test_bot_removed_from_and_added_to_a_group(fake: FakeTelegram, bot: Bot) -> None:
    boris = fake.user(202, "Boris")
    it = fake.group(-1001, "IT")
    await it.removes_bot(boris)
    with pytest.raises(TelegramForbiddenError, match="bot was kicked from the supergroup chat"):
        await bot.send_message(it.id, "card")
    await it.adds_bot(boris)
    await bot.send_message(it.id, "card")
    updates = await bot.get_updates(timeout=0)
    statuses = [(u.my_chat_member.old_chat_member.status, u.my_chat_member.new_chat_member.status)  # type: ignore[union-attr]
                for u in updates]
    assert statuses == [("administrator", "kicked"), ("left", "administrator")]
    assert updates[1].my_chat_member.from_user.id == boris.id  # type: ignore[union-attr]


async def test_media_by_file_id_of_each_kind(fake: FakeTelegram, bot: Bot) -> None:
    from aiogram.types import BufferedInputFile

    anna = fake.user(101, "Anna")
    it = fake.group(-1001, "IT")
    voice = (await anna.sends_voice())["voice"]["file_id"]
    video = (await anna.sends_video())["video"]["file_id"]
    audio = fake.add_file("audio", 4_000_000, name="call.mp3").file_id
    gif = fake.add_file("animation", 300_000).file_id
    assert (await bot.send_voice(it.id, voice)).voice.file_id == voice  # type: ignore[union-attr]
    assert (await bot.send_video(it.id, video, caption="clip")).video.file_id == video  # type: ignore[union-attr]
    assert (await bot.send_audio(it.id, audio)).audio.file_id == audio  # type: ignore[union-attr]
    assert (await bot.send_animation(it.id, gif)).animation.file_id == gif  # type: ignore[union-attr]
    assert (await bot.send_document(it.id, voice)).document.file_id == voice  # type: ignore[union-attr]
    with pytest.raises(TelegramBadRequest, match="can't use file of type Voice as Video"):
        await bot.send_video(it.id, voice)
    uploaded = await bot.send_document(it.id, BufferedInputFile(b"x" * 1234, filename="log.txt"))
    assert uploaded.document.file_name == "log.txt" and uploaded.document.file_size == 1234  # type: ignore[union-attr]
    assert [m.media["kind"] for m in it.messages()] == [  # type: ignore[index]
        "voice", "video", "audio", "animation", "document", "document"]


async def test_uploads_over_the_bots_limits_are_refused(fake: FakeTelegram, bot: Bot) -> None:
    from aiogram.types import BufferedInputFile

    it = fake.group(-1001, "IT")
    with pytest.raises(TelegramBadRequest, match="PHOTO_SAVE_FILE_INVALID"):
        await bot.send_photo(it.id, BufferedInputFile(b"\x89PNG\r\n\x1a\n" + b"\0" * (10 * 1024 * 1024), filename="big.png"))
    with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
        await bot.send_photo(it.id, BufferedInputFile(b"not a picture", filename="fake.png"))
    with pytest.raises(TelegramAPIError, match="Request Entity Too Large"):
        await bot.send_document(it.id, BufferedInputFile(b"\0" * (50 * 1024 * 1024 + 1), filename="big.bin"))
    assert it.messages() == []
