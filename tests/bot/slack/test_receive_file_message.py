"""The engine's ``file_message`` action: someone's message filed as a request for its author
(what Slack's message shortcut and the ticket reaction become), on any platform."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import select

from store.models import Person, Ticket
from tests.support.desk import Desk


async def tickets(desk: Desk) -> list[Ticket]:
    async with desk.app.db.transaction() as s:
        return list(await s.exec(select(Ticket).order_by(Ticket.id)))  # type: ignore[arg-type]


async def test_file_message_goes_straight_to_the_category_and_files_for_the_author(sqlite_desk: Desk) -> None:
    desk = sqlite_desk
    # VPN would bring knowledge-base suggestions first for a typed request; a filed message skips them.
    await desk.click("anna", "file_message", value="VPN drops every hour, please fix")
    ask = desk.last("anna")
    assert [b.action for b in ask.buttons][:1] == ["cat_ok"], ask.labels()
    await desk.press("anna", 1)
    for _ in range(3):  # priority or a form question may follow, depending on the category
        last = desk.last("anna")
        if any(b.action == "prio" for b in last.buttons):
            await desk.press("anna", 1)
        elif any(b.action == "form_skip" for b in last.buttons):
            await desk.press("anna", last.labels()[-1])
    found = await tickets(desk)
    async with desk.app.db.transaction() as s:
        anna = (await s.exec(select(Person).where(Person.key == "anna"))).one()
    assert len(found) == 1 and found[0].requester_id == anna.id
    assert "VPN drops every hour" in (found[0].kb_query or "")


async def test_file_message_replaces_the_step_the_author_was_at(sqlite_desk: Desk) -> None:
    desk = sqlite_desk
    await desk.say("anna", "VPN is down")  # now at the suggestions step
    assert any(b.action == "kb_open" for b in desk.last("anna").buttons)
    await desk.click("anna", "file_message", value="printer on floor 3 is jammed")
    assert any(b.action in ("cat_ok", "cat") for b in desk.last("anna").buttons)
    assert not await tickets(desk)


async def test_file_message_without_text_files_nothing(sqlite_desk: Desk) -> None:
    desk = sqlite_desk
    await desk.click("anna", "file_message", value="   ")
    assert desk.last("anna").buttons == []
    async with desk.app.db.transaction() as s:
        assert (await s.exec(select(func.count()).select_from(Ticket))).one() == 0


async def test_file_request_with_a_chosen_category_skips_the_category_question(sqlite_desk: Desk) -> None:
    from handlers.events import Incoming

    desk = sqlite_desk
    await desk.send(Incoming(platform="console", chat_id="anna", user_id="anna", event_key=desk.key(),
                             action="file_request", text="printer on floor 3 is jammed", value="business_apps"))
    last = desk.last("anna")
    assert not any(b.action in ("cat_ok", "cat", "cat_list") for b in last.buttons), last.text
    assert "CRM" in last.text or "систем" in last.text.lower() or "system" in last.text.lower()  # its first form question
