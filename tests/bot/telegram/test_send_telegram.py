"""TelegramSender against the fake Bot API, with the real aiogram Bot over loopback HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from bot.delivery import UNLIMITED, RecipientBlocked, RetryAfter
from bot.telegram.callbacks import decode
from bot.files import MB, FileFetcher
from bot.telegram.sender import TelegramSender
from handlers.events import Attachment, Button, Destination, Reply
from handlers.richtext import parse_markdown
from handlers.texts import t
from store import outbox, tickets
from store.db import Database
from store.models import Person, Status, TicketPost
from tests.fakes.telegram import FakeTelegram, bad

ANNA = 101  # a private chat
IT = -1001  # a team group (forum or not, per test)
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
HOSTILE = "<b>not bold</b> </a> &amp; <script>x</script> 😀 \u200fשלום\u200e & done"

MakeSender = Callable[..., Awaitable[tuple[FakeTelegram, TelegramSender]]]


@pytest.fixture
async def make_sender(database: Database) -> AsyncIterator[MakeSender]:
    """A started fake (options as given) and a sender bound to the test database."""
    opened: list[tuple[FakeTelegram, Bot]] = []

    async def make(*, topics: bool = False, forum: bool = False, rate_limits: bool = False,
                   rate_policy: Any = UNLIMITED, files: dict[str, FileFetcher] | None = None,
                   ) -> tuple[FakeTelegram, TelegramSender]:
        fake = await FakeTelegram(has_topics_enabled=topics, rate_limits=rate_limits).start()
        fake.add_user(ANNA, "Anna")
        fake.add_group(IT, "IT", forum=forum)
        bot = Bot(fake.token, session=AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url)))
        opened.append((fake, bot))
        sender = TelegramSender(bot, rate_policy=rate_policy, files=files)
        sender.bind(database)
        return fake, sender

    yield make
    for fake, bot in opened:
        assert fake.html_errors == []  # the fake's HTML check never failed
        await bot.session.close()
        await fake.close()


async def new_ticket(db: Database, text: str = "VPN не работает") -> int:
    async with db.transaction() as s:
        person = Person(key=f"p{datetime.now().timestamp()}", name="Anna")
        s.add(person)
        await s.flush()
        assert person.id is not None
        ticket = await tickets.create_ticket(
            s, team="it", category="network", priority="normal", requester_id=person.id, text=text,
            platform="telegram", now=NOW, first_response_due=None, resolution_due=None,
        )
        assert ticket.id is not None
        return ticket.id


async def set_status(db: Database, ticket_id: int, status: str) -> None:
    async with db.transaction() as s:
        ticket = await tickets.get_ticket(s, ticket_id)
        assert ticket is not None
        ticket.status = status
        s.add(ticket)


async def topic_post(db: Database, ticket_id: int, chat: int) -> TicketPost | None:
    async with db.transaction() as s:
        return await outbox.find_post(s, ticket_id, "telegram", str(chat), "topic")


async def remember_card(db: Database, ticket_id: int, chat: int, message_id: str) -> None:
    """What the worker does after a card is sent."""
    async with db.transaction() as s:
        await outbox.remember_post(s, ticket_id, "telegram", str(chat), "queue", message_id)


def to(chat: int, **kw: Any) -> Destination:
    return Destination("telegram", str(chat), **kw)


def msg(fake: FakeTelegram, chat: int, message_id: str | None) -> dict[str, Any]:
    assert message_id is not None
    found = fake.message(chat, int(message_id))
    assert found is not None
    return found


def callback_data(message: dict[str, Any]) -> list[str]:
    return [b["callback_data"] for row in message.get("reply_markup", {}).get("inline_keyboard", []) for b in row]


# --- rendering -------------------------------------------------------------------------


async def test_hostile_text_arrives_as_literal_text_with_buttons(make_sender: MakeSender) -> None:
    fake, sender = await make_sender()
    reply = Reply(HOSTILE, buttons=((Button("Claim ✋", "claim", 7), Button("<b>Esc</b>", "escalate", 7, "L2")),))
    sent = await sender.send(to(IT), reply)
    message = msg(fake, IT, sent)
    assert message["text"] == HOSTILE
    assert "entities" not in message  # nothing the user wrote became markup
    assert message["reply_markup"]["inline_keyboard"][0][1]["text"] == "<b>Esc</b>"
    pressed = [decode(d) for d in callback_data(message)]
    assert [(p.action, p.ticket, p.value) for p in pressed if p] == [("claim", 7, None), ("escalate", 7, "L2")]
    assert fake.calls_of("sendMessage")[0].params["parse_mode"] == "HTML"


async def test_rich_text_becomes_entities_and_its_text_stays_escaped(make_sender: MakeSender) -> None:
    fake, sender = await make_sender()
    rich = parse_markdown("**Restart** the `vpn <client>` & see [docs](https://kb.test/?a=1&b=2)")
    sent = await sender.send(to(ANNA), Reply("plain version", rich=rich))
    message = msg(fake, ANNA, sent)
    assert message["text"] == "Restart the vpn <client> & see docs"
    kinds = {e["type"] for e in message["entities"]}
    assert kinds == {"bold", "code", "text_link"}
    assert next(e["url"] for e in message["entities"] if e["type"] == "text_link") == "https://kb.test/?a=1&b=2"


async def test_ten_thousand_characters_go_in_parts_with_the_buttons_on_the_last(make_sender: MakeSender) -> None:
    fake, sender = await make_sender()
    text = "\n".join(f"{i:03d} {HOSTILE}" for i in range(160))
    assert len(text) > 10_000
    reply = Reply(text, buttons=((Button("Claim", "claim", 1),),))
    assert sender.cost(to(IT), reply) == 3
    sent = await sender.send(to(IT), reply)
    parts = fake.bot_messages(IT)
    assert len(parts) == 3
    assert "\n".join(p["text"] for p in parts) == text  # cut at line breaks, nothing lost
    assert all(len(p["text"]) <= 4096 for p in parts)
    assert [("reply_markup" in p) for p in parts] == [False, False, True]
    assert sent == str(parts[-1]["message_id"])


async def test_one_line_of_ten_thousand_characters_is_cut_hard(make_sender: MakeSender) -> None:
    fake, sender = await make_sender()
    text = "&<" * 5000
    await sender.send(to(IT), Reply(text))
    assert "".join(p["text"] for p in fake.bot_messages(IT)) == text


# --- editing ---------------------------------------------------------------------------


async def test_edit_changes_text_and_buttons_in_place(make_sender: MakeSender) -> None:
    fake, sender = await make_sender()
    first = await sender.send(to(IT), Reply("#1 new", buttons=((Button("Claim", "claim", 1),),)))
    assert await sender.edit(to(IT), str(first), Reply("#1 claimed by <Boris>")) is None
    message = msg(fake, IT, first)
    assert message["text"] == "#1 claimed by <Boris>" and "reply_markup" not in message


async def test_edit_to_the_same_content_is_success(make_sender: MakeSender) -> None:
    fake, sender = await make_sender()
    reply = Reply("#1 new & open", buttons=((Button("Claim", "claim", 1),),))
    first = await sender.send(to(IT), reply)
    assert await sender.edit(to(IT), str(first), reply) is None
    assert "message is not modified" in (fake.calls_of("editMessageText")[-1].error or "")
    assert len(fake.bot_messages(IT)) == 1


async def test_edit_of_a_deleted_message_sends_a_new_one(make_sender: MakeSender) -> None:
    fake, sender = await make_sender()
    first = await sender.send(to(IT), Reply("#1 new"))
    await sender.bot.delete_message(chat_id=IT, message_id=int(str(first)))
    new_id = await sender.edit(to(IT), str(first), Reply("#1 claimed", buttons=((Button("Resolve", "resolve", 1),),)))
    assert new_id is not None and new_id != first
    assert msg(fake, IT, new_id)["text"] == "#1 claimed"
    assert [m["text"] for m in fake.bot_messages(IT)] == ["#1 claimed"]


async def test_an_edit_grown_past_one_message_sends_the_rest_with_the_buttons(make_sender: MakeSender) -> None:
    fake, sender = await make_sender()
    first = await sender.send(to(IT), Reply("#1 short", buttons=((Button("Claim", "claim", 1),),)))
    long_text = "\n".join(f"history line {i} " + "z" * 80 for i in range(60))
    new_id = await sender.edit(to(IT), str(first), Reply(long_text, buttons=((Button("Claim", "claim", 1),),)))
    edited, rest = fake.bot_messages(IT)
    assert "reply_markup" not in edited and "reply_markup" in rest
    assert new_id == str(rest["message_id"])
    assert edited["text"] + "\n" + rest["text"] == long_text


async def test_an_edited_card_whose_message_is_gone_is_sent_again_in_its_topic(make_sender: MakeSender, database: Database) -> None:
    fake, sender = await make_sender(forum=True)
    ticket = await new_ticket(database)
    card_id = await sender.send(to(IT), Reply("new", ticket_id=ticket, card="queue"))
    await sender.bot.delete_message(chat_id=IT, message_id=int(str(card_id)))
    new_id = await sender.edit(to(IT), str(card_id), Reply("claimed", ticket_id=ticket, card="queue"))
    [topic] = fake.topics(IT)
    assert msg(fake, IT, new_id)["message_thread_id"] == topic.thread_id
    assert msg(fake, IT, new_id)["text"] == "claimed"


# --- topics ----------------------------------------------------------------------------


async def test_a_ticket_gets_its_own_topic_in_a_private_chat_with_topics(make_sender: MakeSender, database: Database) -> None:
    fake, sender = await make_sender(topics=True)
    ticket = await new_ticket(database, "VPN не работает\nsince this morning")
    welcome = await sender.send(to(ANNA), Reply("What is the problem?"))  # not about a ticket: main chat
    assert msg(fake, ANNA, welcome).get("message_thread_id") is None

    first = await sender.send(to(ANNA), Reply(f"#{ticket} filed", ticket_id=ticket))
    second = await sender.send(to(ANNA), Reply("Boris: try again", ticket_id=ticket))
    [topic] = fake.topics(ANNA)
    assert topic.name == f"#{ticket} VPN не работает since this morning"
    assert len(fake.calls_of("createForumTopic")) == 1
    assert msg(fake, ANNA, first)["message_thread_id"] == topic.thread_id
    assert msg(fake, ANNA, second)["message_thread_id"] == topic.thread_id
    post = await topic_post(database, ticket, ANNA)
    assert post is not None and post.thread_id == post.message_id == str(topic.thread_id)
    async with database.transaction() as s:  # a message anna writes in the topic maps to the ticket
        assert await outbox.ticket_for_message(s, "telegram", str(ANNA), str(topic.thread_id)) == ticket
    assert len(fake.calls_of("getMe")) == 1  # asked once


async def test_a_private_chat_without_topics_gets_plain_messages(make_sender: MakeSender, database: Database) -> None:
    fake, sender = await make_sender(topics=False)
    ticket = await new_ticket(database)
    sent = await sender.send(to(ANNA), Reply(f"#{ticket} filed", ticket_id=ticket))
    message = msg(fake, ANNA, sent)
    assert "message_thread_id" not in message and "reply_to_message" not in message
    assert fake.calls_of("createForumTopic") == [] and await topic_post(database, ticket, ANNA) is None


async def test_an_explicit_thread_wins(make_sender: MakeSender, database: Database) -> None:
    fake, sender = await make_sender(forum=True)
    ticket = await new_ticket(database)
    card = await sender.send(to(IT), Reply("card", ticket_id=ticket, card="queue"))
    topic = msg(fake, IT, card)["message_thread_id"]
    again = await sender.send(to(IT, thread_id=str(topic)), Reply("note", ticket_id=ticket))
    assert msg(fake, IT, again)["message_thread_id"] == topic
    assert len(fake.calls_of("createForumTopic")) == 1
    # An answer to a command asked in the group's general chat stays there, as a reply.
    asked = await sender.send(to(IT), Reply("someone asks"))
    answer = await sender.send(to(IT, reply_to=str(asked)), Reply("#1 is claimed", ticket_id=ticket))
    assert "message_thread_id" not in msg(fake, IT, answer)
    assert msg(fake, IT, answer)["reply_to_message"]["message_id"] == int(str(asked))


async def test_forum_group_topic_follows_the_ticket(make_sender: MakeSender, database: Database) -> None:
    fake, sender = await make_sender(forum=True)
    ticket = await new_ticket(database, "Printer on 3rd floor jams")
    card = Reply(f"#{ticket} new", buttons=((Button("Claim", "claim", ticket),),), ticket_id=ticket, card="queue")
    card_id = await sender.send(to(IT), card)
    await remember_card(database, ticket, IT, str(card_id))
    [topic] = fake.topics(IT)
    assert topic.name == f"#{ticket} Printer on 3rd floor jams"
    assert msg(fake, IT, card_id)["message_thread_id"] == topic.thread_id  # the card lives in the topic

    relayed = await sender.send(to(IT), Reply("Anna: it jams again", ticket_id=ticket))
    assert msg(fake, IT, relayed)["message_thread_id"] == topic.thread_id

    await set_status(database, ticket, Status.RESOLVED)
    assert await sender.edit(to(IT), str(card_id), Reply(f"#{ticket} resolved", ticket_id=ticket, card="queue")) is None
    assert topic.closed
    await set_status(database, ticket, Status.CLOSED)
    await sender.edit(to(IT), str(card_id), Reply(f"#{ticket} closed", ticket_id=ticket, card="queue"))
    assert len(fake.calls_of("closeForumTopic")) == 1  # already closed: not asked again

    await set_status(database, ticket, Status.CLAIMED)
    await sender.edit(to(IT), str(card_id), Reply(f"#{ticket} reopened", ticket_id=ticket, card="queue"))
    assert not topic.closed and len(fake.calls_of("reopenForumTopic")) == 1
    assert msg(fake, IT, card_id)["text"] == f"#{ticket} reopened"


async def test_topic_state_changed_by_hand_is_not_an_error(make_sender: MakeSender, database: Database) -> None:
    fake, sender = await make_sender(forum=True)
    ticket = await new_ticket(database)
    card_id = await sender.send(to(IT), Reply("new", ticket_id=ticket, card="queue"))
    [topic] = fake.topics(IT)
    await sender.bot.close_forum_topic(chat_id=IT, message_thread_id=topic.thread_id)  # someone closed it
    await set_status(database, ticket, Status.RESOLVED)
    assert await sender.edit(to(IT), str(card_id), Reply("resolved", ticket_id=ticket, card="queue")) is None
    assert fake.calls_of("closeForumTopic")[-1].error == "Bad Request: TOPIC_NOT_MODIFIED"
    assert topic.closed


async def test_a_restarted_sender_reopens_the_topic_of_a_reopened_ticket(make_sender: MakeSender, database: Database) -> None:
    fake, sender = await make_sender(forum=True)
    ticket = await new_ticket(database)
    card_id = await sender.send(to(IT), Reply("new", ticket_id=ticket, card="queue"))
    await set_status(database, ticket, Status.RESOLVED)
    await sender.edit(to(IT), str(card_id), Reply("resolved", ticket_id=ticket, card="queue"))
    [topic] = fake.topics(IT)
    assert topic.closed
    fresh = TelegramSender(sender.bot, rate_policy=UNLIMITED)  # knows nothing about the topic's state
    fresh.bind(database)
    await set_status(database, ticket, Status.WAITING)
    await fresh.edit(to(IT), str(card_id), Reply("waiting", ticket_id=ticket, card="queue"))
    assert not topic.closed


async def test_a_late_message_to_a_closed_topic_opens_it_for_the_message(make_sender: MakeSender, database: Database) -> None:
    fake, sender = await make_sender(forum=True)
    ticket = await new_ticket(database)
    card_id = await sender.send(to(IT), Reply("new", ticket_id=ticket, card="queue"))
    await set_status(database, ticket, Status.CLOSED)
    await sender.edit(to(IT), str(card_id), Reply("closed", ticket_id=ticket, card="queue"))
    [topic] = fake.topics(IT)
    assert topic.closed
    strict = fake._thread  # a bot that is not an admin cannot post in a closed topic

    def closed_refuses(chat: dict[str, Any], params: dict[str, Any]) -> int | None:
        thread = strict(chat, params)
        if thread is not None and topic.closed:
            raise bad("TOPIC_CLOSED")
        return thread

    fake._thread = closed_refuses  # type: ignore[method-assign]
    late = await sender.send(to(IT), Reply("Anna rated 5", ticket_id=ticket))
    assert msg(fake, IT, late)["message_thread_id"] == topic.thread_id
    assert topic.closed  # closed again after the message
    assert [c.method for c in fake.calls if "Topic" in c.method][-2:] == ["reopenForumTopic", "closeForumTopic"]


async def test_a_deleted_topic_is_created_again(make_sender: MakeSender, database: Database) -> None:
    fake, sender = await make_sender(topics=True)
    ticket = await new_ticket(database)
    await sender.send(to(ANNA), Reply("filed", ticket_id=ticket))
    [old] = fake.topics(ANNA)
    await sender.bot.delete_forum_topic(chat_id=ANNA, message_thread_id=old.thread_id)
    sent = await sender.send(to(ANNA), Reply("Boris: fixed?", ticket_id=ticket))
    [new] = fake.topics(ANNA)
    assert new.thread_id != old.thread_id and new.name == old.name
    assert msg(fake, ANNA, sent)["message_thread_id"] == new.thread_id
    post = await topic_post(database, ticket, ANNA)
    assert post is not None and post.thread_id == post.message_id == str(new.thread_id)


async def test_a_thread_that_is_gone_and_not_the_tickets_falls_back_to_the_main_chat(make_sender: MakeSender) -> None:
    fake, sender = await make_sender(forum=True)
    sent = await sender.send(to(IT, thread_id="999"), Reply("lead digest"))
    assert "message_thread_id" not in msg(fake, IT, sent)
    assert fake.calls_of("createForumTopic") == []


async def test_a_plain_group_threads_by_replying_to_the_card(make_sender: MakeSender, database: Database) -> None:
    fake, sender = await make_sender(forum=False)
    ticket = await new_ticket(database)
    card_id = await sender.send(to(IT), Reply("card", ticket_id=ticket, card="queue"))
    assert "reply_to_message" not in msg(fake, IT, card_id)
    await remember_card(database, ticket, IT, str(card_id))
    relayed = await sender.send(to(IT), Reply("Anna: still broken", ticket_id=ticket))
    assert msg(fake, IT, relayed)["reply_to_message"]["message_id"] == int(str(card_id))
    other = await sender.send(to(IT, reply_to=str(relayed)), Reply("explicit", ticket_id=ticket))
    assert msg(fake, IT, other)["reply_to_message"]["message_id"] == int(str(relayed))
    assert fake.calls_of("createForumTopic") == []

    await sender.bot.delete_message(chat_id=IT, message_id=int(str(card_id)))  # the card is gone
    late = await sender.send(to(IT), Reply("Anna: hello?", ticket_id=ticket))
    assert "reply_to_message" not in msg(fake, IT, late)  # sent anyway


async def test_private_replies_in_a_chat_without_topics_follow_dest_reply_to(make_sender: MakeSender) -> None:
    fake, sender = await make_sender()
    first = await sender.send(to(ANNA), Reply("#1 filed"))
    second = await sender.send(to(ANNA, reply_to=str(first)), Reply("Boris: try again", ticket_id=None))
    assert msg(fake, ANNA, second)["reply_to_message"]["message_id"] == int(str(first))


# --- attachments -----------------------------------------------------------------------


async def test_files_follow_the_text_by_file_id_in_the_same_topic(make_sender: MakeSender, database: Database) -> None:
    fake, sender = await make_sender(forum=True)
    ticket = await new_ticket(database)
    photo = fake.add_file("photo", 50_000)
    doc = fake.add_file("document", 25 * 1024 * 1024, name="dump.zip", mime_type="application/zip")
    voice = fake.add_file("voice", 9_000)
    files = (
        Attachment("screen.jpg", "image/jpeg", 50_000, photo.file_id, "photo", "telegram"),
        Attachment("dump.zip", "application/zip", doc.size, doc.file_id, "document", "telegram"),
        Attachment("note.ogg", "audio/ogg", 9_000, voice.file_id, "voice", "telegram"),
        Attachment("slack.png", "image/png", 10, "F123SLACK", "photo", "slack"),  # no fetcher here: a note
    )
    reply = Reply("Anna sent files", ticket_id=ticket, attachments=files,
                  buttons=((Button("Reply", "reply", ticket),),))
    assert sender.cost(to(IT), reply) == 1 + 3  # text and three files (not yet known to be a forum)
    sent = await sender.send(to(IT), reply)
    assert sender.cost(to(IT), reply) == 1 + 3  # the topic exists now
    assert sender.cost(to(IT), Reply("x", ticket_id=ticket + 1)) == 1 + 1  # another ticket: a topic to create
    [topic] = fake.topics(IT)
    messages = fake.bot_messages(IT, topic.thread_id)
    assert [next(k for k in ("text", "photo", "document", "voice") if k in m) for m in messages] == [
        "text", "photo", "document", "voice"]
    assert sent == str(messages[0]["message_id"]) and "reply_markup" in messages[0]
    assert messages[2]["document"]["file_id"] == doc.file_id
    assert t("file_not_copied", "en", name="slack.png", source="Slack") in messages[0]["text"]
    assert [c.method for c in fake.sent(IT)] == ["sendMessage", "sendPhoto", "sendDocument", "sendVoice"]


PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 500


async def test_files_of_another_platform_are_uploaded_or_noted_in_the_readers_language(
    make_sender: MakeSender, database: Database, caplog: pytest.LogCaptureFixture,
) -> None:
    stored = {"F1LOG": b"vpn: handshake failed\n" * 10, "F2PNG": PNG, "F3BAD": b"not a picture"}

    async def fetch(attachment: Attachment) -> bytes:
        if attachment.file_id not in stored:
            raise RuntimeError("GET https://files.slack.com/x?token=xoxb-secret-slack-token failed")
        return stored[attachment.file_id]

    fake, sender = await make_sender(forum=True, files={"slack": fetch})
    ticket = await new_ticket(database)
    files = (
        Attachment("vpn.log", "text/plain", 230, "F1LOG", "file", "slack"),
        Attachment("screen.png", "image/png", len(PNG), "F2PNG", "file", "slack"),
        Attachment("wrong.png", "image/png", 13, "F3BAD", "file", "slack"),  # not a picture: as a document
        Attachment("gone.txt", "text/plain", 5, "F4GONE", "file", "slack"),  # the download fails
        Attachment("dump.bin", "application/octet-stream", 60 * MB, "F5BIG", "file", "slack"),  # over 50 MB
    )
    reply = Reply("Boris: вот файлы", ticket_id=ticket, attachments=files, locale="ru")
    assert sender.cost(to(IT), reply) == 1 + 5
    await sender.send(to(IT), reply)
    [topic] = fake.topics(IT)
    messages = fake.bot_messages(IT, topic.thread_id)
    assert [(k, m[k].get("file_name") if k == "document" else None)
            for m in messages for k in ("text", "photo", "document") if k in m] == [
        ("text", None), ("document", "vpn.log"), ("photo", None), ("document", "wrong.png")]
    text = messages[0]["text"]
    assert text.startswith("Boris: вот файлы")
    assert t("file_not_copied", "ru", name="gone.txt", source="Slack") in text
    assert t("file_not_copied_too_big", "ru", name="dump.bin", size="60 MB", limit="50 MB", platform="Telegram",
             source="Slack") in text
    assert "xoxb-secret-slack-token" not in caplog.text


@pytest.mark.parametrize("kind", ["video", "audio", "animation"])
async def test_each_kind_of_file_goes_by_its_own_method(make_sender: MakeSender, kind: str) -> None:
    fake, sender = await make_sender()
    record = fake.add_file(kind, 2_000)
    await sender.send(to(ANNA), Reply("file:", attachments=(Attachment("f", "", 2_000, record.file_id, kind, "telegram"),)))
    assert [c.method for c in fake.sent(ANNA)] == ["sendMessage", "send" + kind.capitalize()]
    assert fake.bot_messages(ANNA)[-1][kind]["file_id"] == record.file_id


async def test_files_without_text_carry_the_buttons(make_sender: MakeSender) -> None:
    fake, sender = await make_sender()
    photo = fake.add_file("photo", 1_000)
    sent = await sender.send(to(ANNA), Reply("", attachments=(Attachment("p.jpg", "image/jpeg", 1_000, photo.file_id,
                                                                        "photo", "telegram"),),
                                             buttons=((Button("OK", "ok"),),)))
    message = msg(fake, ANNA, sent)
    assert "photo" in message and "reply_markup" in message


# --- errors in the worker's vocabulary ---------------------------------------------------


async def test_429_becomes_a_platform_wide_retry_after(make_sender: MakeSender) -> None:
    fake, sender = await make_sender()
    fake.inject_429(retry_after=7)
    with pytest.raises(RetryAfter) as caught:
        await sender.send(to(ANNA), Reply("hello"))
    assert caught.value.seconds == 7 and caught.value.scope == "platform"


async def test_a_retry_after_a_429_midway_sends_only_the_rest(make_sender: MakeSender) -> None:
    fake, sender = await make_sender()
    text = "\n".join(f"line {i} " + "x" * 90 for i in range(100))  # three parts
    photo = fake.add_file("photo", 1_000)
    reply = Reply(text, attachments=(Attachment("p.jpg", "image/jpeg", 1, photo.file_id, "photo", "telegram"),))
    real_send = sender.bot.send_message
    calls = 0

    async def second_part_refused(**kw: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            fake.inject_429(retry_after=1)
        return await real_send(**kw)

    sender.bot.send_message = second_part_refused  # type: ignore[method-assign]
    with pytest.raises(RetryAfter):
        await sender.send(to(IT), reply)
    assert len(fake.bot_messages(IT)) == 1
    clock = fake.now
    fake.now = lambda: clock() + 1.5  # type: ignore[method-assign]  # the worker waited retry_after
    last = await sender.send(to(IT), reply)  # the worker's retry
    messages = fake.bot_messages(IT)
    assert "\n".join(m["text"] for m in messages if "text" in m) == text  # each part exactly once
    assert [("photo" in m) for m in messages] == [False, False, False, True]
    assert last == str(messages[2]["message_id"])  # the last text part
    assert fake.early_retries == 0


async def test_a_blocked_user_is_recipient_blocked(make_sender: MakeSender) -> None:
    fake, sender = await make_sender()
    fake.block(ANNA)
    with pytest.raises(RecipientBlocked):
        await sender.send(to(ANNA), Reply("hello"))


async def test_an_unknown_chat_is_recipient_blocked(make_sender: MakeSender) -> None:
    _, sender = await make_sender()
    with pytest.raises(RecipientBlocked):
        await sender.send(to(-100999), Reply("hello"))


async def test_other_errors_are_raised_for_backoff(make_sender: MakeSender) -> None:
    _, sender = await make_sender()
    with pytest.raises(Exception, match="wrong file identifier"):
        await sender.send(to(ANNA), Reply("x", attachments=(Attachment("a", "b", 1, "NOPE", "photo", "telegram"),)))


async def test_parts_to_one_private_chat_are_paced_below_its_limit(make_sender: MakeSender) -> None:
    fake, sender = await make_sender(rate_limits=True, rate_policy=None)  # the fake enforces 1/s per DM
    text = "\n".join("y" * 100 for _ in range(90))  # three parts
    await sender.send(to(ANNA), Reply(text))
    assert len(fake.bot_messages(ANNA)) == 3
    assert fake.too_many_requests == 0


async def test_the_token_never_leaves_in_an_error(make_sender: MakeSender) -> None:
    fake, sender = await make_sender()
    token = fake.token

    async def leaky(**kw: Any) -> Any:
        raise RuntimeError(f"POST http://127.0.0.1/bot{token}/sendMessage failed")

    sender.bot.send_message = leaky  # type: ignore[method-assign]
    with pytest.raises(Exception) as caught:
        await sender.send(to(ANNA), Reply("hello"))
    assert token not in str(caught.value) and "***" in str(caught.value)
    assert caught.value.__suppress_context__


async def test_a_network_failure_is_raised_for_backoff_without_the_token(database: Database) -> None:
    import socket

    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token = "123456:AAE-real-looking-token-value-0123456789"
    bot = Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(f"http://127.0.0.1:{port}")))
    sender = TelegramSender(bot)
    sender.bind(database)
    try:
        with pytest.raises(Exception) as caught:
            await sender.send(to(ANNA), Reply("hello"))
    finally:
        await bot.session.close()
    assert not isinstance(caught.value, (RetryAfter, RecipientBlocked))
    assert token not in str(caught.value)


async def test_parts_to_a_group_go_together_within_its_limit(make_sender: MakeSender) -> None:
    fake, sender = await make_sender(rate_limits=True, rate_policy=None)  # the fake enforces 20/min per group
    text = "\n".join("g" * 100 for _ in range(90))  # three parts
    await sender.send(to(IT), Reply(text))
    calls = fake.sent(IT)
    assert len(calls) == 3 and fake.too_many_requests == 0
    assert calls[-1].time - calls[0].time < 1.0  # no needless wait between them
