"""Hostile input probed at the engine (issue 7 §6, the IntegrityError and rating items of
§5, the message-length item of §3): each finding has a named regression test, and a
hypothesis property test feeds arbitrary text through the main paths on both databases.

People (sample config): anna — employee (ru); IT: boris L1 (ru), vera L2 (en).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import col, select

from bot.config import Config
from handlers.engine import _ticket_number
from handlers.events import MAX_TEXT, Attachment, Incoming
from handlers.sanitize import clean_incoming, clean_locale, clean_text
from store.models import Identity, InboxEvent, Person, Status, TicketEvent
from tests.support.clock import FakeClock
from tests.support.desk import PLATFORM, Desk
from tests.support.scenarios import (
    all_events,
    count_rows,
    open_desk,
    open_ticket,
    ticket_messages,
    ticket_row,
)

PRINTER = "принтер не печатает"


@pytest.fixture
async def desk(config: Config, db_url: str, clock: FakeClock) -> AsyncIterator[Desk]:
    async with open_desk(config, db_url, clock) as desk:
        yield desk


def texts(desk: Desk, who: str) -> list[str]:
    return [m.text for m in desk.new(who)]


async def can_start_a_request(desk: Desk, who: str) -> None:
    """The conversation is not stuck: /cancel, then a normal request is answered normally."""
    await desk.say(who, "/cancel")
    desk.new(who)
    await desk.say(who, PRINTER)
    answer = desk.new(who)
    assert answer and answer[-1].buttons, f"{who} got no normal answer: {[m.text for m in answer]}"
    await desk.say(who, "/cancel")


# --- normalisation at the edge -------------------------------------------------------


def test_clean_text_replaces_surrogates_and_drops_controls_but_keeps_newline_and_tab() -> None:
    assert clean_text("printer \ud800 broken\x00\x07\x1b\x7f\x85\u009f\n\tok") == "printer \ufffd broken\n\tok"
    assert clean_text("zero\u200bwidth") == "zero\u200bwidth"  # printable format chars stay
    inc = clean_incoming(Incoming(platform="console", chat_id="c\x00", user_id="u\ud800", event_key="k\x00",
                                  text="a\x00b", display_name="N\x01", value="v\x02", locale="ru\x00"))
    assert (inc.chat_id, inc.user_id, inc.event_key, inc.text, inc.display_name, inc.value, inc.locale) == (
        "c", "u\ufffd", "k", "ab", "N", "v", "ru")


async def test_lone_surrogate_and_nul_in_a_first_message_are_stored_cleaned(desk: Desk) -> None:
    number = await open_ticket(desk, "anna", "принтер \ud800 не\x00 печатает")
    assert (await ticket_messages(desk, number))[0].text == "принтер \ufffd не печатает"
    assert (await ticket_row(desk, number))["subject"] == "принтер \ufffd не печатает"
    await can_start_a_request(desk, "anna")


async def test_surrogate_in_a_button_value_does_not_raise(desk: Desk) -> None:
    number = await open_ticket(desk, "anna", PRINTER)
    await desk.click("anna", "rate", number, "\ud800\x00")
    assert texts(desk, "anna")  # answered, nothing raised


# --- length ------------------------------------------------------------------------------


async def test_a_long_message_is_cut_stored_up_to_the_cut_and_the_sender_told(desk: Desk) -> None:
    assert MAX_TEXT >= 16_000
    text = "принтер " + "x" * (MAX_TEXT - 8) + "y" * 1234
    number = await open_ticket(desk, "anna", text)
    stored = (await ticket_messages(desk, number))[0].text
    assert stored == text[:MAX_TEXT]
    told = [m.text for m in desk.received("anna") if "16,000" in m.text]
    assert told and "1,234" in told[0], told
    assert len((await ticket_row(desk, number))["kb_query"]) <= 4000  # VARCHAR(4000) on PostgreSQL


async def test_a_long_agent_reply_is_cut_too(desk: Desk) -> None:
    number = await open_ticket(desk, "anna", PRINTER)
    await desk.say("boris", "z" * (MAX_TEXT + 10), ticket_id=number)
    assert (await ticket_messages(desk, number))[-1].text == "z" * MAX_TEXT
    assert any("16,000" in t and "10" in t for t in texts(desk, "boris"))


# --- ticket numbers ----------------------------------------------------------------------


def test_only_ascii_digits_are_ticket_numbers() -> None:
    for arg in ("²", "①", "١", "１", "1²", "٣٤"):
        assert _ticket_number(arg) is None, arg
    assert _ticket_number("#12") == 12


async def test_take_with_non_ascii_digits_answers_usage_and_claims_nothing(desk: Desk) -> None:
    number = await open_ticket(desk, "anna", PRINTER)
    assert number == 1
    desk.new("boris")
    for arg in ("²", "①", "١", "１"):
        await desk.say("boris", f"/take {arg}")
        assert texts(desk, "boris") == ["Использование: /take N"], arg
    assert (await ticket_row(desk, 1))["assignee_id"] is None


# --- empty text ------------------------------------------------------------------------


async def test_whitespace_only_agent_reply_is_refused_and_not_a_first_response(desk: Desk) -> None:
    number = await open_ticket(desk, "anna", PRINTER)
    before = await ticket_row(desk, number)
    desk.new("anna")
    desk.new("boris")
    await desk.say("boris", " \n\t ", ticket_id=number)
    assert texts(desk, "boris") == ["Сообщение пустое, ничего не отправлено. Напишите текст или приложите файл."]
    await desk.say("boris", f"/reply {number} \u0000 ")  # nothing to send: opens reply mode instead
    await desk.say("boris", "/cancel")
    assert texts(desk, "anna") == []
    after = await ticket_row(desk, number)
    assert after["first_response_at"] is None and after == before
    assert len(await ticket_messages(desk, number)) == 1


async def test_empty_requester_followup_does_not_reach_the_queue(desk: Desk) -> None:
    number = await open_ticket(desk, "anna", PRINTER)
    desk.new("anna")
    desk.new("boris")
    await desk.say("anna", "   ", ticket_id=number)
    assert len(texts(desk, "anna")) == 1
    assert texts(desk, "boris") == []
    assert len(await ticket_messages(desk, number)) == 1


async def test_a_file_without_a_caption_is_not_empty(desk: Desk) -> None:
    number = await open_ticket(desk, "anna", PRINTER)
    desk.new("boris")
    await desk.send(Incoming(platform=PLATFORM, chat_id="anna", user_id="anna", event_key=desk.key(), text="",
                             ticket_id=number, attachments=(Attachment("log.txt", "text/plain", 3, "f1"),)))
    assert len(await ticket_messages(desk, number)) == 2
    assert texts(desk, "boris")


# --- column limits ---------------------------------------------------------------------


async def test_long_ids_names_and_locales_fit_on_both_databases(desk: Desk) -> None:
    uid, chat = "u" * 100, "c" * 100

    def inc(text: str) -> Incoming:
        return Incoming(platform=PLATFORM, chat_id=chat, user_id=uid, event_key=desk.key(), text=text,
                        display_name="N" * 300, locale="zh-Hant-TW")

    people_before = await count_rows(desk, Person)
    first = await desk.send(inc(PRINTER))
    second = await desk.send(inc("/cancel"))
    assert first.outgoing and second.outgoing and not second.duplicate
    assert await count_rows(desk, Person) == people_before + 1  # recognised the second time
    async with desk.app.db.transaction() as s:
        ident = (await s.exec(select(Identity).order_by(col(Identity.id).desc()))).first()
        assert ident is not None
        assert len(ident.platform_user_id) == 64 and ident.locale == "zh"
        assert ident.display_name == "N" * 200
    assert clean_locale("zh-Hant-TW") == "zh" and clean_locale("EN_us") == "en" and clean_locale("-") is None


# --- event keys ----------------------------------------------------------------------------


async def test_long_event_keys_sharing_a_prefix_do_not_collide(desk: Desk) -> None:
    prefix = "slack:" + "k" * 250
    first = await desk.say("anna", "/my", key=prefix + "1")
    second = await desk.say("anna", "/my", key=prefix + "2")
    again = await desk.say("anna", "/my", key=prefix + "1")
    assert not first.duplicate and not second.duplicate and again.duplicate
    async with desk.app.db.transaction() as s:
        keys = list(await s.exec(select(InboxEvent.event_key)))
    assert all(len(k) <= 200 for k in keys)
    short = await desk.say("anna", "/my", key="readable:1")
    async with desk.app.db.transaction() as s:
        keys = list(await s.exec(select(InboxEvent.event_key)))
    assert not short.duplicate and "readable:1" in keys  # short keys are stored as they are


# --- refusals ------------------------------------------------------------------------------


async def test_a_stranger_cannot_tell_a_missing_ticket_from_another_teams(desk: Desk) -> None:
    number = await open_ticket(desk, "anna", PRINTER)  # an IT ticket
    stranger = "kirill"
    await desk.say(stranger, f"/take {number}")
    await desk.say(stranger, "/take 99999")
    await desk.say(stranger, f"/ticket {number}")
    await desk.click(stranger, "rate", number, "5")
    assert texts(desk, stranger) == [f"No ticket #{number}.", "No ticket #99999.", f"No ticket #{number}.",
                                     f"No ticket #{number}."]
    await desk.say("dina", f"/take {number}")  # HR agent: a stranger to this ticket too
    assert texts(desk, "dina") == [f"No ticket #{number}."]
    await desk.say("anna", "/ticket 99999")
    assert texts(desk, "anna")[-1] == "Заявки #99999 нет."
    denied = [e.detail for e in await all_events(desk) if e.action == "denied"]
    assert denied[:3] == ["claim: not_agent", "claim: no_ticket (ticket id 99999)", "view: not_requester"]


# --- IntegrityError that is not a repeated event -----------------------------------------


async def test_two_first_messages_of_a_new_person_at_once_are_both_handled(desk: Desk) -> None:
    def inc(key: str, text: str) -> Incoming:
        return Incoming(platform=PLATFORM, chat_id="newbie", user_id="newbie", event_key=key, text=text,
                        display_name="New Person")

    outcomes = await asyncio.gather(desk.app.engine.handle(inc("race:1", PRINTER)),
                                    desk.app.engine.handle(inc("race:2", "/my")))
    assert [o.duplicate for o in outcomes] == [False, False]
    assert all(o.outgoing for o in outcomes)
    async with desk.app.db.transaction() as s:
        assert len(list(await s.exec(select(Person).where(Person.key == f"{PLATFORM}:newbie")))) == 1
        keys = set(await s.exec(select(InboxEvent.event_key)))
    assert {"race:1", "race:2"} <= keys


# --- ratings on tickets that are not resolved ------------------------------------------------


async def test_rating_a_ticket_that_is_not_resolved_changes_nothing(desk: Desk) -> None:
    number = await open_ticket(desk, "anna", PRINTER)

    async def rate_is_refused(status: str) -> None:
        before = await ticket_row(desk, number)
        assert before["status"] == status
        events = len(await all_events(desk))
        desk.new("anna")
        await desk.click("anna", "rate", number, "4")
        told = texts(desk, "anna")
        assert len(told) == 1 and f"#{number}" in told[0], told
        assert await ticket_row(desk, number) == before
        assert len(await all_events(desk)) == events

    await rate_is_refused(Status.NEW)
    await desk.say("boris", f"/take {number}")
    await rate_is_refused(Status.CLAIMED)
    await desk.say("boris", f"/resolve {number}")
    await desk.click("anna", "rate", number, "5")
    row = await ticket_row(desk, number)
    assert row["status"] == Status.CLOSED and row["csat"] == 5
    await rate_is_refused(Status.CLOSED)  # closed by the rating: already rated


async def test_rating_a_ticket_closed_without_a_rating_changes_nothing(desk: Desk) -> None:
    from store import tickets

    number = await open_ticket(desk, "anna", PRINTER)
    async with desk.app.db.transaction() as s:
        ticket = await tickets.get_ticket(s, number)
        assert ticket is not None
        await tickets.close_ticket(s, ticket, None, ticket.created_at, reason="test")
    before = await ticket_row(desk, number)
    desk.new("anna")
    await desk.click("anna", "rate", number, "3")
    assert len(texts(desk, "anna")) == 1
    assert await ticket_row(desk, number) == before and before["csat"] is None


# --- must-show 7: arbitrary text ---------------------------------------------------------------

HOSTILE = st.text(
    alphabet=st.one_of(
        st.characters(codec=None, categories=None),  # anything, lone surrogates included
        st.sampled_from(["\x00", "\x07", "\x1b", "\x7f", "\x85", "\u200b", "\u200d", "\ufeff", "\ud800", "\udfff",
                         "\n", "\t", " ", "/", "#"]),
    ),
    max_size=300,
).flatmap(lambda s: st.sampled_from([s, s * (20_000 // max(len(s), 1) + 1)][: 2 if s else 1]))


def is_known_command(desk: Desk, text: str) -> bool:
    name = text.split(" ", 1)[0].split("@", 1)[0].lower()
    return text.startswith("/") and name in desk.app.engine._commands


def expected_stored(text: str) -> str:
    return (clean_text(text) or "")[:MAX_TEXT].strip()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=HOSTILE)
async def test_arbitrary_text_never_raises_never_sticks_and_is_stored_the_same(desk: Desk, text: str) -> None:
    number = await _shared_ticket(desk)
    # First message: whatever it is, the conversation can be left and restarted.
    await desk.say("vera", "/cancel")
    await desk.say("vera", text)
    await can_start_a_request(desk, "vera")
    # Agent reply and requester follow-up in the ticket's thread.
    for who in ("boris", "anna"):
        count = len(await ticket_messages(desk, number))
        await desk.say(who, text, ticket_id=number)
        messages = await ticket_messages(desk, number)
        want = expected_stored(text)
        if is_known_command(desk, want):
            continue  # "/TAKE", "/my" in a thread are commands there, not text for the ticket
        if want:
            assert messages[-1].text == want  # the same deterministic form on both databases
        else:
            assert len(messages) == count
    await can_start_a_request(desk, "anna")


async def _shared_ticket(desk: Desk) -> int:
    """One open ticket of anna's, claimed by boris, reused by every example."""
    async with desk.app.db.transaction() as s:
        rows = list(await s.exec(select(TicketEvent.ticket_id).where(TicketEvent.action == "create")))
    if rows and rows[0] is not None:
        return rows[0]
    number = await open_ticket(desk, "anna", "ноутбук не включается")
    await desk.say("boris", f"/take {number}")
    return number
