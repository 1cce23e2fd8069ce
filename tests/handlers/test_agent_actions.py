"""What agents do with tickets, told as conversations through the real engine and outbox.

People (sample config): anna — employee (ru); IT: boris L1 (ru), vera L2 (en), gleb lead (ru);
HR: dina L1 (en), egor lead (en). The terminal platform has no team chats, so a team's
queue card goes to the DMs of the agents of the ticket's tier (or the leads when that
tier is empty).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.config import Config
from store.models import MessageKind, Status
from tests.support.clock import FakeClock
from tests.support.desk import Desk, Received
from tests.support.scenarios import (
    add_agents,
    make_config,
    open_desk,
    open_ticket,
    person_id,
    set_assignment,
    ticket_events,
    ticket_messages,
    ticket_row,
)

PRINTER = "принтер не печатает"


@pytest.fixture
async def desk(config: Config, db_url: str, clock: FakeClock) -> AsyncIterator[Desk]:
    async with open_desk(config, db_url, clock) as desk:
        yield desk


def texts(messages: list[Received]) -> list[str]:
    return [m.text for m in messages]


def is_card(m: Received) -> bool:
    return m.ticket_id is not None and m.text.startswith(f"#{m.ticket_id} [")


def cards(messages: list[Received], number: int) -> list[Received]:
    return [m for m in messages if is_card(m) and m.ticket_id == number]


def seen(desk: Desk, *who: str) -> None:
    """Mark everything these people received so far as read (``desk.new`` starts after it)."""
    for person in who:
        desk.new(person)


def said(desk: Desk, who: str) -> str:
    """The last thing ``who`` was told, not counting queue cards (on the terminal an agent's
    DM is also the team queue, so a card refresh often follows the answer)."""
    for m in reversed(desk.received(who)):
        if not is_card(m):
            return m.text
    raise AssertionError(f"{who} was told nothing")


async def test_claim_then_release(desk: Desk) -> None:
    number = await open_ticket(desk, "anna", PRINTER)
    card = desk.last_with_buttons("boris")
    assert card.ticket_id == number and card.labels() == ["Взять", "Назначить", "Эскалировать"]
    assert "Статус: ждёт исполнителя" in card.text
    seen(desk, "anna", "boris")

    await desk.press("boris", "Взять")
    got = desk.new("boris")
    assert f"Заявка #{number} ваша." in texts(got)
    edited = cards(got, number)
    assert len(edited) == 1 and edited[0].edited
    assert "Статус: в работе — Boris Petrov" in edited[0].text
    assert edited[0].labels() == ["Ответить", "Решено", "Эскалировать", "Вернуть в очередь", "Переназначить"]
    assert texts(desk.new("anna")) == [f"Boris Petrov взял(а) в работу заявку #{number}."]

    await desk.click("vera", "claim", number)
    assert said(desk, "vera") == f"#{number} is already taken by Boris Petrov."
    await desk.say("boris", f"/take {number}")
    assert said(desk, "boris") == f"Заявка #{number} уже ваша."
    assert [e.action for e in await ticket_events(desk, number)].count("claim") == 1

    desk.new("boris")
    await desk.press("boris", "Вернуть в очередь")
    got = desk.new("boris")
    assert f"Заявка #{number} возвращена в очередь." in texts(got)
    assert cards(got, number)[-1].labels() == ["Взять", "Назначить", "Эскалировать"]
    row = await ticket_row(desk, number)
    assert (row["status"], row["assignee_id"]) == (Status.NEW, None)
    # back in the queue, anyone of the team may take it
    await desk.click("vera", "claim", number)
    assert said(desk, "vera") == f"#{number} is yours."


async def test_assign_from_the_picker_by_command_and_reassign(desk: Desk) -> None:
    number = await open_ticket(desk, "anna", PRINTER)
    await desk.click("gleb", "assign", number)
    picker = desk.last("gleb")
    assert picker.text == f"Назначить #{number}:"
    assert picker.labels() == ["Boris Petrov (L1)", "Vera Sokolova (L2)"]
    desk.new("vera")
    await desk.press("gleb", "Vera Sokolova")
    assert said(desk, "gleb") == f"Заявка #{number} назначена: Vera Sokolova."
    told = desk.new("vera")
    assert told[0].text == f"#{number} was assigned to you: {PRINTER}"
    assert [b.action for b in told[0].buttons] == ["reply", "resolve"]
    row = await ticket_row(desk, number)
    vera, boris, gleb = [await person_id(desk, k) for k in ("vera", "boris", "gleb")]
    assert (row["status"], row["assignee_id"]) == (Status.CLAIMED, vera)
    assert "Статус: в работе — Vera Sokolova" in cards(desk.received("boris"), number)[-1].text

    # the owner hands it on by command; the new owner is told, the card follows
    desk.new("boris")
    await desk.say("vera", f"/assign {number} boris")
    assert said(desk, "vera") == f"#{number} assigned to Boris Petrov."
    got = desk.new("boris")
    assert f"Вам назначена заявка #{number}: {PRINTER}" in texts(got)
    card = cards(got, number)[-1]
    assert "Статус: в работе — Boris Petrov" in card.text
    # "Reassign" on the card opens the same picker for the owner
    reassign = next(b for b in card.buttons if b.label == "Переназначить")
    await desk.click("boris", reassign.action, reassign.ticket_id, reassign.value)
    assert said(desk, "boris") == f"Назначить #{number}:"

    await desk.say("boris", f"/assign {number} dina")  # not an IT agent
    assert said(desk, "boris") == "Нельзя: dina не агент команды ИТ-поддержка."
    events = [(e.action, e.actor_id, e.from_value, e.to_value) for e in await ticket_events(desk, number)]
    assert [e for e in events if e[0] == "assign"] == [
        ("assign", gleb, None, str(vera)),
        ("assign", vera, str(vera), str(boris)),
    ]


async def test_reply_by_button_and_by_command_reaches_the_requester(desk: Desk, clock: FakeClock) -> None:
    number = await open_ticket(desk, "anna", PRINTER)
    await desk.press("boris", "Взять")
    desk.new("anna")
    clock.advance(minutes=7)
    await desk.press("boris", "Ответить")
    assert said(desk, "boris") == f"Напишите сообщение для #{number} или /cancel."
    await desk.say("boris", "Проверьте, включён ли принтер")
    assert said(desk, "boris") == f"Отправлено: Anna Ivanova (#{number})."
    relayed = desk.new("anna")
    assert texts(relayed) == [f"#{number} · Boris Petrov: Проверьте, включён ли принтер"]
    assert [b.action for b in relayed[0].buttons] == ["reply"] and relayed[0].buttons[0].ticket_id == number
    row = await ticket_row(desk, number)
    first_response = clock.now
    assert (row["status"], row["first_response_at"]) == (Status.WAITING, first_response)

    # reply mode ends with that message: the next text is not added to the ticket
    history = len(await ticket_messages(desk, number))
    await desk.say("boris", "спасибо")
    assert len(await ticket_messages(desk, number)) == history

    clock.advance(minutes=5)
    await desk.say("boris", f"/reply {number} Попробуйте ещё раз")
    assert texts(desk.new("anna")) == [f"#{number} · Boris Petrov: Попробуйте ещё раз"]
    assert (await ticket_row(desk, number))["first_response_at"] == first_response  # unchanged
    agent_lines = [(m.kind, m.text) for m in await ticket_messages(desk, number) if m.kind == MessageKind.AGENT]
    assert agent_lines == [(MessageKind.AGENT, "Проверьте, включён ли принтер"), (MessageKind.AGENT, "Попробуйте ещё раз")]


async def test_replying_to_an_unclaimed_ticket_takes_it(desk: Desk) -> None:
    number = await open_ticket(desk, "anna", PRINTER)
    await desk.say("vera", f"/reply {number} On it, please send the printer name")
    row = await ticket_row(desk, number)
    assert (row["assignee_id"], row["status"]) == (await person_id(desk, "vera"), Status.WAITING)
    assert [e.action for e in await ticket_events(desk, number)] == ["create", "claim", "reply"]
    assert desk.last("anna").text == f"#{number} · Vera Sokolova: On it, please send the printer name"


async def test_notes_stay_internal_and_ticket_view_hides_them_from_the_requester(desk: Desk) -> None:
    number = await open_ticket(desk, "anna", PRINTER)
    await desk.say("boris", f"/take {number}")
    await desk.say("boris", f"/reply {number} Какой у вас этаж?")
    desk.new("anna")
    await desk.say("boris", f"/note {number} картридж закончился, заказать")
    assert said(desk, "boris") == f"Внутренняя заметка добавлена в #{number}."
    assert desk.new("anna") == []
    kinds = [m.kind for m in await ticket_messages(desk, number)]
    assert kinds == [MessageKind.REQUESTER, MessageKind.AGENT, MessageKind.NOTE]
    assert (await ticket_row(desk, number))["status"] == Status.WAITING  # a note is not an answer

    await desk.say("anna", f"/ticket {number}")
    seen_by_anna = desk.last("anna")
    assert PRINTER in seen_by_anna.text and "Какой у вас этаж?" in seen_by_anna.text
    assert "картридж" not in seen_by_anna.text and seen_by_anna.buttons == []
    await desk.say("vera", f"/ticket {number}")
    seen_by_vera = desk.last("vera")
    assert "Boris Petrov (note): картридж закончился, заказать" in seen_by_vera.text
    assert "Resolve" in seen_by_vera.labels()


async def test_escalation_goes_up_the_staffed_tiers_and_stops_at_the_last(desk: Desk) -> None:
    number = await open_ticket(desk, "anna", PRINTER)
    assert cards(desk.new("vera"), number) == []  # an L1 ticket is not in the L2 queue
    await desk.press("boris", "Взять")
    desk.new("gleb")
    await desk.press("boris", "Эскалировать")
    assert desk.last("boris").text == f"Причина эскалации #{number} (одной строкой) или «Пропустить»"
    await desk.press("boris", "Пропустить")
    assert said(desk, "boris") == f"Заявка #{number} эскалирована L1 → L2."
    l2 = cards(desk.new("vera"), number)
    # nobody is L3 in IT: no Escalate button at L2
    assert len(l2) == 1 and "· L2" in l2[0].text and "Status: waiting for an agent" in l2[0].text
    assert l2[0].labels() == ["Claim", "Assign"]
    row = await ticket_row(desk, number)
    assert (row["tier"], row["status"], row["assignee_id"]) == ("L2", Status.NEW, None)

    await desk.press("vera", "Claim")
    await desk.say("vera", f"/escalate {number} needs L3")
    assert said(desk, "vera") == f"Not allowed: #{number} cannot be escalated: no tier above L2 has agents."
    assert (await ticket_row(desk, number))["tier"] == "L2"
    escalations = [(e.action, e.from_value, e.to_value) for e in await ticket_events(desk, number)
                   if e.action in ("escalate", "denied")]
    assert escalations == [("escalate", "L1", "L2"), ("denied", None, None)]


async def test_canned_replies_are_sent_in_the_requesters_language(desk: Desk) -> None:
    for_anna = await open_ticket(desk, "anna", PRINTER)  # anna reads Russian
    for_dina = await open_ticket(desk, "dina", "my laptop screen is black")  # dina reads English
    await desk.say("vera", f"/canned {for_anna} restart")  # vera works in English
    assert desk.last("anna").text == (
        f"#{for_anna} · Vera Sokolova: Пожалуйста, перезагрузите устройство и напишите, осталась ли проблема."
    )
    await desk.say("boris", f"/canned {for_dina} restart")  # boris works in Russian
    assert said(desk, "dina") == (
        f"#{for_dina} · Boris Petrov: Please restart the device and tell us whether the problem is still there."
    )
    # in reply mode the ticket is implied
    await desk.click("vera", "reply", for_anna)
    await desk.say("vera", "/canned more_info")
    assert desk.last("anna").text.endswith("Пришлите, пожалуйста, скриншот ошибки и точное время, когда она появилась.")
    assert len([m for m in await ticket_messages(desk, for_anna) if m.kind == MessageKind.AGENT]) == 2

    await desk.say("boris", f"/canned {for_dina} nope")
    assert said(desk, "boris") == "Нет шаблона с именем nope."
    await desk.say("boris", "/canned")
    assert "more_info, restart" in desk.received("boris")[-2].text


async def test_queue_and_mine(desk: Desk) -> None:
    waiting = await open_ticket(desk, "anna", PRINTER)
    held = await open_ticket(desk, "anna", "не могу войти, забыл пароль")
    hr = await open_ticket(desk, "anna", "хочу в отпуск в декабре")  # HR, auto-assigned to dina
    await desk.say("boris", f"/take {held}")

    await desk.say("boris", "/queue")
    lines = said(desk, "boris").splitlines()
    assert lines[0] == "Открытые заявки:"
    assert [line.split()[0] for line in lines[1:]] == [f"#{waiting}", f"#{held}"]  # unassigned first
    assert lines[1].endswith("ждёт исполнителя") and lines[2].endswith("в работе — Boris Petrov")
    await desk.say("boris", "/mine")
    assert said(desk, "boris").splitlines()[1:] == [
        f"#{held} [Обычный] не могу войти, забыл пароль — в работе — Boris Petrov"
    ]
    await desk.say("vera", "/mine")
    assert said(desk, "vera") == "You have no open tickets."
    await desk.say("dina", "/queue")
    assert [line.split()[0] for line in said(desk, "dina").splitlines()[1:]] == [f"#{hr}"]
    await desk.say("gleb", "/queue")  # a lead sees the team's queue too
    assert [line.split()[0] for line in said(desk, "gleb").splitlines()[1:]] == [f"#{waiting}", f"#{held}"]

    await desk.say("boris", f"/resolve {held}")
    await desk.say("boris", "/mine")
    assert said(desk, "boris") == "У вас нет открытых заявок."


async def test_requester_followups_reach_the_assignee_or_the_queue(desk: Desk) -> None:
    number = await open_ticket(desk, "anna", PRINTER)
    seen(desk, "boris", "vera")
    await desk.say("anna", "Он ещё и шумит", ticket_id=number)  # unclaimed: to the L1 queue
    assert desk.last("anna").text == f"Добавлено в #{number}."
    assert texts(desk.new("boris")) == [f"#{number} · Anna Ivanova: Он ещё и шумит"]

    await desk.click("gleb", "assign", number, "vera")
    await desk.say("vera", f"/reply {number} Which floor?")
    assert (await ticket_row(desk, number))["status"] == Status.WAITING
    seen(desk, "vera", "boris")
    await desk.say("anna", "Третий", ticket_id=number)  # a reply in the thread
    relayed = desk.new("vera")
    assert texts(relayed) == [f"#{number} · Anna Ivanova: Третий"]
    assert relayed[0].buttons[0].action == "reply"
    assert desk.new("boris") == []
    assert (await ticket_row(desk, number))["status"] == Status.CLAIMED  # back to work
    await desk.say("anna", f"/reply {number} Кабинет 301")
    assert texts(desk.new("vera")) == [f"#{number} · Anna Ivanova: Кабинет 301"]
    followups = [e for e in await ticket_events(desk, number) if e.action == "followup"]
    assert [(e.from_value, e.to_value) for e in followups] == [(None, None), ("waiting", "claimed"), (None, None)]


async def test_resolve_then_reopen_returns_to_the_assignee_and_a_low_rating_alerts_the_lead(desk: Desk) -> None:
    number = await open_ticket(desk, "anna", PRINTER)
    await desk.press("boris", "Взять")
    seen(desk, "anna", "gleb")
    await desk.say("boris", f"/resolve {number}")
    assert said(desk, "boris") == f"Заявка #{number} решена."
    assert cards(desk.received("boris"), number)[-1].labels() == []
    asked = desk.new("anna")[-1]
    assert asked.text.startswith(f"Заявка #{number} решена: {PRINTER}")
    assert asked.labels() == ["1", "2", "3", "4", "5", "Не решено — открыть снова"]

    desk.new("boris")
    await desk.press("anna", "Не решено")
    assert desk.last("anna").text == f"Заявка #{number} снова открыта. Мы свяжемся с вами."
    assert f"Заявку #{number} открыли снова (Anna Ivanova): проблема не решена." in texts(desk.new("boris"))
    row = await ticket_row(desk, number)
    assert (row["status"], row["assignee_id"], row["resolved_at"]) == (Status.CLAIMED, await person_id(desk, "boris"), None)

    await desk.say("boris", f"/resolve {number}")
    await desk.press("anna", "2")
    thanks, comment = texts(desk.new("anna"))[-2:]
    assert thanks == f"Спасибо за оценку заявки #{number}!"
    assert comment.startswith(f"Хотите что-то добавить о заявке #{number}?")
    assert f"Заявка #{number}: оценка 2/5 от Anna Ivanova." in texts(desk.new("boris"))
    assert texts(desk.new("gleb")) == [
        f"Низкая оценка 2/5 по заявке #{number} «{PRINTER}» (исполнитель: Boris Petrov)."
    ]
    assert desk.new("egor") == []  # another team's lead hears nothing
    row = await ticket_row(desk, number)
    assert (row["status"], row["csat"]) == (Status.CLOSED, 2)

    # a fair rating does not alert anyone
    await desk.press("anna", "Пропустить")  # no comment on the rating
    other = await open_ticket(desk, "anna", "не могу войти, забыл пароль")
    await desk.say("boris", f"/take {other}")
    await desk.say("boris", f"/resolve {other}")
    await desk.click("anna", "rate", other, "3")
    assert (await ticket_row(desk, other))["csat"] == 3
    assert desk.new("gleb") == []


# --- automatic assignment ---------------------------------------------------------------------


@pytest.fixture
async def hr_desk(request: pytest.FixtureRequest, db_url: str, clock: FakeClock) -> AsyncIterator[Desk]:
    """HR with two L1 agents, dina and fedor (dina first), under the policy given as param."""
    config = make_config(add_agents("hr", "L1", ["fedor"]), set_assignment("hr", request.param))
    async with open_desk(config, db_url, clock) as desk:
        yield desk


HR_REQUESTS = ["хочу в отпуск в декабре", "нужна справка о зарплате", "хочу отгул в пятницу", "где мой расчётный лист"]


async def assignees(desk: Desk, numbers: list[int]) -> list[str]:
    ids = {await person_id(desk, k): k for k in ("dina", "fedor")}
    return [ids.get((await ticket_row(desk, n))["assignee_id"], "nobody") for n in numbers]


@pytest.mark.parametrize("hr_desk", ["round_robin"], indirect=True)
async def test_round_robin_takes_turns_and_skips_agents_who_are_away(hr_desk: Desk) -> None:
    desk = hr_desk
    first = [await open_ticket(desk, "anna", text) for text in HR_REQUESTS[:3]]
    assert await assignees(desk, first) == ["dina", "fedor", "dina"]
    assert f"#{first[1]} was assigned to you: {HR_REQUESTS[1]}" in texts(desk.new("fedor"))
    events = await ticket_events(desk, first[0])
    assert [(e.action, e.actor_id, e.detail) for e in events if e.action == "assign"] == [("assign", None, "auto")]
    # turns do not depend on load: with dina's tickets done, it is still fedor's turn
    for number in (first[0], first[2]):
        await desk.say("dina", f"/resolve {number}")
    assert await assignees(desk, [await open_ticket(desk, "anna", HR_REQUESTS[3])]) == ["fedor"]

    await desk.say("dina", "/away")
    assert said(desk, "dina") == "You are away: no new assignments until /back."
    away = [await open_ticket(desk, "anna", text) for text in HR_REQUESTS[3:] + HR_REQUESTS[:1]]
    assert await assignees(desk, away) == ["fedor", "fedor"]

    await desk.say("fedor", "/away")
    nobody = await open_ticket(desk, "anna", HR_REQUESTS[1])
    assert await assignees(desk, [nobody]) == ["nobody"]
    assert (await ticket_row(desk, nobody))["status"] == Status.NEW

    await desk.say("dina", "/back")
    assert said(desk, "dina") == "Welcome back: you get assignments again."
    back = await open_ticket(desk, "anna", HR_REQUESTS[2])
    assert await assignees(desk, [back]) == ["dina"]


@pytest.mark.parametrize("hr_desk", ["least_loaded"], indirect=True)
async def test_least_loaded_gives_the_ticket_to_the_agent_with_fewest_open(hr_desk: Desk) -> None:
    desk = hr_desk
    one, two = [await open_ticket(desk, "anna", text) for text in HR_REQUESTS[:2]]
    assert await assignees(desk, [one, two]) == ["dina", "fedor"]  # a tie goes to the first
    await desk.say("fedor", f"/resolve {two}")  # fedor: 0 open, dina: 1
    three = await open_ticket(desk, "anna", HR_REQUESTS[2])
    four = await open_ticket(desk, "anna", HR_REQUESTS[3])
    # round-robin would have given #3 to dina (after fedor); least-loaded looks at the load
    assert await assignees(desk, [three, four]) == ["fedor", "dina"]


async def test_manual_assignment_leaves_new_tickets_in_the_queue(desk: Desk) -> None:
    number = await open_ticket(desk, "anna", PRINTER)  # IT is manual in the sample config
    row = await ticket_row(desk, number)
    assert (row["status"], row["assignee_id"]) == (Status.NEW, None)


async def test_auto_assignment_skips_agents_off_shift(config: Config, db_url: str, clock: FakeClock) -> None:
    clock.advance(days=5)  # Saturday 10:00 in Moscow: HR's calendar has mon–fri only
    async with open_desk(config, db_url, clock) as desk:
        number = await open_ticket(desk, "anna", HR_REQUESTS[0])
        row = await ticket_row(desk, number)
        assert (row["status"], row["assignee_id"]) == (Status.NEW, None)
