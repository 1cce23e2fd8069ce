"""SlackSender against the fake Slack Web API, with the real AsyncWebClient over loopback HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery import UNLIMITED, OutboxWorker, RecipientBlocked, RetryAfter
from bot.slack.actions import decode
from bot.slack.blocks import MAX_BLOCKS, MAX_SECTION
from bot.slack.sender import FileFetcher, SlackSender, telegram_fetcher
from handlers.events import Attachment, Button, Destination, Reply
from store import outbox, tickets
from store.db import Database
from store.models import Person, TicketPost
from tests.fakes.slack import FakeSlack, render_mrkdwn
from tests.fakes.telegram import FakeTelegram
from tests.support.clock import FakeClock

ANNA = "U0ANNA"
BORIS = "U0BORIS"
IT = "C0IT"  # the IT team's queue channel
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
HOSTILE = "<!channel> <@U123> <http://evil|Reset password> & <!here> &amp; done"

MakeSender = Callable[..., Awaitable[tuple[FakeSlack, SlackSender]]]


@pytest.fixture
async def make_sender(database: Database) -> AsyncIterator[MakeSender]:
    """A started fake (rate limits as given) and a sender bound to the test database."""
    opened: list[FakeSlack] = []

    async def make(*, rate_limits: bool = False, rate_policy: Any = UNLIMITED, token: str | None = None,
                   files: dict[str, FileFetcher] | None = None) -> tuple[FakeSlack, SlackSender]:
        fake = await FakeSlack(rate_limits=rate_limits).start()
        opened.append(fake)
        fake.add_user(ANNA, "Anna Petrova")
        fake.add_user(BORIS, "Boris Ivanov")
        fake.add_channel(IT, "it-queue", members=[BORIS])
        client = AsyncWebClient(token=token or fake.token, base_url=fake.base_url)
        sender = SlackSender(client, rate_policy=rate_policy, files=files)
        sender.bind(database)
        return fake, sender

    yield make
    for fake in opened:
        assert fake.block_errors == []  # never a Block Kit limit error at the fake
        assert fake.internal_errors == []
        await fake.close()


async def new_ticket(db: Database, text: str = "VPN не работает") -> int:
    async with db.transaction() as s:
        person = Person(key=f"p{datetime.now().timestamp()}", name="Anna")
        s.add(person)
        await s.flush()
        assert person.id is not None
        ticket = await tickets.create_ticket(
            s, team="it", category="network", priority="normal", requester_id=person.id, text=text,
            platform="slack", now=NOW, first_response_due=None, resolution_due=None,
        )
        assert ticket.id is not None
        return ticket.id


async def remember_card(db: Database, ticket_id: int, channel: str, ts: str) -> None:
    """What the worker does after a queue card is sent."""
    async with db.transaction() as s:
        await outbox.remember_post(s, ticket_id, "slack", channel, "queue", ts)


async def post(db: Database, ticket_id: int, channel: str, card: str) -> TicketPost | None:
    async with db.transaction() as s:
        return await outbox.find_post(s, ticket_id, "slack", channel, card)


def to(channel: str, **kw: Any) -> Destination:
    return Destination("slack", channel, **kw)


def msg(fake: FakeSlack, channel: str, ts: str | None) -> dict[str, Any]:
    assert ts is not None
    found = fake.message(channel, ts)
    assert found is not None
    return found


def thread_of(fake: FakeSlack, channel: str, ts: str | None) -> str | None:
    """The thread a message is a reply in (None for a top-level message, a thread root included)."""
    message = msg(fake, channel, ts)
    thread = message.get("thread_ts")
    return None if thread in (None, message["ts"]) else str(thread)


def section_texts(message: dict[str, Any]) -> list[str]:
    return [b["text"]["text"] for b in message.get("blocks", []) if b["type"] == "section"]


def shown(fake: FakeSlack, mrkdwn: str) -> str:
    """What a Slack client shows, asserting nothing in it became a mention or a link."""
    text, mentions, links = render_mrkdwn(mrkdwn, fake.users, fake.channels)
    assert mentions == [] and links == []
    return text


# --- posting ---------------------------------------------------------------------------


async def test_hostile_text_is_shown_literally_with_working_buttons(make_sender: MakeSender) -> None:
    fake, sender = await make_sender()
    reply = Reply(HOSTILE, buttons=((Button("Claim ✋", "claim", 7), Button("<b>Esc</b>", "escalate", 7, "L2")),))
    ts = await sender.send(to(IT), reply)
    message = msg(fake, IT, ts)
    assert [shown(fake, t) for t in section_texts(message)] == [HOSTILE]
    assert shown(fake, message["text"]) == HOSTILE  # the notification fallback too
    [actions] = [b for b in message["blocks"] if b["type"] == "actions"]
    pressed = [decode(e["value"]) for e in actions["elements"]]
    assert [(p.action, p.ticket, p.value) for p in pressed if p] == [("claim", 7, None), ("escalate", 7, "L2")]
    assert [c.params.get("thread_ts") for c in fake.calls_of("chat.postMessage")] == [None]


async def test_ten_thousand_hostile_characters_arrive_whole_within_limits(make_sender: MakeSender) -> None:
    fake, sender = await make_sender(rate_limits=True)
    text = "\n".join(f"{i:03d} {HOSTILE}" for i in range(160))
    assert len(text) > 10_000
    reply = Reply(text, buttons=((Button("Claim", "claim", 1),),))
    assert sender.cost(to(IT), reply) == 1
    ts = await sender.send(to(IT), reply)
    message = msg(fake, IT, ts)
    parts = section_texts(message)
    assert len(parts) > 3 and all(len(p) <= MAX_SECTION for p in parts)
    assert "\n".join(shown(fake, p) for p in parts) == text
    assert message["blocks"][-1]["type"] == "actions"


async def test_a_reply_over_fifty_blocks_goes_as_paced_messages_with_the_buttons_on_the_last(
    make_sender: MakeSender,
) -> None:
    fake, sender = await make_sender(rate_limits=True, rate_policy=None)  # the default policy paces
    text = "\n".join("q" * (MAX_SECTION - 1) for _ in range(MAX_BLOCKS + 2))
    reply = Reply(text, buttons=((Button("Claim", "claim", 1),),))
    assert sender.cost(to(IT), reply) == 2
    ts = await sender.send(to(IT), reply)
    sent = fake.bot_messages(IT)
    assert len(sent) == 2 and sent[-1]["ts"] == ts
    assert ["actions" in [b["type"] for b in m["blocks"]] for m in sent] == [False, True]
    assert fake.too_many_requests == 0  # the two messages were spaced by the channel's limit


# --- threads ---------------------------------------------------------------------------


async def test_in_a_channel_ticket_replies_go_under_the_queue_card(make_sender: MakeSender, database: Database) -> None:
    fake, sender = await make_sender()
    ticket = await new_ticket(database)
    before = await sender.send(to(IT), Reply("#1 before the card", ticket_id=ticket))
    card_ts = await sender.send(to(IT), Reply("card", ticket_id=ticket, card="queue"))
    assert card_ts is not None
    await remember_card(database, ticket, IT, card_ts)
    again = await sender.send(to(IT), Reply("card again", ticket_id=ticket, card="queue"))
    answer = await sender.send(to(IT), Reply("anna wrote: hi", ticket_id=ticket))
    assert thread_of(fake, IT, before) is None  # no card yet: top level
    assert thread_of(fake, IT, again) is None  # the card itself is never in its own thread
    assert thread_of(fake, IT, answer) == card_ts
    assert [m["ts"] for m in fake.bot_messages(IT, card_ts)] == [answer]
    assert await post(database, ticket, IT, "thread") is None  # the card is the channel's root


async def test_in_a_dm_the_first_ticket_message_becomes_the_thread_root(
    make_sender: MakeSender, database: Database,
) -> None:
    fake, sender = await make_sender()
    dm = fake.dm(ANNA)["id"]
    ticket = await new_ticket(database)
    hello = await sender.send(to(dm), Reply("Hi! Describe your problem."))  # no ticket: top level
    created = await sender.send(to(dm), Reply("#1 created", ticket_id=ticket))
    update = await sender.send(to(dm), Reply("boris took #1", ticket_id=ticket))
    assert created is not None
    assert thread_of(fake, dm, hello) is None and thread_of(fake, dm, created) is None
    assert thread_of(fake, dm, update) == created
    root = await post(database, ticket, dm, "thread")
    assert root is not None and root.message_id == created and root.thread_id == created
    async with database.transaction() as s:  # what anna writes in the thread maps to the ticket
        assert await outbox.ticket_for_message(s, "slack", dm, created) == ticket


async def test_a_person_id_as_destination_posts_in_their_dm_and_keeps_its_thread(
    make_sender: MakeSender, database: Database,
) -> None:
    fake, sender = await make_sender()
    ticket = await new_ticket(database)
    created = await sender.send(to(ANNA), Reply("#1 created", ticket_id=ticket))
    update = await sender.send(to(ANNA), Reply("boris took #1", ticket_id=ticket))
    dm = fake.dm_id(ANNA)
    assert thread_of(fake, dm, created) is None and thread_of(fake, dm, update) == created
    root = await post(database, ticket, dm, "thread")  # recorded under the DM's id, as its events carry
    assert root is not None and root.message_id == created
    assert len(fake.calls_of("conversations.open")) == 1
    assert await sender.edit(to(ANNA), update or "", Reply("boris took #1 (edited)")) is None
    fake.add_user("U0GONE", "Gone Person")
    fake.deactivate("U0GONE")
    with pytest.raises(RecipientBlocked):
        await sender.send(to("U0GONE"), Reply("hello"))


async def test_an_explicit_thread_wins(make_sender: MakeSender, database: Database) -> None:
    fake, sender = await make_sender()
    ticket = await new_ticket(database)
    card_ts = await sender.send(to(IT), Reply("card", ticket_id=ticket, card="queue"))
    assert card_ts is not None
    await remember_card(database, ticket, IT, card_ts)
    other = await sender.send(to(IT), Reply("someone's message"))
    assert other is not None
    answer = await sender.send(to(IT, thread_id=other), Reply("Ticket #1 created", ticket_id=ticket))
    assert thread_of(fake, IT, answer) == other


# --- editing ---------------------------------------------------------------------------


async def test_a_card_is_updated_in_place(make_sender: MakeSender) -> None:
    fake, sender = await make_sender()
    ts = await sender.send(to(IT), Reply("#1 new", buttons=((Button("Claim", "claim", 1),),), card="queue"))
    assert ts is not None
    result = await sender.edit(to(IT), ts, Reply(f"#1 claimed by boris {HOSTILE}", card="queue"))
    assert result is None
    message = msg(fake, IT, ts)
    assert [shown(fake, t) for t in section_texts(message)] == [f"#1 claimed by boris {HOSTILE}"]
    assert all(b["type"] != "actions" for b in message["blocks"])  # the buttons are gone
    assert len(fake.bot_messages(IT)) == 1


async def test_an_update_of_a_message_that_is_gone_sends_it_anew(make_sender: MakeSender, database: Database) -> None:
    fake, sender = await make_sender()
    ticket = await new_ticket(database)
    new_ts = await sender.edit(to(IT), "1700000000.000999", Reply("#1 card", ticket_id=ticket, card="queue"))
    assert new_ts is not None and [m["ts"] for m in fake.bot_messages(IT)] == [new_ts]
    assert thread_of(fake, IT, new_ts) is None
    assert [c.error for c in fake.calls_of("chat.update")] == ["message_not_found"]


async def test_an_update_the_bot_may_not_make_sends_anew(make_sender: MakeSender) -> None:
    fake, sender = await make_sender()
    someone = fake.add_user("U0CARL", "Carl")["id"]
    fake.messages[IT].append({"type": "message", "user": someone, "text": "mine", "ts": "1700000001.000100"})
    new_ts = await sender.edit(to(IT), "1700000001.000100", Reply("card"))
    assert new_ts is not None and new_ts != "1700000001.000100"
    assert [c.error for c in fake.calls_of("chat.update")] == ["cant_update_message"]


# --- files -----------------------------------------------------------------------------


async def test_a_slack_file_is_shared_again_by_permalink(make_sender: MakeSender) -> None:
    fake, sender = await make_sender()
    file = fake.add_file("screen <1>.png", b"\x89PNG...", user=ANNA)
    files = (Attachment("screen <1>.png", "image/png", 8, file["id"], "photo", "slack"),
             Attachment("gone.pdf", "application/pdf", 3, "F0GONE", "document", "slack"),
             Attachment("tg.jpg", "image/jpeg", 5, "AgACAgIAAx", "photo", "telegram"))
    ts = await sender.send(to(IT), Reply("anna sent files", attachments=files))
    [text] = section_texts(msg(fake, IT, ts))
    shown_text, mentions, links = render_mrkdwn(text)
    assert mentions == [] and [unquote(link) for link in links] == [file["permalink"]]
    # a file it cannot see, and one of another platform with no way to copy it: their names
    assert shown_text == "anna sent files\n📎 screen <1>.png\n📎 gone.pdf\n📎 tg.jpg"
    assert fake.calls_of("files.getUploadURLExternal") == []


@pytest.fixture
async def telegram() -> AsyncIterator[tuple[FakeTelegram, Bot]]:
    fake = await FakeTelegram().start()
    bot = Bot(fake.token, session=AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url)))
    yield fake, bot
    await bot.session.close()
    await fake.close()


async def test_a_telegram_photo_is_copied_into_the_tickets_thread(
    make_sender: MakeSender, database: Database, telegram: tuple[FakeTelegram, Bot],
) -> None:
    tg, bot = telegram
    photo = tg.add_file("photo", 5000, mime_type="image/jpeg")
    fake, sender = await make_sender(files={"telegram": telegram_fetcher(bot)})
    ticket = await new_ticket(database)
    card_ts = await sender.send(to(IT), Reply("#1 card", ticket_id=ticket, card="queue"))
    assert card_ts is not None
    await remember_card(database, ticket, IT, card_ts)
    files = (Attachment("", "image/jpeg", 5000, photo.file_id, "photo", "telegram"),
             Attachment("scan.pdf", "application/pdf", 10, "DOC-999999-missing", "document", "telegram"))
    ts = await sender.send(to(IT), Reply("anna: the error <b>", ticket_id=ticket, attachments=files))
    in_thread = fake.bot_messages(IT, card_ts)
    assert [m["ts"] for m in in_thread][0] == ts and len(in_thread) == 2
    [shared] = in_thread[1]["files"]
    assert shared["name"] == "photo.jpg" and shared["size"] == 1024  # what the fake Bot API served
    assert fake.files[shared["id"]]["_content"] == b"\0" * 1024
    [complete] = fake.calls_of("files.completeUploadExternal")
    assert complete.params["channel_id"] == IT and complete.params["thread_ts"] == card_ts
    # the document Telegram would not give out is named in the text instead
    assert [shown(fake, t) for t in section_texts(msg(fake, IT, ts))] == ["anna: the error <b>\n📎 scan.pdf"]


# --- errors in the worker's vocabulary -------------------------------------------------


async def test_429_becomes_retry_after_for_the_whole_app(make_sender: MakeSender) -> None:
    # Slack does not say which limit a 429 is (a channel's, the workspace's): every send waits.
    fake, sender = await make_sender()
    fake.inject_429(retry_after=7, channel=IT)
    with pytest.raises(RetryAfter) as caught:
        await sender.send(to(IT), Reply("hello"))
    assert caught.value.seconds == 7 and caught.value.scope == "platform"
    assert fake.bot_messages(IT) == []


async def test_a_reply_cut_short_by_429_continues_where_it_stopped(make_sender: MakeSender) -> None:
    fake, sender = await make_sender(rate_limits=True)  # no pacing: the second message hits the limit
    text = "\n".join("r" * (MAX_SECTION - 1) for _ in range(MAX_BLOCKS + 2))
    reply = Reply(text, buttons=((Button("Claim", "claim", 1),),))
    with pytest.raises(RetryAfter) as caught:
        await sender.send(to(IT), reply)
    assert caught.value.scope == "platform" and caught.value.seconds >= 1
    assert len(fake.bot_messages(IT)) == 1
    fake.advance(caught.value.seconds + 1)  # the worker waits Retry-After, then tries the row again
    ts = await sender.send(to(IT), reply)
    sent = fake.bot_messages(IT)
    assert len(sent) == 2 and sent[-1]["ts"] == ts  # the first message was not sent twice


@pytest.mark.parametrize("trouble", ["archived", "not_in_channel", "deleted", "inactive"])
async def test_an_unreachable_channel_or_person_is_recipient_blocked(make_sender: MakeSender, trouble: str) -> None:
    fake, sender = await make_sender()
    channel = IT
    if trouble == "archived":
        fake.archive(IT)
    elif trouble == "not_in_channel":
        channel = fake.add_channel("C0OTHER", "other", bot_member=False)["id"]
    elif trouble == "deleted":
        fake.delete_channel(IT)
    else:
        channel = fake.dm(ANNA)["id"]
        fake.deactivate(ANNA)
    with pytest.raises(RecipientBlocked) as caught:
        await sender.send(to(channel), Reply("hello"))
    expected = {"archived": "is_archived", "not_in_channel": "not_in_channel", "deleted": "channel_not_found",
                "inactive": "account_inactive"}[trouble]
    assert str(caught.value) == expected


async def test_other_failures_are_raised_without_the_token(make_sender: MakeSender) -> None:
    secret = "xoxb-9999-not-the-right-secret-token"
    fake, sender = await make_sender(token=secret)
    with pytest.raises(SlackApiError) as caught:
        await sender.send(to(IT), Reply("hello"))
    assert caught.value.response["error"] == "invalid_auth"
    assert secret not in str(caught.value) and secret not in repr(caught.value.args)


# --- through the outbox worker ---------------------------------------------------------


async def test_the_worker_delivers_everything_within_the_channel_limits(
    make_sender: MakeSender, database: Database, clock: FakeClock,
) -> None:
    fake, sender = await make_sender(rate_limits=True, rate_policy=None)  # the fake's 1/s per channel, 429 above
    for channel in ("C0HR", "C0OPS"):
        fake.add_channel(channel, channel.lower())
    dm = fake.dm(ANNA)["id"]
    ticket = await new_ticket(database)
    card = Reply("#1 new", buttons=((Button("Claim", "claim", ticket),),))
    rows = [
        (IT, card, "queue"), (IT, Reply("anna: it is still broken"), None),
        (dm, Reply("#1 created"), None), (dm, Reply("boris took #1"), None),
        (IT, Reply("#1 claimed by boris"), "queue"),
    ] + [(channel, Reply(f"{channel} news {i} {HOSTILE}"), None) for channel in ("C0HR", "C0OPS") for i in range(3)]
    async with database.transaction() as s:
        for channel, reply, slot in rows:
            await outbox.enqueue(s, platform="slack", chat_id=channel, payload=reply.to_payload(), now=clock(),
                                 ticket_id=ticket if channel in (IT, dm) else None, card=slot)
    worker = OutboxWorker(database, {"slack": sender}, clock)
    settled = 0
    while (done := await worker.deliver_pending()):
        settled += done
    assert settled == len(rows)
    # A 429 from the fake's sliding window can happen on a busy machine (event-loop lateness
    # bunches sends); it must be waited out, never retried early, and nothing is lost.
    assert fake.early_retries == 0 and fake.block_errors == []
    [card_message, reply_in_thread] = fake.bot_messages(IT)
    assert shown(fake, card_message["text"]) == "#1 claimed by boris"  # the card row edited the card
    assert thread_of(fake, IT, reply_in_thread["ts"]) == card_message["ts"]
    created, update = fake.bot_messages(dm)
    assert thread_of(fake, dm, update["ts"]) == created["ts"]
    assert [shown(fake, m["text"]) for m in fake.bot_messages("C0HR")] == [f"C0HR news {i} {HOSTILE}" for i in range(3)]
    async with database.transaction() as s:
        assert await outbox.backlog(s) == 0
