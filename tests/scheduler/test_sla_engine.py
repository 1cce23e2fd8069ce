"""SLA due times through the real engine, on SQLite and PostgreSQL.

The sample IT team works 09:00–18:00 Moscow time, Monday to Friday (Russian holidays
off); ``normal`` is 4h to the first response and 2d (48 working hours) to resolution.
The desk's clock starts on Monday 30 November 2026, 10:00 in Moscow. Expected instants
are counted by hand in the comments.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.config import Config
from store.models import Status
from tests.support.clock import FakeClock
from tests.support.desk import Desk
from tests.support.scenarios import (
    add_agents,
    make_config,
    open_desk,
    open_ticket,
    person_id,
    set_assignment,
    ticket_events,
    ticket_row,
)

MOSCOW = ZoneInfo("Europe/Moscow")
VPN = "не работает VPN"


def msk(*args: int) -> datetime:
    return datetime(*args, tzinfo=MOSCOW)


@pytest.fixture
async def desk(config: Config, db_url: str, clock: FakeClock) -> AsyncIterator[Desk]:
    async with open_desk(config, db_url, clock) as desk:
        yield desk


async def test_filed_on_tuesday_night_the_first_response_is_due_wednesday_at_1300(
    config: Config, db_url: str
) -> None:
    clock = FakeClock(msk(2026, 12, 1, 23, 15))
    async with open_desk(config, db_url, clock) as desk:
        number = await open_ticket(desk, "anna", VPN)
        row = await ticket_row(desk, number)
        assert row["first_response_due"] == msk(2026, 12, 2, 13, 0)
        # "2d" is two working days (of 9 hours) from Wed 09:00: the end of Thursday
        assert row["resolution_due"] == msk(2026, 12, 3, 18, 0)
        assert any("2 дек. 13:00 MSK" in m.text for m in desk.received("anna"))


async def test_a_priority_change_recomputes_the_due_times(desk: Desk, clock: FakeClock) -> None:
    number = await open_ticket(desk, "anna", VPN)  # normal, Mon 10:00
    clock.advance(hours=1)
    await desk.say("boris", f"/priority {number} high")

    row = await ticket_row(desk, number)
    # high: 1h and 8h from filing (Mon 10:00), not from the change
    assert (row["priority"], row["first_response_due"], row["resolution_due"]) == (
        "high", msk(2026, 11, 30, 11, 0), msk(2026, 11, 30, 18, 0))
    [event] = [e for e in await ticket_events(desk, number) if e.action == "priority"]
    assert (event.from_value, event.to_value, event.actor_id) == ("normal", "high", await person_id(desk, "boris"))
    assert event.detail is not None and "resolution_due=2026-11-30T15:00" in event.detail  # UTC
    assert any(f"#{number}: приоритет теперь Высокий" in m.text for m in desk.received("boris"))


async def test_a_priority_change_is_refused_for_strangers_and_unknown_priorities(desk: Desk) -> None:
    number = await open_ticket(desk, "anna", VPN)
    before = await ticket_row(desk, number)
    await desk.say("boris", f"/priority {number} critical")
    assert "Нет приоритета «critical»" in desk.last("boris").text
    await desk.say("dina", f"/priority {number} urgent")  # HR, not IT
    assert await ticket_row(desk, number) == before


async def test_waiting_on_the_requester_pauses_the_resolution_clock(desk: Desk, clock: FakeClock) -> None:
    number = await open_ticket(desk, "anna", VPN)  # Mon 10:00; "2d": resolution due Wed 2 Dec 10:00
    assert (await ticket_row(desk, number))["resolution_due"] == msk(2026, 12, 2, 10, 0)
    await desk.say("boris", f"/take {number}")
    clock.advance(hours=1)  # Mon 11:00
    await desk.say("boris", f"/reply {number} Перезагрузите ноутбук, пожалуйста")

    row = await ticket_row(desk, number)
    assert (row["status"], row["sla_paused_at"]) == (Status.WAITING, msk(2026, 11, 30, 11, 0))

    clock.advance(days=1)  # Tue 11:00: Mon 11–18 and Tue 09–11 waited, 9 working hours
    await desk.say("anna", f"/reply {number} Не помогло")

    row = await ticket_row(desk, number)
    assert (row["status"], row["sla_paused_at"], row["sla_paused_minutes"]) == (Status.CLAIMED, None, 9 * 60)
    assert row["resolution_due"] == msk(2026, 12, 3, 10, 0)  # a working day later
    assert row["first_response_due"] == msk(2026, 11, 30, 14, 0)  # untouched


async def test_a_release_while_waiting_also_ends_the_pause(desk: Desk, clock: FakeClock) -> None:
    number = await open_ticket(desk, "anna", VPN)
    await desk.say("boris", f"/take {number}")
    await desk.say("boris", f"/reply {number} Какая ошибка на экране?")
    clock.advance(hours=2)  # Mon 12:00
    await desk.say("boris", f"/release {number}")

    row = await ticket_row(desk, number)
    assert (row["status"], row["sla_paused_at"], row["sla_paused_minutes"]) == (Status.NEW, None, 120)
    assert row["resolution_due"] == msk(2026, 12, 2, 12, 0)


async def test_a_reopen_recomputes_without_the_time_it_was_resolved(desk: Desk, clock: FakeClock) -> None:
    number = await open_ticket(desk, "anna", VPN)  # resolution due Wed 2 Dec 10:00
    await desk.say("boris", f"/take {number}")
    clock.advance(hours=2)  # Mon 12:00
    await desk.say("boris", f"/resolve {number}")
    clock.advance(days=1)  # Tue 12:00: resolved for Mon 12–18 and Tue 09–12, 9 working hours
    await desk.click("anna", "reopen", number)

    row = await ticket_row(desk, number)
    assert (row["status"], row["sla_paused_minutes"]) == (Status.CLAIMED, 9 * 60)
    assert row["resolution_due"] == msk(2026, 12, 3, 10, 0)
    [event] = [e for e in await ticket_events(desk, number) if e.action == "reopen"]
    assert event.detail is not None and "resolution_due=2026-12-03T07:00+00:00 paused_minutes=540" in event.detail


# --- shift-aware auto-assignment -------------------------------------------------------------------

HR_REQUESTS = ["хочу в отпуск в декабре", "нужна справка о зарплате", "хочу отгул в пятницу"]


def evening_agent(data: dict[str, object]) -> None:
    data["people"]["fedor"]["shift"] = {"hours": "14:00-23:00"}  # type: ignore[index]


@pytest.fixture
async def hr_desk(db_url: str, clock: FakeClock) -> AsyncIterator[Desk]:
    """HR round-robin between dina (sample shift 08:00–17:00) and fedor (14:00–23:00)."""
    config = make_config(add_agents("hr", "L1", ["fedor"]), evening_agent, set_assignment("hr", "round_robin"))
    async with open_desk(config, db_url, clock) as desk:
        yield desk


async def assignee(desk: Desk, number: int) -> str:
    ids = {await person_id(desk, k): k for k in ("dina", "fedor")}
    return ids.get((await ticket_row(desk, number))["assignee_id"], "nobody")


async def test_auto_assignment_picks_only_agents_on_their_shift(hr_desk: Desk, clock: FakeClock) -> None:
    desk = hr_desk
    morning = [await open_ticket(desk, "anna", text) for text in HR_REQUESTS[:2]]  # Mon 10:00
    assert [await assignee(desk, n) for n in morning] == ["dina", "dina"]  # fedor starts at 14:00

    clock.advance(hours=5)  # 15:00: both on shift, round-robin takes turns again
    both = [await open_ticket(desk, "anna", text) for text in HR_REQUESTS[:2]]
    assert sorted([await assignee(desk, n) for n in both]) == ["dina", "fedor"]

    clock.advance(hours=5)  # 20:00: only fedor
    assert await assignee(desk, await open_ticket(desk, "anna", HR_REQUESTS[2])) == "fedor"

    clock.advance(hours=4)  # Tue 00:00: nobody is on shift; the ticket waits in the queue
    late = await open_ticket(desk, "anna", HR_REQUESTS[0])
    row = await ticket_row(desk, late)
    assert (row["status"], row["assignee_id"]) == (Status.NEW, None)


async def test_a_reopen_after_a_resolve_outside_the_engine_counts_no_minute_twice(desk: Desk, clock: FakeClock) -> None:
    from store import tickets

    number = await open_ticket(desk, "anna", VPN)  # resolution due Wed 2 Dec 10:00
    await desk.say("boris", f"/take {number}")
    await desk.say("boris", f"/reply {number} Попробуйте ещё раз")  # waiting from Mon 10:00
    clock.advance(hours=3)  # Mon 13:00: a job resolves it in its own transaction, pause left open
    boris = await person_id(desk, "boris")
    async with desk.app.db.transaction() as s:
        ticket = await tickets.get_ticket(s, number, for_update=True)
        assert ticket is not None and ticket.sla_paused_at is not None
        await tickets.resolve_ticket(s, ticket, boris, clock.now, note="auto")
    clock.advance(days=1)  # Tue 13:00
    await desk.click("anna", "reopen", number)

    row = await ticket_row(desk, number)
    # waited Mon 10–13 (3h), resolved Mon 13–18 and Tue 09–13 (9h): 12 working hours once
    assert (row["sla_paused_at"], row["sla_paused_minutes"]) == (None, 12 * 60)
    assert row["resolution_due"] == msk(2026, 12, 3, 13, 0)
