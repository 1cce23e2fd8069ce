"""Every click and command is re-authorised against the database.

Buttons and commands carry only a ticket number, so anyone can send any of them (a
forged callback, an old message, a typo). Each refusal below must: answer the actor
(and nobody else), change no ticket, no history and no flow state, and leave one
``denied`` audit event naming the actor, the action and the reason — pointing at the
ticket when it exists, and keeping a forged number in the detail when it does not.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlmodel import col, select

from bot.config import Config
from store.models import Conversation, Status, Ticket, TicketEvent, TicketMessage
from tests.support.clock import FakeClock
from tests.support.desk import Desk
from tests.support.scenarios import open_desk, open_ticket, person_id, ticket_row

STRANGER = "kirill"  # an employee who is not in the config (created on first message)
DENIED_PREFIX = {"anna": "Нельзя: ", "boris": "Нельзя: ", "gleb": "Нельзя: ", "vera": "Not allowed: ",
                 "dina": "Not allowed: ", "egor": "Not allowed: ", STRANGER: "Not allowed: "}


@pytest.fixture
async def desk(config: Config, db_url: str, clock: FakeClock) -> AsyncIterator[Desk]:
    async with open_desk(config, db_url, clock) as desk:
        yield desk


@dataclass(frozen=True)
class Attempt:
    """One thing ``who`` tries: a button (action, ticket, value) or a command text."""

    who: str
    action: str | None = None
    ticket: int | None = None
    value: str | None = None
    say: str | None = None
    thread: int | None = None  # a text written in this ticket's thread

    async def run(self, desk: Desk) -> Any:
        if self.say is not None:
            return await desk.say(self.who, self.say, ticket_id=self.thread)
        assert self.action is not None
        return await desk.click(self.who, self.action, self.ticket, self.value)

    def __str__(self) -> str:
        what = self.say if self.say is not None else f"[{self.action} #{self.ticket} {self.value or ''}]"
        return f"{self.who}: {what}"


def press(who: str, action: str, ticket: int, value: str | None = None) -> Attempt:
    return Attempt(who, action=action, ticket=ticket, value=value)


def say(who: str, text: str) -> Attempt:
    return Attempt(who, say=text)


async def store_state(desk: Desk) -> tuple[Any, ...]:
    """Everything a refusal must leave alone: tickets, history, non-refusal audit, flow states."""
    async with desk.app.db.transaction() as s:
        ticket_rows = [t.model_dump() for t in await s.exec(select(Ticket).order_by(col(Ticket.id)))]
        messages = [m.model_dump() for m in await s.exec(select(TicketMessage).order_by(col(TicketMessage.id)))]
        events = [e.model_dump() for e in await s.exec(
            select(TicketEvent).where(TicketEvent.action != "denied").order_by(col(TicketEvent.id)))]
        convs = sorted((c.chat_id, c.state, repr(c.data)) for c in await s.exec(select(Conversation)))
    return ticket_rows, messages, events, convs


async def denied_events(desk: Desk) -> list[TicketEvent]:
    async with desk.app.db.transaction() as s:
        return list(await s.exec(select(TicketEvent).where(TicketEvent.action == "denied").order_by(col(TicketEvent.id))))


async def actor_id(desk: Desk, who: str) -> int:
    # people who are not in the config are keyed by platform and user id
    return await person_id(desk, f"console:{who}" if who == STRANGER else who)


async def assert_refused(desk: Desk, attempt: Attempt, *, ticket_id: int | None, detail: str) -> None:
    state = await store_state(desk)
    audited = len(await denied_events(desk))
    desk.new(attempt.who)
    outcome = await attempt.run(desk)

    answer = [m.text for m in desk.new(attempt.who)]
    # A stranger to the ticket is told "No ticket #N" (existence and owner stay hidden).
    refused = (DENIED_PREFIX[attempt.who], "Заявки #", "No ticket #")
    assert len(answer) == 1 and answer[0].startswith(refused), f"{attempt}: {answer}"
    assert {o.destination.chat_id for o in outcome.outgoing} == {attempt.who}, f"{attempt}: others were told"
    assert await store_state(desk) == state, f"{attempt} changed something"
    new = (await denied_events(desk))[audited:]
    assert [(e.ticket_id, e.actor_id, e.detail) for e in new] == [
        (ticket_id, await actor_id(desk, attempt.who), detail)
    ], str(attempt)


async def test_an_employee_cannot_use_agent_actions_on_her_own_or_anothers_ticket(desk: Desk) -> None:
    own = await open_ticket(desk, "anna", "принтер не печатает")
    await desk.click("boris", "claim", own)  # held by boris, so resolve/release have an owner
    other = await open_ticket(desk, STRANGER, "my laptop does not start")
    attempts = [
        (press("anna", "claim", own), own, "claim: not_agent"),
        (press("anna", "assign", own), own, "assign: not_agent"),
        (press("anna", "assign", own, "anna"), own, "assign: not_agent"),
        (press("anna", "resolve", own), own, "resolve: not_agent"),
        (press("anna", "escalate", own), own, "escalate: not_agent"),
        (press("anna", "release", own), own, "release: not_agent"),
        (say("anna", f"/take {own}"), own, "claim: not_agent"),
        (say("anna", f"/resolve {own}"), own, "resolve: not_agent"),
        (say("anna", f"/escalate {own}"), own, "escalate: not_agent"),
        (say("anna", f"/release {own}"), own, "release: not_agent"),
        (say("anna", f"/assign {own} anna"), own, "assign: not_agent"),
        (say("anna", f"/note {own} сделайте побыстрее"), own, "note: not_agent"),
        (press("anna", "claim", other), other, "claim: not_agent"),
        (press("anna", "resolve", other), other, "resolve: not_agent"),
        (press("anna", "reply", other), other, "reply: not_agent"),
        (say("anna", f"/reply {other} это не моя заявка"), other, "reply: not_agent"),
        (say("anna", "/queue"), None, "queue: not_staff"),
    ]
    for attempt, ticket_id, detail in attempts:
        await assert_refused(desk, attempt, ticket_id=ticket_id, detail=detail)


async def test_staff_of_another_team_cannot_touch_the_teams_tickets(desk: Desk) -> None:
    number = await open_ticket(desk, "anna", "принтер не печатает")  # IT; dina and egor are HR
    attempts = [
        (press("dina", "claim", number), "claim: not_agent"),
        (press("dina", "assign", number), "assign: not_agent"),
        (press("dina", "assign", number, "dina"), "assign: not_agent"),
        (press("dina", "resolve", number), "resolve: not_agent"),
        (press("dina", "escalate", number), "escalate: not_agent"),
        (press("dina", "release", number), "release: not_agent"),
        (press("dina", "reply", number), "reply: not_agent"),
        (say("dina", f"/take {number}"), "claim: not_agent"),
        (say("dina", f"/reply {number} hello from HR"), "reply: not_agent"),
        (say("dina", f"/note {number} peeking"), "note: not_agent"),
        (say("dina", f"/ticket {number}"), "view: not_requester"),
        (press("egor", "resolve", number), "resolve: not_agent"),  # a lead of another team
        (press("egor", "assign", number, "boris"), "assign: not_agent"),
    ]
    for attempt, detail in attempts:
        await assert_refused(desk, attempt, ticket_id=number, detail=detail)
    assert (await ticket_row(desk, number))["status"] == Status.NEW


async def test_only_the_owner_or_a_lead_resolves_releases_or_reassigns(desk: Desk) -> None:
    number = await open_ticket(desk, "anna", "принтер не печатает")
    await desk.click("boris", "claim", number)
    attempts = [
        (press("vera", "resolve", number), "resolve: not_owner"),
        (say("vera", f"/resolve {number}"), "resolve: not_owner"),
        (press("vera", "release", number), "release: not_owner"),
        (press("vera", "assign", number), "assign: not_owner"),
        (press("vera", "assign", number, "vera"), "assign: not_owner"),
        (say("vera", f"/assign {number} vera"), "assign: not_owner"),
        (press("vera", "escalate", number), "escalate: not_owner"),
        (press("vera", "reply", number), "reply: held"),
        (say("vera", f"/reply {number} let me answer instead"), "reply: held"),
    ]
    for attempt, detail in attempts:
        await assert_refused(desk, attempt, ticket_id=number, detail=detail)

    # a lead may do all of it
    await desk.say("gleb", f"/assign {number} vera")
    assert (await ticket_row(desk, number))["assignee_id"] == await person_id(desk, "vera")
    await desk.click("gleb", "resolve", number)
    await desk.press("gleb", "Пропустить")  # no resolution note
    assert desk.last("gleb").text == f"Заявка #{number} решена."
    assert (await ticket_row(desk, number))["status"] == Status.RESOLVED
    assert [e.actor_id for e in await denied_events(desk)].count(await person_id(desk, "gleb")) == 0


async def test_forged_ticket_numbers_are_refused_and_audited_by_number(desk: Desk) -> None:
    await open_ticket(desk, "anna", "принтер не печатает")
    forged = 999
    attempts = [
        press("boris", "claim", forged), press("boris", "assign", forged), press("boris", "assign", forged, "vera"),
        press("boris", "reply", forged), press("boris", "resolve", forged), press("boris", "escalate", forged),
        press("boris", "release", forged),
        say("boris", f"/take {forged}"), say("boris", f"/resolve {forged}"), say("boris", f"/ticket {forged}"),
        say("boris", f"/escalate {forged}"), say("boris", f"/release {forged}"),
        say("boris", f"/assign {forged} vera"), say("boris", f"/note {forged} x"),
        say("boris", f"/reply {forged} hello"), say("boris", f"/canned {forged} restart"),
        press("anna", "rate", forged, "1"), press("anna", "reopen", forged),
        say("anna", f"/reply {forged} где ответ?"),
    ]
    actions = {"claim": "claim", "assign": "assign", "reply": "reply", "resolve": "resolve", "escalate": "escalate",
               "release": "release", "rate": "rate", "reopen": "reopen", "/take": "claim", "/resolve": "resolve",
               "/ticket": "view", "/escalate": "escalate", "/release": "release", "/assign": "assign",
               "/note": "note", "/reply": "reply", "/canned": "reply"}
    for attempt in attempts:
        action = actions[attempt.action or (attempt.say or "").split()[0]]
        await assert_refused(desk, attempt, ticket_id=None, detail=f"{action}: no_ticket (ticket id {forged})")
        assert f"#{forged}" in desk.last(attempt.who).text


async def test_a_requester_cannot_rate_or_reopen_someone_elses_ticket(desk: Desk) -> None:
    number = await open_ticket(desk, "anna", "принтер не печатает")
    await desk.click("boris", "claim", number)
    await desk.say("boris", f"/resolve {number}")
    attempts = [
        (press(STRANGER, "rate", number, "1"), "rate: not_requester"),
        (press(STRANGER, "reopen", number), "reopen: not_requester"),
        (press("boris", "rate", number, "5"), "rate: not_requester"),
        (press("gleb", "reopen", number), "reopen: not_requester"),
    ]
    for attempt, detail in attempts:
        await assert_refused(desk, attempt, ticket_id=number, detail=detail)
    row = await ticket_row(desk, number)
    assert (row["status"], row["csat"]) == (Status.RESOLVED, None)
    await desk.click("anna", "rate", number, "4")  # the requester herself may
    assert (await ticket_row(desk, number))["csat"] == 4


async def test_nobody_reads_or_writes_into_someone_elses_ticket(desk: Desk) -> None:
    number = await open_ticket(desk, "anna", "принтер на третьем этаже не печатает")
    await desk.say("boris", f"/note {number} пароль от принтера 1234")
    attempts = [
        (say(STRANGER, f"/ticket {number}"), "view: not_requester"),
        (press(STRANGER, "reply", number), "reply: not_agent"),
        (say(STRANGER, f"/reply {number} me too"), "reply: not_agent"),
    ]
    for attempt, detail in attempts:
        await assert_refused(desk, attempt, ticket_id=number, detail=detail)
        told = desk.last(STRANGER).text
        assert "третьем" not in told and "1234" not in told
    # a message written in the ticket's thread is refused the same way
    thread_message = Attempt(STRANGER, say="let me in", thread=number)
    await assert_refused(desk, thread_message, ticket_id=number, detail="reply: not_agent")


async def test_ticket_numbers_beyond_the_id_range_are_refused_like_any_forged_number(desk: Desk) -> None:
    """Regression: a forged id of 2**31 or more reached the database as a query parameter and
    crashed the event on PostgreSQL (int4 overflow) and, from 2**63, on SQLite."""
    number = await open_ticket(desk, "anna", "принтер не печатает")
    for huge in (2**31, 10**20):
        await assert_refused(desk, press("boris", "claim", huge), ticket_id=None,
                             detail=f"claim: no_ticket (ticket id {huge})")
        await assert_refused(desk, press("anna", "rate", huge, "5"), ticket_id=None,
                             detail=f"rate: no_ticket (ticket id {huge})")
        await assert_refused(desk, Attempt("anna", say="ещё вопрос", thread=huge), ticket_id=None,
                             detail=f"reply: no_ticket (ticket id {huge})")
    await assert_refused(desk, say("boris", "/take 99999999999"), ticket_id=None,
                         detail="claim: no_ticket (ticket id 99999999999)")
    await assert_refused(desk, say("boris", "/canned 99999999999 restart"), ticket_id=None,
                         detail="reply: no_ticket (ticket id 99999999999)")
    assert (await ticket_row(desk, number))["status"] == Status.NEW
