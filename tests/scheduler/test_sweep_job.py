"""``sweep_once`` on a real database (SQLite and PostgreSQL), with a fake clock.

Tickets are filed and handled through the real engine (the console platform: the IT
queue is boris's DM, the lead is gleb); the sweep runs as the scheduler would call it;
what people received is read from the recording sender. Every rule is shown acting once,
not again on the next sweep, not again after a restart (a new App on the same database),
and exactly once after a three-day outage.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlmodel import select

from bot.app import build
from bot.config import Config
from handlers.cards import format_time
from handlers.texts import translator
from scheduler import sweep
from scheduler.sweep import Action, sweep_once
from store import scheduled
from store.models import OutboxMessage, ScheduledAction, Status, Ticket, TicketEvent
from tests.support.clock import FakeClock
from tests.support.desk import Desk, RecordingSender
from tests.support.scenarios import FakeKb, count_rows, open_desk, open_ticket

ru, en = translator("ru"), translator("en")
PRINTER = "принтер не печатает на третьем этаже"


@pytest.fixture
async def desk(config: Config, db_url: str, clock: FakeClock) -> AsyncIterator[Desk]:
    async with open_desk(config, db_url, clock) as d:
        yield d


async def run_sweep(desk: Desk) -> list[Action]:
    """One sweep at the desk's (fake) time, then deliver what it wrote."""
    actions = await sweep_once(desk.app)
    while await desk.app.worker.deliver_pending():
        pass
    return actions


async def ticket(desk: Desk, number: int) -> Ticket:
    async with desk.app.db.transaction() as s:
        row = await s.get(Ticket, number)
        assert row is not None
        return row


async def recorded(desk: Desk) -> list[ScheduledAction]:
    async with desk.app.db.transaction() as s:
        return await scheduled.actions_of(s)


async def file_printer(desk: Desk) -> int:
    number = await open_ticket(desk, "anna", PRINTER)
    for who in ("anna", "boris", "gleb", "vera"):
        desk.new(who)  # what filing sent is not what these tests look at
    return number


async def test_unclaimed_ticket_is_reposted_then_the_lead_is_mentioned(desk: Desk, clock: FakeClock) -> None:
    n = await file_printer(desk)
    clock.advance(minutes=29)
    assert await run_sweep(desk) == []
    clock.advance(minutes=1)
    acts = await run_sweep(desk)
    assert [(a.kind, a.ticket_id) for a in acts] == [(sweep.REPOST, n)]
    ping = desk.new("boris")  # boris is IT's L1: the queue on a platform without a team chat
    assert len(ping) == 1 and f"#{n}" in ping[0].text and ru("btn_claim") in ping[0].labels()
    assert [r.key for r in await recorded(desk)] == [acts[0].key]
    clock.advance(minutes=1)
    assert await run_sweep(desk) == [] and desk.new("boris") == []

    clock.advance(minutes=90)  # 2h after filing
    acts = await run_sweep(desk)
    assert [a.kind for a in acts] == [sweep.LEAD]
    queue = desk.new("boris")
    assert len(queue) == 1 and "Gleb Orlov" in queue[0].text  # the lead is named in the queue
    told = desk.new("gleb")
    assert len(told) == 1 and f"#{n}" in told[0].text

    # Claimed from the re-post: no more pings about it.
    await desk.press("boris", ru("btn_claim"))
    clock.advance(hours=1)
    assert [a for a in await run_sweep(desk) if a.kind in (sweep.REPOST, sweep.LEAD)] == []


async def test_no_repeat_after_a_restart(config: Config, db_url: str, clock: FakeClock, desk: Desk) -> None:
    n = await file_printer(desk)
    clock.advance(minutes=45)
    assert [a.kind for a in await run_sweep(desk)] == [sweep.REPOST]
    outbox_before = await count_rows(desk, OutboxMessage)
    # A new process on the same database (its own App, engine and worker).
    again = build(config, senders={"console": RecordingSender()}, database_url=db_url, clock=clock, kb=FakeKb())
    await again.start()
    try:
        assert await sweep_once(again) == []
        clock.advance(minutes=1)
        assert await sweep_once(again) == []
    finally:
        await again.close()
    assert await count_rows(desk, OutboxMessage) == outbox_before
    assert [r.kind for r in await recorded(desk)] == [sweep.REPOST]
    assert (await ticket(desk, n)).status == Status.NEW


async def test_exactly_one_catch_up_after_a_three_day_outage(config: Config, db_url: str, desk: Desk,
                                                             clock: FakeClock) -> None:
    n = await file_printer(desk)
    waiting = await open_ticket(desk, "dina", "не работает почта outlook")
    await desk.click("boris", "claim", waiting)
    await desk.say("boris", "Что пишет Outlook?", ticket_id=waiting)
    for who in ("anna", "dina", "boris", "gleb", "vera"):
        desk.new(who)
    clock.advance(days=3)  # no sweep ran for three days: every stage of every rule is long due
    acts = await run_sweep(desk)
    assert sorted((a.ticket_id, a.kind) for a in acts) == [(n, sweep.BREACH), (waiting, sweep.REMIND)]
    row = await ticket(desk, n)
    assert row.tier == "L2" and row.status == Status.NEW  # escalated once
    rows = await recorded(desk)
    assert sorted(r.kind for r in rows if r.kind != sweep.COVERED) == [sweep.BREACH, sweep.REMIND]
    covered = {r.key.rsplit(":", 1)[-1] for r in rows if r.kind == sweep.COVERED}
    assert {"repost", "lead"} <= covered  # the pings the escalation stood for: recorded, never sent late
    assert len([m for m in desk.new("gleb") if f"#{n}" in m.text]) == 1  # one alert to the lead
    assert len(desk.new("dina")) == 1  # one reminder, not one per missed minute
    assert (await ticket(desk, waiting)).status == Status.WAITING  # reminded first, not resolved unwarned
    outbox = await count_rows(desk, OutboxMessage)
    clock.advance(minutes=1)
    assert await run_sweep(desk) == []
    again = build(config, senders={"console": RecordingSender()}, database_url=db_url, clock=clock, kb=FakeKb())
    await again.start()
    try:
        assert await sweep_once(again) == []  # and not after a restart either
    finally:
        await again.close()
    assert await count_rows(desk, OutboxMessage) == outbox


async def test_assignee_is_told_before_and_after_the_first_response_due(desk: Desk, clock: FakeClock) -> None:
    n = await file_printer(desk)
    await desk.click("boris", "claim", n)
    desk.new("boris")
    due = (await ticket(desk, n)).first_response_due
    assert due is not None
    clock.now = due - timedelta(minutes=49)  # 80% of the 4-hour window: 48 minutes before due
    assert [a.kind for a in await run_sweep(desk) if a.ticket_id == n] == []
    clock.advance(minutes=1)
    assert [a.kind for a in await run_sweep(desk) if a.ticket_id == n] == [sweep.NEAR]
    near = desk.new("boris")
    when = format_time(due, desk.app.config, "ru", team="it")
    assert [m.text for m in near] == [ru("sweep_response_near", n=n, subject=PRINTER, due=when)]
    clock.now = due
    assert [a.kind for a in await run_sweep(desk) if a.ticket_id == n] == [sweep.OVERDUE]
    assert [m.text for m in desk.new("boris")] == [ru("sweep_response_overdue", n=n, subject=PRINTER, due=when)]
    assert [a for a in await run_sweep(desk) if a.ticket_id == n] == []


async def test_sla_breach_escalates_one_staffed_tier_and_alerts_the_lead(desk: Desk, clock: FakeClock) -> None:
    n = await file_printer(desk)
    due = (await ticket(desk, n)).first_response_due
    assert due is not None
    clock.now = due + timedelta(minutes=29)
    assert sweep.BREACH not in [a.kind for a in await run_sweep(desk)]
    desk.new("gleb")  # the unclaimed mention of the lead came first
    clock.now = due + timedelta(minutes=30)
    assert [a.kind for a in await run_sweep(desk)] == [sweep.BREACH]
    row = await ticket(desk, n)
    assert row.tier == "L2" and row.assignee_id is None
    assert any(f"#{n}" in m.text for m in desk.new("vera"))  # L2 sees the card
    alert = desk.new("gleb")
    assert len(alert) == 1 and "L1 → L2" in alert[0].text
    async with desk.app.db.transaction() as s:
        ev = (await s.exec(select(TicketEvent).where(TicketEvent.ticket_id == n, TicketEvent.action == "escalate"))).one()
    assert ev.actor_id is None and ev.to_value == "L2"  # the desk did it, not a person
    # IT has no L3 agents: the resolution breach later cannot escalate; the lead is told it stays.
    clock.now = row.resolution_due + timedelta(days=1)  # type: ignore[operator]
    acts = [a for a in await run_sweep(desk) if a.kind == sweep.BREACH]
    assert [a.detail["what"] for a in acts] == ["resolution"]
    assert (await ticket(desk, n)).tier == "L2"
    assert any("L2" in m.text and "🚨" in m.text for m in desk.new("gleb"))


async def test_waiting_requester_is_reminded_then_resolved_and_can_reopen(desk: Desk, clock: FakeClock) -> None:
    n = await file_printer(desk)
    await desk.click("boris", "claim", n)
    await desk.say("boris", "Какая модель принтера?", ticket_id=n)
    assert (await ticket(desk, n)).status == Status.WAITING
    desk.new("anna")
    clock.advance(days=2)  # Wednesday 10:00: two business days
    assert [a.kind for a in await run_sweep(desk)] == [sweep.REMIND]
    remind = desk.new("anna")
    assert [m.text for m in remind] == [ru("sweep_waiting_remind", n=n, subject=PRINTER, after="3 рабочих дня")]
    clock.advance(days=2)  # Friday: only two business days after the reminder
    assert [a for a in await run_sweep(desk) if a.ticket_id == n] == []
    clock.advance(days=3)  # the next Monday 10:00: three business days after the reminder
    assert [a.kind for a in await run_sweep(desk)] == [sweep.AUTO_RESOLVE]
    row = await ticket(desk, n)
    assert row.status == Status.RESOLVED and row.resolution_note == en("sweep_auto_resolved_note")
    note = desk.last("anna")
    assert ru("btn_reopen") in note.labels()
    await desk.press("anna", ru("btn_reopen"))
    assert (await ticket(desk, n)).status == Status.CLAIMED


async def test_resolved_without_a_rating_is_closed(desk: Desk, clock: FakeClock) -> None:
    n = await file_printer(desk)
    await desk.click("boris", "claim", n)
    await desk.say("boris", f"/resolve {n} заменили картридж")
    clock.advance(days=3)  # Thursday 10:00: three business days
    acts = await run_sweep(desk)
    assert [a.kind for a in acts] == [sweep.CLOSE]
    row = await ticket(desk, n)
    assert row.status == Status.CLOSED and row.csat is None
    assert await run_sweep(desk) == []


async def test_lead_is_told_who_went_off_shift_or_away_holding_tickets(desk: Desk, clock: FakeClock) -> None:
    n = await file_printer(desk)
    await desk.click("boris", "claim", n)
    await desk.say("boris", "Уже смотрю", ticket_id=n)
    desk.new("gleb")
    clock.advance(hours=8, minutes=1)  # Monday 18:01 Moscow: boris's shift is over
    acts = [a for a in await run_sweep(desk) if a.kind == sweep.OFF_SHIFT]
    assert [a.key for a in acts] == ["off_shift:it:boris:20261130T150000Z"]
    told = desk.new("gleb")
    assert len(told) == 1 and f"#{n}" in told[0].text and "Boris Petrov" in told[0].text
    clock.advance(hours=3)
    assert [a for a in await run_sweep(desk) if a.kind == sweep.OFF_SHIFT] == []

    clock.advance(hours=13)  # Tuesday 10:01: on shift, then /away
    await desk.say("boris", "/away")
    acts = [a for a in await run_sweep(desk) if a.kind == sweep.AWAY]
    assert len(acts) == 1
    assert any(f"#{n}" in m.text for m in desk.new("gleb"))
    assert [a for a in await run_sweep(desk) if a.kind == sweep.AWAY] == []


async def test_two_sweeps_at_once_take_each_action_once(desk: Desk, clock: FakeClock) -> None:
    await file_printer(desk)
    clock.advance(minutes=31)
    first, second = await asyncio.gather(sweep_once(desk.app), sweep_once(desk.app))
    assert len(first) + len(second) == 1


async def test_a_key_taken_by_another_process_rolls_the_action_back(desk: Desk, clock: FakeClock,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    await file_printer(desk)
    clock.advance(minutes=31)
    outbox = await count_rows(desk, OutboxMessage)
    # Another process took the action after this one planned it (its done list is stale).
    async with desk.app.db.transaction() as s:
        snap = await sweep.load(s, desk.app.config)
    action = sweep.plan(snap.tickets, clock.now, sweep.Rules(desk.app.config))[0]
    async with desk.app.db.transaction() as s:
        await scheduled.record(s, [scheduled.Record(action.key, action.kind, action.ticket_id, "it", clock.now, {})],
                               clock.now)

    async def stale(s: object, ids: object) -> dict[str, object]:
        return {}

    monkeypatch.setattr(scheduled, "done_for_tickets", stale)
    assert await sweep_once(desk.app) == []  # the unique key refused it: nothing sent
    assert await count_rows(desk, OutboxMessage) == outbox
    assert len(await recorded(desk)) == 1


async def test_a_sweep_change_refreshes_slack_homes(config: Config, sqlite_url: str, clock: FakeClock) -> None:
    """On a desk that serves Slack, the sweep's changes go through the App Home refresh too
    (a person who opened their Home gets it again when the sweep escalates their ticket)."""
    from handlers.events import Incoming

    slack = RecordingSender(platform="slack")
    app = build(config, senders={"console": RecordingSender(), "slack": slack}, database_url=sqlite_url,
                clock=clock, kb=FakeKb())
    await app.start()
    try:
        desk = await Desk.open(app)
        n = await file_printer(desk)
        await app.engine.handle(Incoming(platform="slack", chat_id="D0ANNA", user_id="U0000ANNA",
                                         event_key="home-open", signal="home"))
        while await app.worker.deliver_pending():
            pass
        def homes() -> int:  # a Home is addressed to the account itself
            return len([m for m in slack.messages if m.chat == "U0000ANNA"])

        opened = homes()
        assert opened >= 1
        clock.advance(days=1)
        assert [a.kind for a in await run_sweep(desk)] == [sweep.BREACH]
        assert (await ticket(desk, n)).tier == "L2"
        assert homes() == opened + 1  # anna's Home was published again, once
    finally:
        await app.close()


async def test_a_ticket_claimed_after_the_plan_is_not_pinged(desk: Desk, clock: FakeClock) -> None:
    n = await file_printer(desk)
    clock.advance(minutes=31)
    rules = sweep.Rules(desk.app.config)
    async with desk.app.db.transaction() as s:
        snap = await sweep.load(s, desk.app.config)
    [action] = sweep.plan(snap.tickets, clock.now, rules, done=snap.done)
    await desk.click("boris", "claim", n)  # between the plan and its action
    outbox = await count_rows(desk, OutboxMessage)
    assert await sweep._apply(desk.app, rules, action, clock.now) is False  # re-planned on the locked row
    assert await count_rows(desk, OutboxMessage) == outbox and await recorded(desk) == []
