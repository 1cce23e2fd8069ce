"""The engine's ``file_message`` action: someone's message filed as a ticket for its author
(what Slack's message shortcut and the ticket reaction become), on any platform.

It is filed at once (category guessed, else the fallback; priority inferred; nothing asked),
the author is told the number in their chat, and — when the gesture's origin is announced —
whoever made the gesture is told it in the message's thread, through the outbox."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import select

from handlers.events import Incoming, Origin
from handlers.routing import guess_category, infer_priority
from handlers.texts import t
from store import conversations
from store.models import OutboxMessage, Person, Ticket
from tests.support.desk import Desk

VPN = "VPN drops every hour, please fix, urgent"


async def tickets(desk: Desk) -> list[Ticket]:
    async with desk.app.db.transaction() as s:
        return list(await s.exec(select(Ticket).order_by(Ticket.id)))  # type: ignore[arg-type]


def gesture(desk: Desk, text: str, origin: Origin | None = None, key: str | None = None) -> Incoming:
    return Incoming(platform="console", chat_id="anna", user_id="anna", event_key=key or desk.key(),
                    action="file_message", value=text, origin=origin)


async def test_file_message_files_at_once_for_the_author(sqlite_desk: Desk) -> None:
    desk = sqlite_desk
    config = desk.app.config
    # VPN would bring knowledge-base suggestions first for a typed request; a filed message skips them.
    await desk.send(gesture(desk, VPN))
    [found] = await tickets(desk)
    async with desk.app.db.transaction() as s:
        anna = (await s.exec(select(Person).where(Person.key == "anna"))).one()
    assert found.requester_id == anna.id and "VPN drops every hour" in (found.kb_query or "")
    assert found.category == (guess_category(VPN, config) or config.desk.fallback_category)
    assert found.priority == infer_priority(VPN, config) != config.default_priority  # "urgent" counted
    told = desk.last("anna")
    assert f"#{found.id}" in told.text and told.ticket_id == found.id and told.buttons == []


async def test_a_message_no_category_fits_goes_to_the_fallback_category(sqlite_desk: Desk) -> None:
    desk = sqlite_desk
    text = "zxqv wlorp"
    assert guess_category(text, desk.app.config) is None
    await desk.send(gesture(desk, text))
    [found] = await tickets(desk)
    assert found.category == desk.app.config.desk.fallback_category


async def test_file_message_leaves_the_step_the_author_was_at(sqlite_desk: Desk) -> None:
    desk = sqlite_desk
    await desk.say("anna", "VPN is down")  # now at the suggestions step of her own request
    assert any(b.action == "kb_open" for b in desk.last("anna").buttons)
    async with desk.app.db.transaction() as s:
        before = await conversations.load(s, "console", "anna", "anna")
        state, data = before.state, dict(before.data)
    await desk.send(gesture(desk, "printer on floor 3 is jammed"))
    assert len(await tickets(desk)) == 1
    async with desk.app.db.transaction() as s:
        after = await conversations.load(s, "console", "anna", "anna")
    assert (after.state, after.data) == (state, data)


async def test_file_message_without_text_files_nothing(sqlite_desk: Desk) -> None:
    desk = sqlite_desk
    await desk.send(gesture(desk, "   "))
    assert desk.last("anna").buttons == []
    async with desk.app.db.transaction() as s:
        assert (await s.exec(select(func.count()).select_from(Ticket))).one() == 0


async def test_an_announced_origin_is_told_the_number_in_its_thread_once(sqlite_desk: Desk) -> None:
    desk = sqlite_desk
    origin = Origin(chat_id="general", message_id="1700000000.000100", locale="ru")
    key = desk.key()
    first = await desk.send(gesture(desk, VPN, origin, key))
    again = await desk.send(gesture(desk, VPN, origin, key))  # the same event redelivered
    assert again.duplicate and len(await tickets(desk)) == 1
    [notice] = [o for o in first.outgoing if o.destination.chat_id == "general"]
    assert notice.destination.thread_id == "1700000000.000100"
    async with desk.app.db.transaction() as s:
        anna = (await s.exec(select(Person).where(Person.key == "anna"))).one()
    assert notice.reply.text == t("gesture_filed", "ru", n=1, name=anna.name)  # the reactor's language
    async with desk.app.db.transaction() as s:
        rows = list(await s.exec(select(OutboxMessage).where(OutboxMessage.chat_id == "general")))
    assert len(rows) == 1 and rows[0].payload["thread_id"] == "1700000000.000100" and "#1" in rows[0].payload["text"]


async def test_an_unannounced_origin_is_told_in_place(sqlite_desk: Desk) -> None:
    desk = sqlite_desk
    origin = Origin(chat_id="general", message_id="1700000000.000100", locale="en", announce=False)
    outcome = await desk.send(gesture(desk, VPN, origin))
    assert len(await tickets(desk)) == 1
    assert not [o for o in outcome.outgoing if o.destination.chat_id == "general"]
    assert outcome.alert is not None and outcome.alert.startswith("Ticket #1 created")  # for the frontend to show


async def test_a_message_filed_before_is_not_filed_again(sqlite_desk: Desk) -> None:
    desk = sqlite_desk
    thread = "1700000000.000050"
    first = Origin(chat_id="general", message_id="1700000000.000100", thread_id=thread, locale="ru")
    await desk.send(gesture(desk, VPN, first))
    # Someone else reacts on the same message; then someone uses the shortcut on it.
    second = await desk.send(gesture(desk, VPN, Origin("general", "1700000000.000100", thread, "en")))
    third = await desk.send(gesture(desk, VPN, Origin("general", "1700000000.000100", thread, "en", announce=False)))
    assert len(await tickets(desk)) == 1
    [told] = [o for o in second.outgoing]  # only the second reactor hears of it, in the thread
    assert told.destination.thread_id == thread and told.reply.text == t("gesture_filed_before", "en", n=1)
    assert third.outgoing == [] and third.alert == t("gesture_filed_before", "en", n=1)
