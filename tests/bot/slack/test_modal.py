"""The /helpdesk modal as pure functions: the view built for a category and a state, and a
submitted view read and checked with the chat form's rules (bot/slack/modal.py)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.config import Config
from bot.slack import modal
from handlers.forms import FORM_ANSWER_MAX, read_request
from handlers.texts import t
from tests.fakes.slack import FakeSlack
from tests.support.scenarios import make_config


def asking_priority(data: dict[str, Any]) -> None:
    data["desk"]["ask_priority"] = True


def without_business_apps(data: dict[str, Any]) -> None:
    del data["categories"]["business_apps"]


def blocks_of(v: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["block_id"]: b for b in v["blocks"]}


def text(value: str | None) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": value}


def option(value: str | None) -> dict[str, Any]:
    return {"type": "static_select", "selected_option": None if value is None else {"value": value}}


def submitted(v: dict[str, Any], **values: dict[str, Any]) -> dict[str, Any]:
    """``v`` as Slack posts it back, ``values`` by block id (the element's action id is looked up)."""
    by_block = blocks_of(v)
    state = {block: {by_block[block]["element"]["action_id"]: entry} for block, entry in values.items()}
    return {**v, "id": "V1", "hash": "h1", "state": {"values": state}}


def fields(**answers: str | None) -> dict[str, dict[str, Any]]:
    return {modal.field_block(k): text(a) for k, a in answers.items()}


def test_the_first_view_has_the_description_and_a_dispatching_category(config: Config) -> None:
    v = modal.view(config, "ru")
    blocks = blocks_of(v)
    assert list(blocks) == [modal.DESC_BLOCK, modal.CATEGORY_BLOCK]  # no priority: inferred (ask_priority false)
    assert blocks[modal.CATEGORY_BLOCK]["dispatch_action"] is True
    assert [o["value"] for o in blocks[modal.CATEGORY_BLOCK]["element"]["options"]] == list(config.categories)
    assert v["title"]["text"] == t("slack_modal_title", "ru")
    FakeSlack()._check_view("views.open", v)  # Block Kit limits hold


def test_a_category_with_a_form_shows_its_questions_with_the_chat_rules(config: Config) -> None:
    v = modal.view(config, "en", category="business_apps")
    blocks = blocks_of(v)
    questions = config.categories["business_apps"].ask
    assert list(blocks)[2:] == [modal.field_block(q.key) for q in questions]
    for q in questions:
        b = blocks[modal.field_block(q.key)]
        assert b["label"]["text"] == q.text.en and b["optional"] is (not q.required)
        assert b["element"]["max_length"] == FORM_ANSWER_MAX
    assert blocks[modal.CATEGORY_BLOCK]["element"]["initial_option"]["value"] == "business_apps"
    FakeSlack()._check_view("views.update", v)


def test_the_priority_is_a_required_select_when_the_desk_asks_for_it() -> None:
    config = make_config(asking_priority)
    block = blocks_of(modal.view(config, "en"))[modal.PRIORITY_BLOCK]
    assert block["optional"] is False
    assert [o["value"] for o in block["element"]["options"]] == list(config.priorities)


def test_choosing_a_category_keeps_what_was_typed(config: Config) -> None:
    first = modal.view(config, "ru")
    current = submitted(first, desc=text("CRM is empty"), category=option("business_apps"))
    after = modal.view_after_choice(current, config)
    blocks = blocks_of(after)
    assert blocks[modal.DESC_BLOCK]["element"]["initial_value"] == "CRM is empty"
    assert modal.field_block("system") in blocks and after["title"]["text"] == t("slack_modal_title", "ru")
    # Typed answers survive a second change back to the same category.
    again = modal.view_after_choice(submitted(after, desc=text("CRM is empty"), category=option("business_apps"),
                                              **fields(system="CRM")), config)
    assert blocks_of(again)[modal.field_block("system")]["element"]["initial_value"] == "CRM"


def test_a_complete_submission_reads_as_a_request(config: Config) -> None:
    v = modal.view(config, "en", category="business_apps")
    got = modal.read(submitted(v, desc=text(" CRM is empty "), category=option("business_apps"),
                               **fields(system=" CRM ", since=None)), config)
    assert got.errors == {} and got.update is None
    assert (got.description, got.category, got.priority, got.fields) == ("CRM is empty", "business_apps", None,
                                                                         {"system": "CRM"})
    assert read_request(got.request().to_value()) == got.request()


@pytest.mark.parametrize("locale", ["en", "ru"])
def test_a_missing_required_answer_is_an_error_on_its_field(config: Config, locale: str) -> None:
    v = modal.view(config, locale, category="business_apps")
    got = modal.read(submitted(v, desc=text("CRM is empty"), category=option("business_apps"),
                               **fields(system="   ", since="Monday")), config)
    assert got.errors == {modal.field_block("system"): t("form_field_required", locale)}


def test_an_empty_description_is_an_error_on_its_field(config: Config) -> None:
    got = modal.read(submitted(modal.view(config, "ru"), desc=text("  ")), config)
    assert got.errors == {modal.DESC_BLOCK: t("slack_modal_desc_empty", "ru")}


def test_a_category_removed_since_the_modal_opened_is_an_error(config: Config) -> None:
    v = modal.view(config, "en", category="business_apps")  # opened under the old config
    got = modal.read(submitted(v, desc=text("CRM is empty"), category=option("business_apps"),
                               **fields(system="CRM")), make_config(without_business_apps))
    assert got.errors == {modal.CATEGORY_BLOCK: t("slack_modal_category_gone", "en")}
    assert got.category is None


def test_questions_not_shown_yet_update_the_modal_instead_of_filing(config: Config) -> None:
    v = modal.view(config, "en")  # built without a category: the update after the choice was lost
    got = modal.read(submitted(v, desc=text("CRM is empty"), category=option("business_apps")), config)
    assert got.errors == {} and got.update is not None
    assert modal.field_block("system") in blocks_of(got.update)
    assert blocks_of(got.update)[modal.DESC_BLOCK]["element"]["initial_value"] == "CRM is empty"


@pytest.mark.parametrize("chosen", [None, "whenever"])
def test_a_missing_or_unknown_priority_is_an_error_when_asked(chosen: str | None) -> None:
    config = make_config(asking_priority)
    v = modal.view(config, "en")
    got = modal.read(submitted(v, desc=text("printer jams"), priority=option(chosen)), config)
    assert got.errors == {modal.PRIORITY_BLOCK: t("slack_modal_priority_empty", "en")}
    ok = modal.read(submitted(v, desc=text("printer jams"), priority=option("urgent")), config)
    assert ok.errors == {} and ok.priority == "urgent"
