"""A request filled in one form (``file_request``, what Slack's /helpdesk modal becomes),
through the real engine: what the form gives is not asked again; what it lacks, or gets
wrong, is checked by the chat's rules and asked (or guessed) in the chat.

The sample config's ``business_apps`` category asks "Which system?" (required) and
"Since when?" (optional)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.config import Config
from handlers.events import Incoming
from handlers.forms import FORM_ANSWER_MAX, REQUIRED, FormRequest, check_answer, check_form, read_request
from handlers.texts import t
from store import conversations
from store.models import Ticket
from tests.support.clock import FakeClock
from tests.support.desk import Desk
from tests.support.scenarios import count_rows, make_config, open_desk, ticket_row

TEXT = "the CRM shows an empty client card"
SYSTEM_RU = "Какая система? (CRM, 1С, ...)"


def asking_priority(data: dict[str, Any]) -> None:
    data["desk"]["ask_priority"] = True


@pytest.fixture
async def desk(config: Config, sqlite_url: str, clock: FakeClock) -> AsyncIterator[Desk]:
    async with open_desk(config, sqlite_url, clock) as d:
        yield d


@pytest.fixture
async def prio_desk(sqlite_url: str, clock: FakeClock) -> AsyncIterator[Desk]:
    async with open_desk(make_config(asking_priority), sqlite_url, clock) as d:
        yield d


async def submit(desk: Desk, request: FormRequest | str | None, text: str = TEXT) -> None:
    value = request.to_value() if isinstance(request, FormRequest) else request
    await desk.send(Incoming(platform="console", chat_id="anna", user_id="anna", event_key=desk.key(),
                             action="file_request", text=text, value=value))


async def state_of(desk: Desk) -> str:
    async with desk.app.db.transaction() as s:
        return (await conversations.load(s, "console", "anna", "anna")).state


async def test_a_complete_form_is_filed_with_its_answers_and_nothing_asked(desk: Desk) -> None:
    await submit(desk, FormRequest("business_apps", None, {"system": " CRM ", "since": ""}))
    [created] = desk.new("anna")
    assert "#1" in created.text and created.buttons == []  # no question, no category, no priority
    row = await ticket_row(desk, 1)
    assert row["category"] == "business_apps" and row["fields"] == {"system": "CRM"}
    assert await state_of(desk) == "idle"


async def test_a_missing_required_answer_is_asked_in_the_chat_and_only_it(desk: Desk) -> None:
    await submit(desk, FormRequest("business_apps", None, {"system": "   ", "since": "Monday", "bogus": "x"}))
    [ask] = desk.new("anna")
    assert SYSTEM_RU in ask.text and await count_rows(desk, Ticket) == 0
    await desk.say("anna", "1C")
    [created] = desk.new("anna")
    assert "#1" in created.text  # "since" was answered in the form: not asked
    assert (await ticket_row(desk, 1))["fields"] == {"system": "1C", "since": "Monday"}  # "bogus" dropped


async def test_an_unknown_category_is_not_trusted(desk: Desk) -> None:
    await submit(desk, FormRequest("no_such_category", None, {"system": "CRM"}))
    ask = desk.last("anna")
    assert any(b.action in ("cat_ok", "cat") for b in ask.buttons), ask.labels()  # guessed or asked, as in a chat
    assert await count_rows(desk, Ticket) == 0


@pytest.mark.parametrize("value", ["{not json", "[1, 2]", '{"category": 5, "fields": "x"}'])
async def test_a_garbage_value_is_a_request_without_choices(desk: Desk, value: str) -> None:
    await submit(desk, value)
    assert any(b.action in ("cat_ok", "cat") for b in desk.last("anna").buttons)
    assert await count_rows(desk, Ticket) == 0


async def test_a_bare_category_key_still_works(desk: Desk) -> None:
    await submit(desk, "business_apps")
    assert SYSTEM_RU in desk.last("anna").text  # the category is taken; its questions follow in the chat


async def test_a_priority_is_ignored_when_the_desk_does_not_ask_for_it(desk: Desk) -> None:
    await submit(desk, FormRequest("business_apps", "urgent", {"system": "CRM"}))
    assert (await ticket_row(desk, 1))["priority"] == desk.app.config.default_priority


async def test_a_chosen_priority_is_taken_when_the_desk_asks_for_it(prio_desk: Desk) -> None:
    await submit(prio_desk, FormRequest("business_apps", "urgent", {"system": "CRM"}))
    assert "#1" in prio_desk.last("anna").text
    assert (await ticket_row(prio_desk, 1))["priority"] == "urgent"


async def test_an_unknown_priority_is_asked_in_the_chat(prio_desk: Desk) -> None:
    await submit(prio_desk, FormRequest("business_apps", "whenever", {"system": "CRM"}))
    ask = prio_desk.last("anna")
    assert ask.text == t("ask_priority", "ru") and {b.action for b in ask.buttons} == {"prio"}
    await prio_desk.press("anna", 1)
    assert (await ticket_row(prio_desk, 1))["fields"] == {"system": "CRM"}  # the form was not asked again


# --- the pure rules (handlers/forms.py) ------------------------------------------------------


def test_check_answer_is_the_one_rule_for_an_answer(config: Config) -> None:
    system, since = config.categories["business_apps"].ask  # required, optional
    assert check_answer(system, "  CRM  ") == ("CRM", None)
    assert check_answer(system, "   ") == (None, REQUIRED)
    assert check_answer(system, None) == (None, REQUIRED)  # not text: empty
    assert check_answer(since, "") == (None, None)
    assert check_answer(since, "x" * (FORM_ANSWER_MAX + 5)) == ("x" * FORM_ANSWER_MAX, None)
    assert check_form([system, since], {"system": "", "since": "Monday", "other": "x"}) == (
        {"since": "Monday"}, {"system": REQUIRED})


@pytest.mark.parametrize(("value", "expected"), [
    (None, FormRequest()),
    ("", FormRequest()),
    ("business_apps", FormRequest(category="business_apps")),
    ("[1]", FormRequest()),
    ('{"category": 1, "priority": ["x"], "fields": {"a": 2, "b": "ok"}}', FormRequest(fields={"b": "ok"})),
])
def test_read_request_keeps_only_what_is_well_formed(value: str | None, expected: FormRequest) -> None:
    assert read_request(value) == expected
