"""A card's stale edits are not sent: when a ticket changes again before its card's last
edit went out (a backlog, a slow platform), each chat gets the card's latest state once.

The desk has one team of 3 agents with no team chat, so the card lives in each agent's DM
(store.outbox.supersede_cards; the shape of issue 12's fan-out). Events are handled with
no delivery in between, then the outbox is drained.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlmodel import col, select

from bot.app import App, build
from handlers.events import Incoming
from store import outbox
from store.models import OutboxMessage, OutboxStatus
from tests.handlers.test_query_budget import fanout_config
from tests.support.clock import FakeClock
from tests.support.desk import Desk, RecordingSender
from tests.support.scenarios import FakeKb

AGENTS = ("agent01", "agent02", "agent03")


@pytest.fixture
async def desk(db_url: str, clock: FakeClock) -> AsyncIterator[Desk]:
    app: App = build(fanout_config(len(AGENTS)), senders={"console": RecordingSender()}, database_url=db_url,
                     clock=clock, kb=FakeKb())
    await app.start()
    yield await Desk.open(app)
    await app.close()


def NOW(desk: Desk) -> Any:  # noqa: N802 — the desk's clock, now
    return desk.app.engine.clock()


def event(desk: Desk, who: str, **fields: Any) -> Incoming:
    return Incoming(platform="console", chat_id=who, user_id=who, event_key=desk.key(), **fields)


async def handle(desk: Desk, who: str, **fields: Any) -> Any:
    """One event, nothing delivered."""
    return await desk.app.engine.handle(event(desk, who, **fields))


async def drain(desk: Desk) -> None:
    while await desk.app.worker.deliver_pending():
        pass


async def file_ticket(desk: Desk) -> int:
    await handle(desk, "anna", text="VPN не подключается из дома")
    await handle(desk, "anna", action="open_ticket")
    await handle(desk, "anna", action="cat_list")
    outcome = await handle(desk, "anna", action="cat", value="network")
    return next(o.reply.ticket_id for o in outcome.outgoing if o.reply.ticket_id)


async def card_rows(desk: Desk, number: int) -> list[OutboxMessage]:
    async with desk.app.db.read() as s:
        return list(await s.exec(select(OutboxMessage).where(OutboxMessage.ticket_id == number,
                                                             OutboxMessage.card == "queue")
                                 .order_by(col(OutboxMessage.id))))


async def test_edits_made_while_the_card_waits_go_out_once_as_the_latest(desk: Desk) -> None:
    number = await file_ticket(desk)
    await drain(desk)  # the cards are posted
    posted = {who: len(desk.received(who)) for who in AGENTS}
    await handle(desk, "agent01", action="claim", ticket_id=number)
    await handle(desk, "agent01", text=f"/reply {number} Перезапустите клиент VPN")
    await handle(desk, "agent01", text=f"/resolve {number} restarted the client")
    rows = await card_rows(desk, number)
    by_status = [(r.chat_id, r.status) for r in rows]
    for who in AGENTS:
        mine = [st for chat, st in by_status if chat == who]
        # posted · claim and reply edits superseded · the resolve edit pending
        assert mine == [OutboxStatus.SENT, OutboxStatus.SUPERSEDED, OutboxStatus.SUPERSEDED,
                        OutboxStatus.PENDING], (who, mine)
    await drain(desk)
    for who in AGENTS:
        edits = [m for m in desk.received(who)[posted[who]:] if m.ticket_id == number and m.edited]
        assert len(edits) == 1, (who, [m.text for m in edits])
        assert "resolved" in edits[0].text or "решена" in edits[0].text, edits[0].text  # the latest state
    # the agent's own answers and the requester's messages are never superseded
    assert any(m.text.startswith(f"#{number}") for m in desk.received("agent01")[posted["agent01"]:]
               if not m.edited)
    async with desk.app.db.read() as s:
        assert await outbox.backlog(s) == 0


async def test_a_card_not_posted_yet_is_posted_then_edited(desk: Desk) -> None:
    """The row that posts a card is never superseded (the ticket's later rows in that chat
    may need the post): filed and claimed with nothing delivered, each agent gets the post
    and then the claimed card."""
    number = await file_ticket(desk)
    await handle(desk, "agent02", action="claim", ticket_id=number)
    rows = await card_rows(desk, number)
    assert all(r.status == OutboxStatus.PENDING for r in rows) and len(rows) == 2 * len(AGENTS)
    async with desk.app.db.transaction() as s:  # asked directly, the store refuses too
        assert await outbox.supersede_cards(s, [("console", who, number, "queue") for who in AGENTS], NOW(desk)) == 0
    await drain(desk)
    for who in AGENTS:
        card = [m for m in desk.received(who) if m.ticket_id == number and m.text.startswith(f"#{number} [")]
        assert [m.edited for m in card] == [False, True], (who, [m.text for m in card])
        assert "agent02" not in card[1].text and ("Agent 02" in card[1].text), card[1].text


async def test_superseding_touches_only_that_card_in_those_chats(desk: Desk) -> None:
    first = await file_ticket(desk)
    await handle(desk, "anna", text="/new")
    await handle(desk, "anna", text="Принтер не печатает")
    await handle(desk, "anna", action="open_ticket")
    await handle(desk, "anna", action="cat_list")
    outcome = await handle(desk, "anna", action="cat", value="network")
    second = next(o.reply.ticket_id for o in outcome.outgoing if o.reply.ticket_id)
    assert second != first
    await drain(desk)
    await handle(desk, "agent01", action="claim", ticket_id=first)
    await handle(desk, "agent02", action="claim", ticket_id=second)
    async with desk.app.db.transaction() as s:  # only first's card in agent03's chat
        n = await outbox.supersede_cards(s, [("console", "agent03", first, "queue")], NOW(desk))
    assert n == 1
    statuses = {(r.ticket_id, r.chat_id): r.status for number in (first, second)
                for r in await card_rows(desk, number) if r.status != OutboxStatus.SENT}
    assert statuses[(first, "agent03")] == OutboxStatus.SUPERSEDED
    assert [k for k, st in statuses.items() if st == OutboxStatus.SUPERSEDED] == [(first, "agent03")]
    async with desk.app.db.transaction() as s:
        assert await outbox.supersede_cards(s, [], NOW(desk)) == 0


async def test_a_row_in_a_senders_hands_is_left_alone(desk: Desk) -> None:
    """A claimed edit (being sent right now) is not marked: it goes out, then the newer one.
    On PostgreSQL the pick also skips rows another transaction has locked, so the engine
    never waits on the worker's recorder."""
    number = await file_ticket(desk)
    await drain(desk)
    await handle(desk, "agent01", action="claim", ticket_id=number)
    async with desk.app.db.read() as s:
        heads = [d for d in await outbox.due_heads(s, ["console"], NOW(desk)) if d.row.chat_id == "agent02"]
    async with desk.app.db.transaction() as s:  # a worker takes agent02's claim edit in hand
        held = await outbox.claim(s, heads, NOW(desk))
    assert len(held) == 1 and held[0].row.card == "queue"
    await handle(desk, "agent01", text=f"/reply {number} Перезапустите клиент VPN")
    rows = {r.id: r.status for r in await card_rows(desk, number)}
    assert rows[held[0].row.id] == OutboxStatus.PENDING  # still to be sent and recorded
    others = [st for r in await card_rows(desk, number) if r.chat_id == "agent03" for st in [r.status]]
    assert others.count(OutboxStatus.SUPERSEDED) == 1  # the free one was superseded
