"""Query budgets: how many SQL statements each kind of event sends (like Django's
``assertNumQueries``), on SQLite and PostgreSQL.

The desk has one team whose first tier is ``agents`` agents with no team chat, so every card
update goes to each agent's DM (the shape of issue 12). The budgets are the same for 3 and
for 21 agents: the fan-out is batched (members and their identities in one query each, the
outbox rows in one multi-row INSERT), so a change that goes back to a query per member or per
row fails here. The events are the second request of a requester whose first went through
the same steps, so every card already exists (and is edited) and nobody is new.

Only the engine's statements are counted (``Engine.handle``), not the outbox worker's;
``BEGIN`` is not counted (see ``tests/support/queries.py``). If a budget must grow, change it
here with the reason in the comment.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.app import App, build
from bot.config import Config
from handlers.events import Incoming
from tests.support.clock import FakeClock
from tests.support.desk import Desk, RecordingSender
from tests.support.queries import QueryCount, count_queries
from tests.support.scenarios import FakeKb, make_config

REQUESTER = "anna"

# Statements per event, and what each one is (in order).
BUDGET = {
    # inbox key · the sender with their person (one join) · their last_seen_at · their
    # conversation (locked) · their open tickets (conversation routing) · the KB "shown"
    # rows (one INSERT for all suggestions) · the conversation saved · the outbox (one INSERT).
    "text": 8,
    # inbox · sender · last_seen_at · conversation · conversation saved · outbox.
    "open_ticket": 6,
    "category_tap": 6,
    # inbox · sender · last_seen_at · conversation · open tickets (duplicate check) · the
    # ticket · its audit event · its first message · the requester with their identities ·
    # the tier's agents · all their identities · the card's posts · conversation saved ·
    # the outbox: the answer and the 21 cards in one INSERT.
    "filed": 14,
    # inbox · sender · last_seen_at · conversation · the ticket (locked) · is the actor an
    # agent of its team · the compare-and-set UPDATE · the ticket read back · its audit event
    # · the requester with identities · the tier's agents · their identities · the card's
    # posts · the posted cards' stale pending edits superseded · the outbox (answer, 21 card
    # edits, the requester told).
    "claim": 15,
    # inbox · sender · last_seen_at · conversation · the ticket (thread check) · the ticket
    # (locked) · is agent · the ticket (first response, waiting) · its audit event · the
    # message · the requester · the tier's agents · their identities · the card's posts ·
    # the SLA pause (waiting on the requester) · stale card edits superseded · the outbox.
    "reply": 17,
    # inbox · sender · last_seen_at · conversation · the ticket (locked) · is agent · the
    # ticket resolved · its audit event · the requester · the KB offer on the resolved card
    # (the articles learned from it, its history, its first message: 3, per ticket, not per
    # reader) · the tier's agents · their identities · the card's posts · the SLA settled ·
    # stale card edits superseded · the outbox.
    "resolve": 18,
}


def fanout_config(agents: int) -> Config:
    """The sample config with IT's first tier made of ``agents`` agents and no team chats."""
    names = [f"agent{n:02d}" for n in range(1, agents + 1)]

    def change(data: dict[str, Any]) -> None:
        for n, key in enumerate(names, 1):
            data["people"][key] = {"name": f"Agent {n:02d}", "locale": "en" if n % 2 else "ru"}
        for team in data["teams"].values():
            team.pop("chats", None)
            team.pop("lead_chats", None)
        data["teams"]["it"]["tiers"]["L1"] = names
        data["teams"]["it"]["assignment"] = "manual"

    return make_config(change)


@pytest.fixture(params=[3, 21], ids=lambda n: f"{n}-agents")
async def fanout_desk(request: pytest.FixtureRequest, db_url: str, clock: FakeClock) -> AsyncIterator[Desk]:
    app: App = build(fanout_config(request.param), senders={"console": RecordingSender()}, database_url=db_url,
                     clock=clock, kb=FakeKb())
    await app.start()
    yield await Desk.open(app)
    await app.close()


async def counted(desk: Desk, inc: Incoming) -> tuple[QueryCount, Any]:
    """The engine's statements for one event (the outbox is delivered afterwards, uncounted).
    A second passes before each event, as between a person's taps (so their last-seen time
    changes and is written, as in real use)."""
    clock = desk.app.engine.clock
    assert isinstance(clock, FakeClock)
    clock.advance(seconds=1)
    with count_queries(desk.app.db) as q:
        outcome = await desk.app.engine.handle(inc)
    while await desk.app.worker.deliver_pending():
        pass
    return q, outcome


async def one_request(desk: Desk, agent: str) -> dict[str, QueryCount]:
    """A request from first words to resolution; the statements of each step."""
    out: dict[str, QueryCount] = {}

    def event(who: str, **fields: Any) -> Incoming:
        return Incoming(platform="console", chat_id=who, user_id=who, event_key=desk.key(), **fields)

    out["text"], _ = await counted(desk, event(REQUESTER, text="VPN не подключается из дома"))
    out["open_ticket"], _ = await counted(desk, event(REQUESTER, action="open_ticket"))
    out["category_tap"], _ = await counted(desk, event(REQUESTER, action="cat_list"))
    out["filed"], outcome = await counted(desk, event(REQUESTER, action="cat", value="network"))
    number = next(o.reply.ticket_id for o in outcome.outgoing if o.reply.ticket_id)
    out["claim"], _ = await counted(desk, event(agent, action="claim", ticket_id=number))
    out["reply"], _ = await counted(desk, event(agent, text=f"/reply {number} Перезапустите клиент VPN"))
    out["resolve"], _ = await counted(desk, event(agent, text=f"/resolve {number} restarted the client"))
    return out


async def test_each_event_kind_stays_within_its_statement_budget(fanout_desk: Desk) -> None:
    desk = fanout_desk
    await one_request(desk, "agent01")  # first use: the requester's conversation row, the cards
    counts = await one_request(desk, "agent02")
    assert {kind: q.statements for kind, q in counts.items()} == BUDGET, "\n\n".join(
        f"{kind}: {q.report()}" for kind, q in counts.items() if q.statements != BUDGET[kind])
    # One transaction per event (the engine rule), committed once.
    assert {kind: (q.transactions, q.commits) for kind, q in counts.items()} == {kind: (1, 1) for kind in BUDGET}


async def test_the_fan_out_really_reached_every_agent(fanout_desk: Desk) -> None:
    """The budget is not met by leaving agents out: each of them got the new card and its edit."""
    desk = fanout_desk
    agents = [key for key in desk.app.config.people if key.startswith("agent")]
    await one_request(desk, "agent01")
    for agent in agents:
        cards = [m for m in desk.received(agent) if m.ticket_id == 1 and m.text.startswith("#1 [")]
        # Posted when filed, edited on the claim, the reply (waiting) and the resolve.
        assert [m.edited for m in cards] == [False, True, True, True], (agent, [m.text for m in cards])
        assert any(w in cards[-1].text for w in ("resolved — Agent 01", "решена — Agent 01")), cards[-1].text
