"""End to end in Telegram (issue 10, must-show 4, first half): an unclaimed ticket in the IT
group is re-pinged, then escalated, with time driven by a fake clock.

The real aiogram frontend and Telegram sender talk to the fake Bot API over loopback; the
sweep is called directly (``sweep_once``) as the scheduler would call it, at the fake
clock's time; its messages go through the outbox and the real worker like any other.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlmodel import select

from handlers.texts import translator
from scheduler import sweep
from scheduler.sweep import sweep_once
from store.models import OutboxMessage, Status, Ticket
from tests.bot.telegram.test_story_e2e import PROBLEM, WAIT, Story, desk, file_ticket
from tests.support.clock import FakeClock

ru = translator("ru")


async def outbox_size(story: Story) -> int:
    async with story.app.db.transaction() as s:
        n: int = (await s.exec(select(func.count()).select_from(OutboxMessage))).one()
        return n


@pytest.mark.parametrize("forum", [True, False], ids=["forum-topic", "reply-to-card"])
async def test_unclaimed_ticket_is_repinged_then_escalated(sqlite_url: str, forum: bool) -> None:
    clock = FakeClock()  # Monday 10:00 Moscow: IT's working hours
    async with desk(sqlite_url, "polling", topics=forum, forum=forum, clock=clock) as story:
        gleb = story.fake.user(100004, "Gleb", language_code="ru")  # IT's lead
        filed = await file_ticket(story)
        team = translator(story.app.config.teams["it"].locale or story.app.config.desk.default_locale)
        it = story.it

        # 30 business minutes without an owner: the queue is pinged again, in the ticket's thread.
        clock.advance(minutes=29)
        assert await sweep_once(story.app) == []
        clock.advance(minutes=1)
        assert [a.kind for a in await sweep_once(story.app)] == [sweep.REPOST]
        ping = await it.sees("⏰ #1", thread=filed.group_thread, timeout=WAIT)
        assert team("btn_claim") in ping.buttons and PROBLEM in ping.text
        if forum:
            assert ping.thread_id == filed.group_thread  # in #1's topic
        else:
            assert ping.reply_to == filed.card.message_id  # in the card's reply chain
        assert await sweep_once(story.app) == []  # the next minute: nothing again

        # Nobody took it; the first response due passes (+30 business minutes): up to L2.
        async with story.app.db.transaction() as s:
            due = (await s.exec(select(Ticket.first_response_due).where(Ticket.id == 1))).one()
        assert due is not None
        clock.now = due + timedelta(minutes=30)
        assert [a.kind for a in await sweep_once(story.app)] == [sweep.BREACH]
        notice = await it.sees(team("new_in_tier", tier="L2"), thread=filed.group_thread, timeout=WAIT)
        await story.fake.wait_for(lambda: "L2" in filed.card.text or None, WAIT)  # the card is edited
        alert = await gleb.sees("L1 → L2", timeout=WAIT)
        assert "#1" in alert.text and "🚨" in alert.text
        await story.anna.sees(ru("escalated_requester", n=1)[:30], thread=filed.anna_thread, timeout=WAIT)
        async with story.app.db.transaction() as s:
            ticket = (await s.exec(select(Ticket).where(Ticket.id == 1))).one()
        assert ticket.tier == "L2" and ticket.status == Status.NEW

        # vera (L2) claims it from the escalation notice; it is past due, so she is told once.
        await story.vera.presses(notice, team("btn_claim"), chat=it)
        await story.fake.wait_for(lambda: "Vera" in filed.card.text or None, WAIT)
        clock.advance(minutes=5)
        assert [a.kind for a in await sweep_once(story.app)] == [sweep.OVERDUE]
        await story.vera.sees("❗ #1", timeout=WAIT)
        written = await outbox_size(story)
        clock.advance(minutes=5)
        assert await sweep_once(story.app) == []
        assert await outbox_size(story) == written  # nothing more was even queued
