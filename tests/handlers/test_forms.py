"""Request forms (``categories.X.ask``) and the fallback category, through the real engine.

The sample config's ``business_apps`` category (team it) asks "Which system?" (required)
and "Since when?" (optional). Runs on SQLite and PostgreSQL (``db_url``), with the
predictable fake KB of ``tests.support.scenarios`` (it suggests nothing for these texts).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.config import Config
from handlers import requester as rq
from handlers.texts import t
from store import conversations
from store.models import Ticket, TicketMessage
from tests.support.clock import FakeClock
from tests.support.desk import Desk
from tests.support.scenarios import count_rows, open_desk, ticket_messages, ticket_row

SYSTEM_RU = "Какая система? (CRM, 1С, ...)"
SINCE_RU = "С какого времени это происходит?"
SYSTEM_EN = "Which system? (CRM, 1C, ...)"


@pytest.fixture
async def desk(config: Config, db_url: str, clock: FakeClock) -> AsyncIterator[Desk]:
    async with open_desk(config, db_url, clock) as d:
        yield d


async def conv_of(desk: Desk, who: str) -> tuple[str, dict[str, Any]]:
    async with desk.app.db.transaction() as s:
        conv = await conversations.load(s, "console", who, who)
        return conv.state, dict(conv.data)


async def test_required_question_is_reasked_and_optional_one_can_be_skipped(desk: Desk) -> None:
    await desk.say("anna", "падает CRM")
    desk.new("anna")
    await desk.press("anna", "Да")

    [ask] = desk.new("anna")
    assert ask.text == t("form_question", "ru", question=SYSTEM_RU, step=1, total=2)
    assert ask.buttons == []  # required: no Skip
    assert (await conv_of(desk, "anna"))[0] == rq.FORM

    # A forged Skip on the required question changes nothing.
    await desk.click("anna", "form_skip")
    assert [m.text for m in desk.new("anna")] == [t("stale_button", "ru")]
    assert (await conv_of(desk, "anna"))[1]["form_i"] == 0

    # Empty input re-asks the required question; the form stays on it and nothing is filed.
    await desk.say("anna", "   ")
    [refused] = desk.new("anna")
    assert refused.text == t("form_required", "ru", question=SYSTEM_RU)
    assert refused.buttons == []
    state, data = await conv_of(desk, "anna")
    assert (state, data["form_i"], data["fields"]) == (rq.FORM, 0, {})
    assert await count_rows(desk, Ticket) == 0

    await desk.say("anna", "CRM, карточка клиента")
    [second] = desk.new("anna")
    assert second.text == t("form_question", "ru", question=SINCE_RU, step=2, total=2)
    assert second.labels() == [t("btn_form_skip", "ru")]

    await desk.press("anna", "Пропустить")

    row = await ticket_row(desk, 1)
    assert (row["category"], row["team"]) == ("business_apps", "it")
    assert row["fields"] == {"system": "CRM, карточка клиента"}  # the skipped one is not stored
    assert [m.text for m in await ticket_messages(desk, 1)] == ["падает CRM"]
    assert await conv_of(desk, "anna") == (rq.IDLE, {})

    # The queue card (boris, L1 of it, reads Russian) shows the answer under its question.
    card = [m for m in desk.received("boris") if m.ticket_id == 1][-1]
    assert t("card_fields", "ru") in card.text
    assert f"{SYSTEM_RU}: CRM, карточка клиента" in card.text
    assert SINCE_RU not in card.text


async def test_all_answers_are_stored_and_shown_in_ticket_view(desk: Desk) -> None:
    await desk.say("dina", "CRM keeps crashing")
    await desk.press("dina", "Yes")
    await desk.say("dina", "Salesforce")
    await desk.say("dina", "since Monday")

    row = await ticket_row(desk, 1)
    assert row["fields"] == {"system": "Salesforce", "since": "since Monday"}

    desk.new("dina")
    await desk.say("dina", "/ticket 1")
    view = desk.last("dina").text
    assert f"{SYSTEM_EN}: Salesforce" in view
    assert "Since when does it happen?: since Monday" in view

    desk.new("boris")
    await desk.say("boris", "/ticket 1")
    assert f"{SYSTEM_RU}: Salesforce" in desk.last("boris").text  # in the reader's language


async def test_cancel_mid_form_files_nothing(desk: Desk) -> None:
    await desk.say("anna", "падает CRM")
    await desk.press("anna", "Да")
    await desk.say("anna", "1С")
    assert (await conv_of(desk, "anna"))[1]["fields"] == {"system": "1С"}
    skip = desk.last_with_buttons("anna")

    await desk.say("anna", "/cancel")

    # Nothing is filed; the request's text is kept as a draft for /new (never dropped).
    assert desk.last("anna").text == t("cancelled_draft_kept", "ru")
    assert await conv_of(desk, "anna") == (rq.IDLE, {"draft": "падает CRM"})
    assert await count_rows(desk, Ticket) == 0
    assert await count_rows(desk, TicketMessage) == 0

    await desk.click("anna", skip.buttons[0].action)
    assert desk.last("anna").text == t("stale_button", "ru")
    assert await count_rows(desk, Ticket) == 0


async def test_a_long_answer_is_cut_to_the_field_limit(desk: Desk) -> None:
    await desk.say("anna", "падает CRM")
    await desk.press("anna", "Да")
    await desk.say("anna", "x" * (rq.FORM_ANSWER_MAX + 50))
    await desk.press("anna", "Пропустить")

    assert (await ticket_row(desk, 1))["fields"] == {"system": "x" * rq.FORM_ANSWER_MAX}


async def test_category_without_a_form_files_at_once(desk: Desk) -> None:
    await desk.say("anna", "сломался ноутбук")
    await desk.press("anna", "Да")

    row = await ticket_row(desk, 1)
    assert (row["category"], row["fields"]) == ("hardware", {})


async def test_fallback_category_is_always_offered_last_and_files(desk: Desk) -> None:
    await desk.say("anna", "у меня вопрос про непонятное")

    choose = desk.last("anna")
    assert choose.text == t("ask_category", "ru")
    assert choose.labels()[-1] == "Другое"

    await desk.press("anna", "Другое")

    row = await ticket_row(desk, 1)
    assert (row["category"], row["team"]) == ("other", "it")
