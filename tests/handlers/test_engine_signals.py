"""What Telegram-like frontends send besides plain text: files, forwards, edits, signals,
alert presses, deep links, thread commands, and where answers in a team chat go.

Runs the real engine and outbox worker on SQLite and PostgreSQL; the sender records the
delivered destination and reply (attachments, thread, reply_to) as the worker built them
from the outbox payload.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlmodel import col, select

from bot.app import App, build
from bot.config import Config
from handlers.events import Attachment, Destination, Incoming, Outcome, Reply
from handlers.files import MB, human_size
from handlers.texts import t
from store.models import Identity, InboxEvent, MessageKind, OutboxMessage, Ticket, TicketEvent, TicketMessage
from tests.support.clock import FakeClock
from tests.support.desk import RecordingSender
from tests.support.scenarios import FakeKb

IT_QUEUE = "-1001000000001"
ANNA, BORIS = "100001", "100002"


@dataclass
class FileSender(RecordingSender):
    """Records what the worker handed over, attachments and reply references included."""

    delivered: list[tuple[Destination, Reply]] = field(default_factory=list)

    async def send(self, dest: Destination, reply: Reply) -> str | None:
        self.delivered.append((dest, reply))
        return await super().send(dest, reply)

    async def edit(self, dest: Destination, message_id: str, reply: Reply) -> None:
        self.delivered.append((dest, reply))
        await super().edit(dest, message_id, reply)


@pytest.fixture
async def tg(config: Config, db_url: str, clock: FakeClock) -> AsyncIterator[App]:
    app = build(config, senders={"telegram": FileSender(platform="telegram")}, database_url=db_url,
                clock=clock, kb=FakeKb())
    await app.start()
    yield app
    await app.close()


_keys = itertools.count(1)


async def send(app: App, user: str, *, chat: str | None = None, text: str = "", **kw: Any) -> Outcome:
    outcome = await app.engine.handle(Incoming(
        platform="telegram", chat_id=chat or user, user_id=user, event_key=kw.pop("key", None) or f"tg:{next(_keys)}",
        text=text, is_private=chat is None, **kw,
    ))
    while await app.worker.deliver_pending():
        pass
    return outcome


def sender(app: App) -> FileSender:
    s = app.senders["telegram"]
    assert isinstance(s, FileSender)
    return s


def delivered(app: App, chat: str) -> list[tuple[Destination, Reply]]:
    return [(d, r) for d, r in sender(app).delivered if d.chat_id == chat]


def mark(app: App) -> int:
    return len(sender(app).delivered)


def since(app: App, start: int, chat: str) -> list[Reply]:
    return [r for d, r in sender(app).delivered[start:] if d.chat_id == chat]


def photo(name: str = "screen.png", size: int = 1_300_000) -> Attachment:
    return Attachment(name=name, mime_type="image/png", size=size, file_id=f"F-{name}", kind="photo",
                      platform="telegram")


async def rows(app: App, model: Any, *where: Any) -> list[Any]:
    async with app.db.transaction() as s:
        stmt = select(model).where(*where) if where else select(model)
        return list(await s.exec(stmt.order_by(col(model.id))))


async def file_ticket(app: App, text: str = "принтер не печатает", **kw: Any) -> int:
    await send(app, ANNA, text=text, **kw)
    await send(app, ANNA, action="cat_ok")
    tickets = await rows(app, Ticket)
    assert tickets, "no ticket filed"
    return tickets[-1].id


async def card_message_id(app: App, number: int) -> str:
    [row] = await rows(app, OutboxMessage, OutboxMessage.chat_id == IT_QUEUE, OutboxMessage.card == "queue",
                       OutboxMessage.ticket_id == number, col(OutboxMessage.message_id).is_not(None))
    return row.message_id


# --- 1. attachments -------------------------------------------------------------------


async def test_a_photo_with_its_request_is_kept_on_the_ticket_and_reaches_the_team_thread(tg: App) -> None:
    number = await file_ticket(tg, attachments=(photo(),), message_id="11")
    [first] = await rows(tg, TicketMessage, TicketMessage.ticket_id == number)
    assert first.attachments == [photo().to_dict()] and first.message_id == "11" and first.chat_id == ANNA
    files = [r for r in (r for _, r in delivered(tg, IT_QUEUE)) if r.attachments]
    assert len(files) == 1 and files[0].ticket_id == number
    assert files[0].attachments == (photo(),) and "📎 screen.png (1.2 MB)" in files[0].text


async def test_a_file_without_a_caption_files_a_ticket_named_after_the_file(tg: App) -> None:
    doc = Attachment(name="счёт-42.pdf", mime_type="application/pdf", size=40_000, file_id="D1", kind="document",
                     platform="telegram")
    await send(tg, ANNA, attachments=(doc,), message_id="5")
    assert [b.action for b in sender(tg).delivered[-1][1].buttons[0]] == ["cat", "cat"]  # a category list
    await send(tg, ANNA, action="cat", value="hardware")
    [ticket] = await rows(tg, Ticket)
    assert ticket.subject == "счёт-42.pdf" and ticket.category == "hardware"
    [msg] = await rows(tg, TicketMessage)
    assert msg.text == "" and msg.attachments[0]["file_id"] == "D1"


async def test_files_sent_during_the_form_join_the_request(tg: App) -> None:
    await send(tg, ANNA, text="CRM не открывается", attachments=(photo("a.png"),))
    await send(tg, ANNA, action="cat_ok")  # business_apps asks "which system?"
    start = mark(tg)
    await send(tg, ANNA, attachments=(photo("b.png"),))  # a screenshot, no caption
    assert [r.text for r in since(tg, start, ANNA)] == [t("draft_file_added", "ru")]
    await send(tg, ANNA, text="CRM")
    await send(tg, ANNA, action="form_skip")
    [ticket] = await rows(tg, Ticket)
    [msg] = await rows(tg, TicketMessage)
    assert ticket.fields == {"system": "CRM"} and [a["name"] for a in msg.attachments] == ["a.png", "b.png"]


async def test_followups_and_agent_replies_carry_files_both_ways(tg: App) -> None:
    number = await file_ticket(tg)
    await send(tg, BORIS, chat=IT_QUEUE, action="claim", ticket_id=number)
    start = mark(tg)
    await send(tg, ANNA, text="вот ошибка", attachments=(photo(),), ticket_id=number)
    [relayed] = since(tg, start, IT_QUEUE)
    assert relayed.attachments == (photo(),) and relayed.ticket_id == number and "вот ошибка" in relayed.text
    assert since(tg, start, BORIS) == []  # boris's platform has the team chat: not a second copy in his DM

    doc = Attachment(name="fix.txt", mime_type="text/plain", size=300, file_id="D9", kind="document",
                     platform="telegram")
    start = mark(tg)
    await send(tg, BORIS, chat=IT_QUEUE, attachments=(doc,), ticket_id=number)  # no caption
    [to_anna] = [r for r in since(tg, start, ANNA) if r.ticket_id == number and r.attachments]
    assert to_anna.attachments == (doc,) and "📎 fix.txt (300 B)" in to_anna.text
    msgs = await rows(tg, TicketMessage, TicketMessage.ticket_id == number)
    assert [(m.kind, len(m.attachments)) for m in msgs] == [("requester", 0), ("requester", 1), ("agent", 1)]


async def test_a_file_over_the_bot_limit_is_not_passed_on_and_both_sides_are_told(tg: App) -> None:
    number = await file_ticket(tg)
    big = Attachment(name="dump.zip", mime_type="application/zip", size=25 * MB, file_id="BIG", kind="document",
                     platform="telegram")
    start = mark(tg)
    await send(tg, ANNA, attachments=(big,), ticket_id=number)
    [relayed] = since(tg, start, IT_QUEUE)
    assert relayed.attachments == ()
    assert t("file_too_big_relay", "en", name="dump.zip", size="25 MB", limit="20 MB") in relayed.text
    told = [r.text for r in since(tg, start, ANNA)]
    assert t("file_too_big_sender", "ru", name="dump.zip", size="25 MB", limit="20 MB") in told
    [_, kept] = await rows(tg, TicketMessage, TicketMessage.ticket_id == number)
    assert kept.attachments[0]["size"] == 25 * MB  # the reference is still on the ticket


async def test_ticket_history_lists_files(tg: App) -> None:
    number = await file_ticket(tg, attachments=(photo(),))
    start = mark(tg)
    await send(tg, BORIS, text=f"/ticket {number}")
    [history] = since(tg, start, BORIS)
    assert "📎 screen.png (1.2 MB)" in history.text
    assert human_size(25 * MB) == "25 MB" and human_size(2048) == "2 KB"


# --- 2. forwarded -----------------------------------------------------------------------


async def test_a_forwarded_message_is_text_with_who_wrote_it_never_a_command(tg: App) -> None:
    await send(tg, ANNA, text="/start принтер сломан", forwarded_from="Ivan Petrov")
    await send(tg, ANNA, action="cat_ok")
    [msg] = await rows(tg, TicketMessage)
    assert msg.text == "/start принтер сломан\n" + t("forwarded_from", "ru", name="Ivan Petrov")


# --- 3. edits ---------------------------------------------------------------------------


async def test_an_edit_of_a_ticket_message_is_recorded_and_shown_to_the_other_side(tg: App) -> None:
    number = await file_ticket(tg, message_id="21")
    start = mark(tg)
    out = await send(tg, ANNA, text="принтер на 3 этаже не печатает", edit_of="21")
    msgs = await rows(tg, TicketMessage, TicketMessage.ticket_id == number)
    assert [(m.kind, m.text) for m in msgs] == [
        ("requester", "принтер не печатает"), ("edit", "принтер на 3 этаже не печатает")]
    assert msgs[1].edit_of == msgs[0].id
    [shown] = since(tg, start, IT_QUEUE)
    assert shown.ticket_id == number
    assert shown.text == t("relay_edited", "en", n=number, name="Anna Ivanova", text="принтер на 3 этаже не печатает")
    assert all(o.destination.chat_id != ANNA for o in out.outgoing)  # the editor is not answered
    assert any(e.action == "edit" for e in await rows(tg, TicketEvent, TicketEvent.ticket_id == number))

    # boris's reply, edited, reaches anna as an edit
    await send(tg, BORIS, chat=IT_QUEUE, text="перезагрузите", ticket_id=number, message_id="31")
    start = mark(tg)
    await send(tg, BORIS, chat=IT_QUEUE, text="перезагрузите принтер", edit_of="31")
    [to_anna] = since(tg, start, ANNA)
    assert to_anna.text == t("relay_edited", "ru", n=number, name="Boris Petrov", text="перезагрузите принтер")


async def test_an_edit_outside_any_ticket_changes_nothing_and_is_not_answered(tg: App) -> None:
    await file_ticket(tg, message_id="21")
    before = len(await rows(tg, TicketMessage)), len(await rows(tg, OutboxMessage))
    out = await send(tg, ANNA, text="что-то другое", edit_of="999")
    assert out.outgoing == []
    assert (len(await rows(tg, TicketMessage)), len(await rows(tg, OutboxMessage))) == before
    # the same message id in another chat is another message
    out = await send(tg, BORIS, chat=IT_QUEUE, text="x", edit_of="21")
    assert out.outgoing == [] and len(await rows(tg, TicketMessage)) == before[0]


async def test_an_edit_while_the_request_is_a_draft_changes_the_draft(tg: App) -> None:
    await send(tg, ANNA, text="принтер не печатает", message_id="41")
    await send(tg, ANNA, text="и сканер тоже", message_id="42")
    out = await send(tg, ANNA, text="и сканер тоже не работает", edit_of="42")
    assert out.outgoing == []
    await send(tg, ANNA, action="cat_ok")
    [msg] = await rows(tg, TicketMessage)
    assert msg.text == "принтер не печатает\nи сканер тоже не работает" and msg.message_id == "41"


# --- 4. signals -------------------------------------------------------------------------


async def test_unsupported_content_gets_a_short_answer(tg: App) -> None:
    out = await send(tg, ANNA, signal="unsupported")
    assert [o.reply.text for o in out.outgoing] == [t("unsupported_content", "ru")]
    out = await send(tg, BORIS, chat=IT_QUEUE, signal="unsupported")  # team chat chatter: ignored
    assert out.outgoing == []


async def test_blocking_and_unblocking_mark_the_identity_without_a_reply(tg: App) -> None:
    async def anna() -> Identity:
        [ident] = await rows(tg, Identity, Identity.platform == "telegram", Identity.platform_user_id == ANNA)
        return ident

    await send(tg, ANNA, text="привет")
    seen = (await anna()).last_seen_at
    out = await send(tg, ANNA, signal="blocked", key="tg:block")
    assert out.outgoing == [] and (await anna()).unreachable_at is not None
    assert (await anna()).last_seen_at == seen  # blocking is not "writing from telegram"
    again = await send(tg, ANNA, signal="blocked", key="tg:block")
    assert again.duplicate
    out = await send(tg, ANNA, signal="unblocked")
    assert out.outgoing == [] and (await anna()).unreachable_at is None
    keys = {e.event_key for e in await rows(tg, InboxEvent)}
    assert "tg:block" in keys


# --- 5. alerts ----------------------------------------------------------------------------


async def test_refused_alert_presses_answer_in_place_and_write_nothing(tg: App) -> None:
    number = await file_ticket(tg)
    before = len(await rows(tg, OutboxMessage))
    out = await send(tg, BORIS, chat=IT_QUEUE, action="claim", ticket_id=999, alert=True)
    assert out.alert == t("no_ticket", "ru", n=999) and out.outgoing == []
    out = await send(tg, ANNA, action="reopen", ticket_id=number, alert=True)  # not resolved
    assert out.alert and f"#{number}" in out.alert and out.outgoing == []
    out = await send(tg, ANNA, action="stale", alert=True)
    assert out.alert == t("button_outdated", "ru") and out.outgoing == []
    out = await send(tg, ANNA, action="kb_solved", alert=True)  # no request in progress
    assert out.alert == t("stale_button", "ru")
    assert len(await rows(tg, OutboxMessage)) == before
    denied = [e for e in await rows(tg, TicketEvent) if e.action == "denied"]
    assert len(denied) == 1 and "claim" in (denied[0].detail or "")
    [ticket] = await rows(tg, Ticket)
    assert ticket.assignee_id is None and ticket.status == "new"

    # without alert the same refusal is a message in the chat
    out = await send(tg, ANNA, action="stale")
    assert out.alert is None and [o.reply.text for o in out.outgoing] == [t("button_outdated", "ru")]


async def test_an_allowed_alert_press_acts_as_usual(tg: App) -> None:
    number = await file_ticket(tg)
    out = await send(tg, BORIS, chat=IT_QUEUE, action="claim", ticket_id=number, alert=True)
    assert out.alert is None and any(o.reply.text == t("claimed_ok", "ru", n=number) for o in out.outgoing)


# --- 6. /start deep links -------------------------------------------------------------------


async def test_start_with_a_category_skips_the_category_question(tg: App) -> None:
    out = await send(tg, ANNA, text="/start cat_network")
    assert out.outgoing[0].reply.text == t("start_category", "ru", category="VPN и сеть")
    await send(tg, ANNA, text="не могу подключиться к офису")
    [ticket] = await rows(tg, Ticket)
    assert ticket.category == "network"


async def test_start_with_a_category_still_runs_its_form(tg: App) -> None:
    await send(tg, ANNA, text="/start cat_business_apps")
    out = await send(tg, ANNA, text="не открывается")
    assert "CRM" in out.outgoing[-1].reply.text and await rows(tg, Ticket) == []
    await send(tg, ANNA, text="1С")
    await send(tg, ANNA, action="form_skip")
    [ticket] = await rows(tg, Ticket)
    assert ticket.category == "business_apps" and ticket.fields == {"system": "1С"}


async def test_start_with_an_unknown_payload_is_the_usual_help(tg: App) -> None:
    out = await send(tg, ANNA, text="/start promo_2024")
    assert [o.reply.text for o in out.outgoing] == [t("help_requester", "ru")]


# --- 7. commands in a ticket's thread ----------------------------------------------------------


async def test_commands_in_a_ticket_thread_act_on_that_ticket(tg: App) -> None:
    number = await file_ticket(tg)
    card = await card_message_id(tg, number)

    async def in_thread(text: str) -> Outcome:
        return await send(tg, BORIS, chat=IT_QUEUE, text=text, reply_to=card, message_id=f"r{next(_keys)}")

    await in_thread("/take")
    await in_thread("/note 5 users affected")
    out = await in_thread("/ticket")
    assert f"#{number}" in out.outgoing[0].reply.text and "5 users affected" in out.outgoing[0].reply.text
    await in_thread("/release")
    await in_thread("/take")
    [ticket] = await rows(tg, Ticket)
    assert ticket.assignee_id is not None and ticket.status == "claimed"
    await in_thread("/resolve поменяли картридж")
    [ticket] = await rows(tg, Ticket)
    assert ticket.status == "resolved" and ticket.resolution_note == "поменяли картридж"
    msgs = await rows(tg, TicketMessage, TicketMessage.ticket_id == number)
    assert [(m.kind, m.text) for m in msgs if m.kind == MessageKind.NOTE] == [("note", "5 users affected")]
    actions = [e.action for e in await rows(tg, TicketEvent, TicketEvent.ticket_id == number)]
    assert actions.count("claim") + actions.count("assign") == 2 and "release" in actions


async def test_escalate_in_a_thread_takes_the_reason(tg: App) -> None:
    number = await file_ticket(tg)
    card = await card_message_id(tg, number)
    await send(tg, BORIS, chat=IT_QUEUE, text="/escalate нужен доступ к серверу", reply_to=card)
    [ticket] = await rows(tg, Ticket)
    assert ticket.tier == "L2"
    [event] = [e for e in await rows(tg, TicketEvent, TicketEvent.ticket_id == number) if e.action == "escalate"]
    assert event.detail == "нужен доступ к серверу"


# --- 8. where answers and requester messages appear in team chats ---------------------------------


async def test_answers_in_a_group_reply_to_the_message_and_carry_the_ticket(tg: App) -> None:
    number = await file_ticket(tg)
    card = await card_message_id(tg, number)
    await send(tg, BORIS, chat=IT_QUEUE, text="/take", reply_to=card, message_id="700")
    [row] = [r for r in await rows(tg, OutboxMessage, OutboxMessage.chat_id == IT_QUEUE)
             if r.payload["text"] == t("claimed_ok", "ru", n=number)]
    assert row.payload["reply_to"] == "700" and row.ticket_id == number
    dest, _ = [(d, r) for d, r in delivered(tg, IT_QUEUE) if r.text == t("claimed_ok", "ru", n=number)][0]
    assert dest.reply_to == "700"  # the worker passes payload["reply_to"] on

    # in a topic the thread is the place; private chats get no reply_to
    out = await send(tg, BORIS, chat=IT_QUEUE, text=f"/ticket {number}", thread_id="55", message_id="701")
    assert out.outgoing[0].destination.thread_id == "55" and out.outgoing[0].destination.reply_to is None
    out = await send(tg, ANNA, text="/my", message_id="702")
    assert out.outgoing[0].destination.reply_to is None


async def test_requester_messages_reach_the_team_chat_and_a_dm_only_where_there_is_no_team_chat(
    config: Config, db_url: str, clock: FakeClock
) -> None:
    """boris's platform (console) has no IT team chat: he also gets the message directly."""
    app = build(config, senders={"telegram": FileSender(platform="telegram"),
                                 "console": FileSender(platform="console")},
                database_url=db_url, clock=clock, kb=FakeKb())
    await app.start()
    try:
        await app.add_identities("console")
        number = await file_ticket(app)
        await app.engine.handle(Incoming(platform="console", chat_id="boris", user_id="boris", event_key="c:1",
                                         action="claim", ticket_id=number))
        while await app.worker.deliver_pending():
            pass
        console = app.senders["console"]
        assert isinstance(console, FileSender)
        before = len(console.delivered)
        start = mark(app)
        await send(app, ANNA, text="есть новости?", ticket_id=number)
        assert [r.ticket_id for r in since(app, start, IT_QUEUE)] == [number]
        direct = [r for d, r in console.delivered[before:] if d.chat_id == "boris"]
        assert len(direct) == 1 and "есть новости?" in direct[0].text
    finally:
        await app.close()


async def test_blocking_shows_on_the_cards_of_open_tickets_and_unblocking_clears_it(tg: App) -> None:
    number = await file_ticket(tg)
    note = t("card_unreachable", "en", name="Anna Ivanova", platform=t("platform_telegram", "en"))
    start = mark(tg)
    out = await send(tg, ANNA, signal="blocked")
    assert all(o.destination.chat_id != ANNA for o in out.outgoing)
    [card] = [r for r in since(tg, start, IT_QUEUE) if r.card == "queue" and r.ticket_id == number]
    assert note in card.text
    start = mark(tg)
    await send(tg, ANNA, signal="unblocked")
    [card] = [r for r in since(tg, start, IT_QUEUE) if r.card == "queue" and r.ticket_id == number]
    assert note not in card.text


async def test_hostile_values_in_the_new_fields_are_cleaned(tg: App) -> None:
    bad = Attachment(name="a\x00b\ud800.png", mime_type="image/png", size=10, file_id="F\x00X", kind="photo")
    await send(tg, ANNA, text="принтер не печатает", attachments=(bad,), message_id="m\x00" + "9" * 100)
    await send(tg, ANNA, action="cat_ok")
    [msg] = await rows(tg, TicketMessage)
    assert msg.attachments[0]["name"] == "ab\ufffd.png" and msg.attachments[0]["file_id"] == "FX"
    assert msg.attachments[0]["platform"] == "telegram"  # filled in from the event
    assert msg.message_id is not None and len(msg.message_id) <= 64
    # an edit naming the same (long) id finds the message
    await send(tg, ANNA, text="принтер не печатает совсем", edit_of="m\x00" + "9" * 100)
    assert [m.kind for m in await rows(tg, TicketMessage)] == ["requester", "edit"]


async def test_files_stay_with_the_request_through_kb_suggestions_and_the_duplicate_question(tg: App) -> None:
    await send(tg, ANNA, text="VPN не подключается", attachments=(photo("vpn.png"),), message_id="61")
    assert sender(tg).delivered[-1][1].buttons[-1][0].action == "open_ticket"  # suggestions first
    await send(tg, ANNA, action="open_ticket")
    await send(tg, ANNA, action="cat_ok")
    [first] = await rows(tg, Ticket)
    # the same problem again, with another file: "add to #1?" → yes
    await send(tg, ANNA, text="VPN не подключается", attachments=(photo("again.png"),), message_id="62")
    await send(tg, ANNA, action="open_ticket")
    await send(tg, ANNA, action="cat_ok")
    start = mark(tg)
    await send(tg, ANNA, action="dup_add")
    assert len(await rows(tg, Ticket)) == 1
    msgs = await rows(tg, TicketMessage, TicketMessage.ticket_id == first.id)
    assert [(m.message_id, [a["name"] for a in m.attachments]) for m in msgs] == [
        ("61", ["vpn.png"]), ("62", ["again.png"])]
    [relayed] = since(tg, start, IT_QUEUE)
    assert [a.name for a in relayed.attachments] == ["again.png"]
