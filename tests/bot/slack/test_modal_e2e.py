"""The /helpdesk modal and the ticket reaction end to end: real slack-bolt over loopback
HTTP, the fake Slack Web API, the real engine, outbox worker and Slack sender (the story
desk of test_story_e2e). anna (ru) files through the modal; boris (ru, IT agent) reacts
:ticket: on anna's message in #general.

The sample config's ``business_apps`` category asks "Which system?" (required) and
"Since when?" (optional); ``access`` asks nothing.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from bot.slack import modal
from handlers.texts import translator
from store.models import OutboxMessage, Person, Ticket
from tests.support.story import WAIT, Desk, desk
from tests.support.slack import SlackView

ru = translator("ru")
DESC = "В CRM пустая карточка клиента"
SYSTEM_RU = "Какая система? (CRM, 1С, ...)"
SINCE_RU = "С какого времени это происходит?"
SYSTEM, SINCE = modal.field_block("system"), modal.field_block("since")
GENERAL = "C0GENERAL"


def asking_priority(data: dict[str, Any]) -> None:
    data["desk"]["ask_priority"] = True


async def tickets(d: Desk) -> list[Ticket]:
    async with d.app.db.transaction() as s:
        return list(await s.exec(select(Ticket).order_by(Ticket.id)))  # type: ignore[arg-type]


async def grows(d: Desk, form: SlackView, block: str) -> None:
    await d.slack.wait_for(lambda: block in form.inputs or None, WAIT)


async def test_the_modal_shows_the_categorys_questions_checks_them_and_files_with_the_answers(db_url: str) -> None:
    async with desk(db_url) as d:
        anna, it = d.anna, d.it
        await anna.slash("/helpdesk")
        form = await anna.gets_modal()
        assert set(form.inputs) == {modal.DESC_BLOCK, modal.CATEGORY_BLOCK}  # no category yet: no questions

        # Choosing the category grows the modal by its questions; what anna typed stays.
        chose = await anna.selects(form, modal.CATEGORY_BLOCK, "business_apps",
                                   typed={modal.DESC_BLOCK: {modal.DESC_BLOCK: DESC}})
        assert chose.status == 200
        await grows(d, form, SYSTEM)
        assert list(form.inputs) == [modal.DESC_BLOCK, modal.CATEGORY_BLOCK, SYSTEM, SINCE]
        assert form.inputs[SYSTEM]["label"]["text"] == SYSTEM_RU and form.inputs[SINCE]["optional"] is True
        assert form.inputs[modal.DESC_BLOCK]["element"]["initial_value"] == DESC
        assert form.inputs[modal.CATEGORY_BLOCK]["element"]["initial_option"]["value"] == "business_apps"

        # The required answer left blank: an error on that field, in anna's language; nothing filed.
        bad = await anna.submits(form, {SYSTEM: {SYSTEM: "   "}})
        assert bad.status == 200 and bad.errors == {SYSTEM: ru("form_field_required")}
        assert anna.modal is not None and not await tickets(d)

        sent = await anna.submits(form, {SYSTEM: {SYSTEM: "CRM"}, SINCE: {SINCE: "с понедельника"}})
        assert sent.errors == {} and anna.modal is None
        created = await anna.receives("#1")
        [ticket] = await tickets(d)
        assert ticket.category == "business_apps" and ticket.fields == {"system": "CRM", "since": "с понедельника"}
        card = await it.sees("#1")
        assert "CRM" in card.text and "с понедельника" in card.text  # the answers are on the card
        # Nothing is asked again in the DM: no question, no category, no priority.
        assert not any(SYSTEM_RU in m.text or SINCE_RU in m.text or m.buttons for m in anna.messages()), created


async def test_the_priority_is_chosen_in_the_modal_when_the_desk_asks_for_it(db_url: str) -> None:
    async with desk(db_url, config_changes=(asking_priority,)) as d:
        anna = d.anna
        await anna.slash("/helpdesk")
        form = await anna.gets_modal()
        assert form.inputs[modal.PRIORITY_BLOCK]["optional"] is False
        none = await anna.submits(form, {modal.DESC_BLOCK: {modal.DESC_BLOCK: "Нет доступа к почте"},
                                         modal.CATEGORY_BLOCK: {modal.CATEGORY_ACTION: "access"}})
        assert none.errors == {modal.PRIORITY_BLOCK: ru("slack_modal_priority_empty")} and not await tickets(d)
        sent = await anna.submits(form, {modal.PRIORITY_BLOCK: {modal.PRIORITY_ACTION: "urgent"}})
        assert sent.errors == {}
        await anna.receives("#1")
        [ticket] = await tickets(d)
        assert (ticket.priority, ticket.category) == ("urgent", "access")
        assert not any(m.buttons for m in anna.messages())  # the priority is not asked in the DM


async def test_a_category_gone_since_the_modal_opened_is_refused_on_its_field(db_url: str) -> None:
    async with desk(db_url) as d:
        anna = d.anna
        await anna.slash("/helpdesk")
        form = await anna.gets_modal()
        # The modal was built when the desk still had a "printers" category (since removed).
        select_ = form.raw["blocks"][1]["element"]
        select_["options"].append({"text": {"type": "plain_text", "text": "Принтеры"}, "value": "printers"})
        gone = await anna.submits(form, {modal.DESC_BLOCK: {modal.DESC_BLOCK: "Принтер мнёт бумагу"},
                                         modal.CATEGORY_BLOCK: {modal.CATEGORY_ACTION: "printers"}})
        assert gone.errors == {modal.CATEGORY_BLOCK: ru("slack_modal_category_gone")}
        assert anna.modal is not None and not await tickets(d)


async def test_the_ticket_reaction_files_the_message_and_answers_the_number_in_its_thread_once(db_url: str) -> None:
    async with desk(db_url) as d:
        anna, boris, fake = d.anna, d.boris, d.slack
        general = fake.channel(GENERAL, "general", members=[anna.id, boris.id])
        said = await anna.says("Не могу войти в почту, учётка заблокирована", channel=general)
        reacted = await boris.reacts(said, "ticket")
        assert reacted.status == 200
        retries = await fake.redeliver(reacted.post, 2)  # Slack retries: the same event_id
        assert [p.status for p in retries] == [200, 200]

        [ticket] = await tickets(d)
        assert ticket.id == 1
        reply = await general.receives("#1", thread_ts=said.ts)
        async with d.app.db.transaction() as s:
            author = await s.get(Person, ticket.requester_id)
        assert author is not None and author.key == "anna"  # the message's author is the requester
        assert reply.thread_ts == said.ts and reply.text == ru("gesture_filed", n=1, name=author.name)
        await anna.receives("#1")  # the author is told in the DM, where the ticket's thread is
        async with d.app.db.transaction() as s:
            notices = list(await s.exec(select(OutboxMessage).where(OutboxMessage.chat_id == GENERAL)))
        assert len(notices) == 1  # written once, in the filing transaction: the retries added nothing
        assert len(general.messages(thread_ts=said.ts)) == 1

        # anna reacts too: the message is a ticket already; she is told which, in the thread.
        await anna.reacts(said, "ticket")
        again = await general.receives(ru("gesture_filed_before", n=1), thread_ts=said.ts)
        assert again.thread_ts == said.ts and len(await tickets(d)) == 1
