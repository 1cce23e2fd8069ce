"""Twenty agents claim one ticket at the same moment: exactly one wins, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from sqlmodel import col, select

from bot.config import Config
from handlers.events import Incoming
from store import people, tickets
from store.db import Database
from store.models import Status, TicketEvent
from tests.store.conftest import NOW, Cast
from tests.support.clock import FakeClock
from tests.support.desk import PLATFORM
from tests.support.scenarios import add_agents, make_config, open_desk, open_ticket, ticket_events

RACERS = 20
AGENT_KEYS = [f"agent{i:02d}" for i in range(1, RACERS + 1)]


async def test_twenty_concurrent_claims_in_the_store_have_one_winner(database: Database, cast: Cast) -> None:
    async with database.transaction() as s:
        ticket = await tickets.create_ticket(
            s, team="it", category="network", priority="normal", requester_id=cast.anna, text="VPN",
            platform="telegram", now=NOW, first_response_due=None, resolution_due=None,
        )
        number = ticket.id
        assert number is not None
        await people.sync_from_config(
            s,
            [people.PersonSpec(k, k, ()) for k in AGENT_KEYS],
            [people.MembershipSpec(k, "it", people.ROLE_AGENT, "L1") for k in AGENT_KEYS],
        )
        agents = [p.id for p, _ in await people.team_members(s, "it") if p.id is not None]
    assert len(agents) == RACERS

    # On PostgreSQL every transaction first reads the ticket as new and unassigned and waits
    # for all the others to have done the same, so the claims really overlap. SQLite admits
    # one writer at a time (BEGIN IMMEDIATE), so there the transactions cannot overlap at all.
    overlap = asyncio.Barrier(RACERS if database.dialect == "postgresql" else 1)

    async def claim(agent_id: int) -> tickets.ClaimResult:
        async with database.transaction() as s:
            seen = await tickets.get_ticket(s, number)
            assert seen is not None
            if database.dialect == "postgresql":
                assert seen.assignee_id is None
            await overlap.wait()
            return await tickets.claim_ticket(s, number, agent_id, NOW)

    results = await asyncio.gather(*(claim(a) for a in agents))

    winners = [r for r in results if r.won]
    assert len(winners) == 1
    winner = winners[0].holder_id
    assert winner in agents
    assert all(r.holder_id == winner for r in results)
    async with database.transaction() as s:
        final = await tickets.get_ticket(s, number)
        claims = list(await s.exec(select(TicketEvent).where(TicketEvent.action == "claim").order_by(col(TicketEvent.id))))
    assert final is not None and final.assignee_id == winner and final.status == Status.CLAIMED
    assert final.version == 1
    assert [(e.ticket_id, e.actor_id) for e in claims] == [(number, winner)]


async def test_twenty_concurrent_claim_presses_get_one_yes_and_nineteen_taken(db_url: str, clock: FakeClock) -> None:
    config: Config = make_config(add_agents("it", "L1", AGENT_KEYS))
    async with open_desk(config, db_url, clock) as desk:
        number = await open_ticket(desk, "anna", "принтер не печатает")
        desk.new("anna")
        presses = [
            Incoming(platform=PLATFORM, chat_id=k, user_id=k, event_key=f"race:{k}", action="claim", ticket_id=number)
            for k in AGENT_KEYS
        ]
        outcomes = await asyncio.gather(*(desk.app.engine.handle(p) for p in presses))
        while await desk.app.worker.deliver_pending():
            pass

        assert not any(o.duplicate for o in outcomes)
        answers = {
            key: [out.reply.text for out in outcome.outgoing if out.destination.chat_id == key]
            for key, outcome in zip(AGENT_KEYS, outcomes, strict=True)
        }
        won = [k for k, texts in answers.items() if f"#{number} is yours." in texts]
        assert len(won) == 1, answers
        winner = won[0]
        winner_name = config.people[winner].name
        lost = [k for k, texts in answers.items() if f"#{number} is already taken by {winner_name}." in texts]
        assert sorted(lost) == sorted(set(AGENT_KEYS) - {winner})

        row = (await ticket_events(desk, number))
        assert [e.action for e in row].count("claim") == 1
        async with desk.app.db.transaction() as s:
            ticket = await tickets.get_ticket(s, number)
            holder = await people.person_by_key(s, winner)
        assert ticket is not None and holder is not None
        assert ticket.assignee_id == holder.id and ticket.status == Status.CLAIMED
        told = [m.text for m in desk.new("anna")]
        assert told == [f"{winner_name} взял(а) в работу заявку #{number}."]
