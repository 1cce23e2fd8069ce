"""Agents' workflow (issue 7 §2): escalation to staffed tiers with a reason, duplicate check by
text, queue order, search and the full history. Runs on SQLite and PostgreSQL (``db_url``).

People (sample config): anna — employee (ru); IT: boris L1 (ru), vera L2 (en), gleb lead (ru).
"""

from __future__ import annotations

import re

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.config import Config
from handlers import requester as rq
from store import conversations
from store.models import MessageKind, Status
from tests.support.clock import FakeClock
from tests.support.desk import Desk
from tests.support.scenarios import make_config, open_desk, open_ticket, ticket_events, ticket_messages, ticket_row

PRINTER = "принтер не печатает"


@pytest.fixture
async def desk(config: Config, db_url: str, clock: FakeClock) -> AsyncIterator[Desk]:
    async with open_desk(config, db_url, clock) as desk:
        yield desk


def it_l2_empty_l3_vera(data: dict[str, Any]) -> None:
    data["teams"]["it"]["tiers"]["L2"] = []
    data["teams"]["it"]["tiers"]["L3"] = ["vera"]


async def conv_state(desk: Desk, who: str) -> tuple[str, dict[str, Any]]:
    async with desk.app.db.transaction() as s:
        conv = await conversations.load(s, "console", who, who)
        return conv.state, dict(conv.data)


# --- duplicate check -----------------------------------------------------------------------------


async def test_same_category_with_different_text_is_not_a_duplicate(desk: Desk) -> None:
    first = await open_ticket(desk, "anna", "my laptop won't turn on")
    await desk.say("anna", "my monitor keeps flickering, urgent")
    if "open_ticket" in [b.action for b in desk.last("anna").buttons]:
        await desk.click("anna", "open_ticket")  # the KB offers the printer article first
    await desk.click("anna", "cat_ok")  # same category (hardware) as the first ticket
    labels = desk.last("anna").labels()
    assert not any("#" in label for label in labels)  # no "Add to #1"
    second = await ticket_row(desk, first + 1)
    assert (second["category"], second["subject"]) == ("hardware", "my monitor keeps flickering, urgent")


async def test_similar_text_is_still_offered_as_a_duplicate(desk: Desk) -> None:
    first = await open_ticket(desk, "anna", "my laptop won't turn on")
    await desk.say("anna", "my laptop won't turn on again")
    await desk.click("anna", "cat_ok")
    assert [b.action for b in desk.last("anna").buttons] == ["dup_add", "dup_new"]
    assert desk.last("anna").buttons[0].ticket_id == first


# --- escalation ----------------------------------------------------------------------------------


async def test_escalate_with_a_reason_in_one_go_keeps_it_and_tells_the_requester(desk: Desk) -> None:
    number = await open_ticket(desk, "anna", PRINTER)
    await desk.say("boris", f"/take {number}")
    desk.new("anna")
    await desk.say("boris", f"/escalate {number} драйвер не ставится")
    row = await ticket_row(desk, number)
    assert (row["tier"], row["status"], row["assignee_id"]) == ("L2", Status.NEW, None)
    [event] = [e for e in await ticket_events(desk, number) if e.action == "escalate"]
    assert (event.from_value, event.to_value, event.detail) == ("L1", "L2", "драйвер не ставится")
    system = [m.text for m in await ticket_messages(desk, number) if m.kind == MessageKind.SYSTEM]
    assert system == ["escalate L1 → L2: драйвер не ставится"]
    told = [m.text for m in desk.new("anna")]
    assert told == [f"Ваша заявка #{number} передана специалисту. Мы свяжемся с вами."]
    assert not any("L2" in text or "Vera" in text or "драйвер" in text for text in told)


async def test_escalate_without_text_asks_for_a_reason_and_the_next_text_is_it(desk: Desk) -> None:
    number = await open_ticket(desk, "anna", PRINTER)
    await desk.say("boris", f"/take {number}")
    await desk.say("boris", f"/escalate {number}")
    prompt = desk.last("boris")
    assert prompt.text == f"Причина эскалации #{number} (одной строкой) или «Пропустить»"
    assert prompt.labels() == ["Пропустить"]
    assert await conv_state(desk, "boris") == (rq.ESCALATE_REASON, {"ticket": number})
    assert (await ticket_row(desk, number))["tier"] == "L1"

    await desk.say("boris", "нужен админ")

    assert (await ticket_row(desk, number))["tier"] == "L2"
    [event] = [e for e in await ticket_events(desk, number) if e.action == "escalate"]
    assert event.detail == "нужен админ"
    assert (await conv_state(desk, "boris"))[0] == rq.IDLE


async def test_escalate_skip_escalates_without_a_reason(desk: Desk) -> None:
    number = await open_ticket(desk, "anna", PRINTER)
    await desk.say("boris", f"/take {number}")
    await desk.click("boris", "escalate", number)
    await desk.press("boris", "Пропустить")
    [event] = [e for e in await ticket_events(desk, number) if e.action == "escalate"]
    assert (event.to_value, event.detail) == ("L2", None)


async def test_escalation_skips_an_unstaffed_tier(db_url: str, clock: FakeClock) -> None:
    async with open_desk(make_config(it_l2_empty_l3_vera), db_url, clock) as desk:
        number = await open_ticket(desk, "anna", PRINTER)
        await desk.say("boris", f"/take {number}")
        await desk.say("boris", f"/escalate {number} срочно")
        row = await ticket_row(desk, number)
        assert (row["tier"], row["status"]) == ("L3", Status.NEW)
        [event] = [e for e in await ticket_events(desk, number) if e.action == "escalate"]
        assert (event.from_value, event.to_value) == ("L1", "L3")
        cards = [m for m in desk.new("vera") if m.ticket_id == number and m.text.startswith(f"#{number} [")]
        assert cards and "· L3" in cards[-1].text
        assert "Escalate" not in cards[-1].labels()  # the top tier: nothing to escalate to


async def test_escalation_with_no_staffed_tier_above_is_refused_and_changes_nothing(desk: Desk) -> None:
    number = await open_ticket(desk, "anna", PRINTER)
    await desk.say("boris", f"/escalate {number} x")  # L1 → L2
    await desk.say("vera", f"/take {number}")
    before = await ticket_row(desk, number)
    await desk.say("vera", f"/escalate {number} need L3")  # IT has nobody at L3
    assert desk.last("vera").text == f"Not allowed: #{number} cannot be escalated: no tier above L2 has agents."
    assert await ticket_row(desk, number) == before
    await desk.click("vera", "escalate", number)  # a stale button: refused the same, no prompt
    assert (await conv_state(desk, "vera"))[0] == rq.IDLE
    assert await ticket_row(desk, number) == before


async def test_card_has_no_escalate_button_when_no_higher_tier_is_staffed(desk: Desk) -> None:
    number = await open_ticket(desk, "anna", "my laptop screen is black")  # hardware → IT, L1
    l1 = [m for m in desk.new("boris") if m.ticket_id == number and m.text.startswith(f"#{number} [")]
    assert "Эскалировать" in l1[-1].labels()
    await desk.say("boris", f"/escalate {number} x")
    l2 = [m for m in desk.new("vera") if m.ticket_id == number and m.text.startswith(f"#{number} [")]
    assert "Escalate" not in l2[-1].labels()


# --- resolution note -----------------------------------------------------------------------------


async def test_resolve_button_asks_for_a_note_and_the_next_text_is_kept(desk: Desk) -> None:
    number = await open_ticket(desk, "anna", PRINTER)
    await desk.say("boris", f"/take {number}")
    await desk.click("boris", "resolve", number)
    assert desk.last("boris").text == f"Что сделано по заявке #{number} (одной строкой) или «Пропустить»"
    assert await conv_state(desk, "boris") == (rq.RESOLVE_NOTE, {"ticket": number})
    assert (await ticket_row(desk, number))["status"] == Status.CLAIMED

    await desk.say("boris", "заменил  картридж\n")

    row = await ticket_row(desk, number)
    assert (row["status"], row["resolution_note"]) == (Status.RESOLVED, "заменил картридж")
    [event] = [e for e in await ticket_events(desk, number) if e.action == "resolve"]
    assert event.detail == "заменил картридж"


async def test_resolve_in_one_go_and_skip(desk: Desk) -> None:
    one = await open_ticket(desk, "anna", PRINTER)
    two = await open_ticket(desk, "anna", "my laptop won't turn on")
    await desk.say("boris", f"/take {one}")
    await desk.say("boris", f"/take {two}")
    await desk.say("boris", f"/resolve {one} перезапустил спулер")
    assert (await ticket_row(desk, one))["resolution_note"] == "перезапустил спулер"
    await desk.click("boris", "resolve", two)
    await desk.press("boris", "Пропустить")
    row = await ticket_row(desk, two)
    assert (row["status"], row["resolution_note"]) == (Status.RESOLVED, None)


async def test_a_refused_resolve_asks_nothing(desk: Desk) -> None:
    number = await open_ticket(desk, "anna", PRINTER)
    await desk.say("boris", f"/take {number}")
    await desk.click("vera", "resolve", number)  # not the owner
    assert (await conv_state(desk, "vera"))[0] == rq.IDLE
    assert (await ticket_row(desk, number))["status"] == Status.CLAIMED


# --- /queue order --------------------------------------------------------------------------------


async def test_queue_lists_by_priority_then_sla_due(desk: Desk, clock: FakeClock) -> None:
    normal_old = await open_ticket(desk, "anna", PRINTER)
    clock.advance(minutes=5)
    urgent = await open_ticket(desk, "anna", "ноутбук сломался, срочно")
    clock.advance(minutes=5)
    normal_new = await open_ticket(desk, "anna", "my laptop won't turn on")
    rows = {n: await ticket_row(desk, n) for n in (normal_old, urgent, normal_new)}
    priorities = list(desk.app.config.priorities)  # low … urgent
    assert priorities.index(rows[urgent]["priority"]) > priorities.index(rows[normal_old]["priority"])
    assert rows[normal_old]["priority"] == rows[normal_new]["priority"]

    await desk.say("boris", "/queue")

    numbers = [line.split()[0] for line in desk.last("boris").text.splitlines()[1:]]
    assert numbers == [f"#{urgent}", f"#{normal_old}", f"#{normal_new}"]


# --- /ticket N: the whole history ----------------------------------------------------------------


async def test_ticket_shows_the_whole_history_in_order_with_times(desk: Desk, clock: FakeClock) -> None:
    number = await open_ticket(desk, "anna", PRINTER)
    steps = [
        ("boris", f"/take {number}"),
        ("boris", f"/reply {number} Какая модель?"),
        ("anna", f"/reply {number} HP 1020"),
        ("boris", f"/escalate {number} нужен драйвер"),
        ("vera", f"/take {number}"),
        ("gleb", f"/assign {number} boris"),
        ("boris", f"/resolve {number} поставил драйвер"),
    ]
    for who, command in steps:
        clock.advance(minutes=1)
        await desk.say(who, command)
    clock.advance(minutes=1)
    await desk.click("anna", "reopen", number)
    clock.advance(minutes=1)
    await desk.say("boris", f"/resolve {number}")
    clock.advance(minutes=1)
    await desk.click("anna", "rate", number, "4")

    await desk.say("vera", f"/ticket {number}")

    text = desk.last("vera").text
    history = text.split("History:\n", 1)[1].splitlines()
    body = [re.sub(r"^.*? MSK ", "", line, count=1) for line in history]  # drop "Nov 30 10:00 AM MSK"
    assert body == [
        "Anna Ivanova: принтер не печатает",
        "Boris Petrov: took the ticket",
        "Boris Petrov: Какая модель?",
        "Anna Ivanova: HP 1020",
        "Boris Petrov: escalated L1 → L2 — нужен драйвер",
        "Vera Sokolova: took the ticket",
        "Gleb Orlov: assigned to Boris Petrov",
        "Boris Petrov: resolved — поставил драйвер",
        "Anna Ivanova: reopened",
        "Boris Petrov: resolved",
        "Anna Ivanova: rated 4/5",
    ]
    times = [line[:16] for line in history]
    assert times == sorted(times) and times[0] != times[-1]


# --- /find ---------------------------------------------------------------------------------------


async def test_find_searches_subjects_and_messages_of_the_agents_teams(desk: Desk) -> None:
    printer = await open_ticket(desk, "anna", PRINTER)
    laptop = await open_ticket(desk, "anna", "my laptop won't turn on")
    hr = await open_ticket(desk, "anna", "хочу в отпуск в декабре")  # HR
    await desk.say("anna", f"/reply {laptop} модель Lenovo T14, 100% заряд")
    await desk.say("anna", f"/reply {hr} Lenovo не нужен")

    await desk.say("boris", "/find lenovo")
    assert [line.split()[0] for line in desk.last("boris").text.splitlines()[1:]] == [f"#{laptop}"]
    await desk.say("boris", "/find Принтер")
    assert [line.split()[0] for line in desk.last("boris").text.splitlines()[1:]] == [f"#{printer}"]
    await desk.say("boris", "/find 100%")
    assert [line.split()[0] for line in desk.last("boris").text.splitlines()[1:]] == [f"#{laptop}"]
    await desk.say("boris", "/find 10_%")  # LIKE wildcards are literal
    assert desk.last("boris").text == "Ничего не найдено."
    await desk.say("dina", "/find lenovo")  # HR sees only HR
    assert [line.split()[0] for line in desk.last("dina").text.splitlines()[1:]] == [f"#{hr}"]


async def test_find_is_for_agents_only(desk: Desk) -> None:
    await open_ticket(desk, "anna", PRINTER)
    await desk.say("anna", "/find принтер")
    assert "#1" not in desk.last("anna").text
    assert desk.last("anna").text.startswith("Нельзя")
    await desk.say("boris", "/find")
    assert "/find TEXT" in desk.last("boris").text


# --- CSAT comment --------------------------------------------------------------------------------


async def test_after_rating_the_requester_may_comment_and_staff_hear_it(desk: Desk) -> None:
    number = await open_ticket(desk, "anna", PRINTER)
    await desk.say("boris", f"/take {number}")
    await desk.say("boris", f"/resolve {number}")
    await desk.click("anna", "rate", number, "2")
    assert desk.last("anna").labels() == ["Пропустить"]
    assert await conv_state(desk, "anna") == (rq.CSAT_COMMENT, {"ticket": number})
    desk.new("boris")

    await desk.say("anna", "долго ждала")

    assert (await ticket_row(desk, number))["csat_comment"] == "долго ждала"
    assert (await conv_state(desk, "anna"))[0] == rq.IDLE
    assert any("долго ждала" in m.text for m in desk.new("boris"))
    assert any("долго ждала" in m.text for m in desk.new("gleb"))
    await desk.say("vera", f"/ticket {number}")
    assert "Anna Ivanova: commented on the rating — долго ждала" in desk.last("vera").text


async def test_csat_comment_can_be_skipped(desk: Desk) -> None:
    number = await open_ticket(desk, "anna", PRINTER)
    await desk.say("boris", f"/take {number}")
    await desk.say("boris", f"/resolve {number}")
    await desk.click("anna", "rate", number, "5")
    await desk.press("anna", "Пропустить")
    assert (await ticket_row(desk, number))["csat_comment"] is None
    assert (await conv_state(desk, "anna"))[0] == rq.IDLE
