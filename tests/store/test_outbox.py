"""The outbox contract (``store.outbox``) on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import col, select

from store import outbox, tickets
from store.db import Database
from store.models import OutboxMessage, OutboxStatus, TicketPost
from tests.store.conftest import NOW, Cast


async def new_ticket(db: Database, cast: Cast) -> int:
    async with db.transaction() as s:
        ticket = await tickets.create_ticket(
            s, team="it", category="network", priority="normal", requester_id=cast.anna, text="VPN",
            platform="telegram", now=NOW, first_response_due=None, resolution_due=None,
        )
        assert ticket.id is not None
        return ticket.id


async def enqueue(
    db: Database, chat: str, text: str, *, platform: str = "telegram", person_id: int | None = None,
    ticket_id: int | None = None, card: str | None = None,
) -> int:
    async with db.transaction() as s:
        row = await outbox.enqueue(
            s, platform=platform, chat_id=chat, payload={"text": text}, now=NOW,
            person_id=person_id, ticket_id=ticket_id, card=card,
        )
        assert row.id is not None
        return row.id


async def row_of(db: Database, row_id: int) -> OutboxMessage:
    async with db.transaction() as s:
        return await s.get_one(OutboxMessage, row_id)


async def posts(db: Database) -> list[tuple[int, str, str, str, str]]:
    async with db.transaction() as s:
        rows = await s.exec(select(TicketPost).order_by(col(TicketPost.id)))
        return [(p.ticket_id, p.platform, p.chat_id, p.card, p.message_id) for p in rows]


async def test_enqueued_rows_are_pending_in_order_per_platform(database: Database, cast: Cast) -> None:
    number = await new_ticket(database, cast)
    a = await enqueue(database, "1", "first «ünïcode» <b>", person_id=cast.anna)
    b = await enqueue(database, "C1", "slack one", platform="slack")
    c = await enqueue(database, "2", "card", ticket_id=number, card="queue")
    async with database.transaction() as s:
        tg = await outbox.pending(s, ["telegram"])
        both = await outbox.pending(s, ["telegram", "slack"])
        limited = await outbox.pending(s, ["telegram", "slack"], limit=2)
        assert await outbox.backlog(s) == 3
    assert [r.id for r in tg] == [a, c]
    assert [r.id for r in both] == [a, b, c]
    assert [r.id for r in limited] == [a, b]
    first = tg[0]
    assert (first.status, first.attempts, first.next_attempt_at, first.created_at) == (OutboxStatus.PENDING, 0, NOW, NOW)
    assert first.payload == {"text": "first «ünïcode» <b>"} and first.person_id == cast.anna
    assert (tg[1].ticket_id, tg[1].card) == (number, "queue")


async def test_mark_sent_leaves_the_pending_list_and_remembers_where_a_card_is(database: Database, cast: Cast) -> None:
    number = await new_ticket(database, cast)
    plain = await enqueue(database, "1", "hello", ticket_id=number)
    card = await enqueue(database, "-100", "card", ticket_id=number, card="queue")
    sent_at = NOW + timedelta(seconds=3)
    async with database.transaction() as s:
        await outbox.mark_sent(s, plain, "m-1", sent_at)
        await outbox.mark_sent(s, card, "m-2", sent_at)
    row = await row_of(database, card)
    assert (row.status, row.message_id, row.sent_at, row.attempts) == (OutboxStatus.SENT, "m-2", sent_at, 1)
    assert await posts(database) == [(number, "telegram", "-100", "queue", "m-2")]  # only the card row
    async with database.transaction() as s:
        assert await outbox.pending(s, ["telegram"]) == []
        assert await outbox.backlog(s) == 0
        found = await outbox.find_post(s, number, "telegram", "-100", "queue")
        assert found is not None and found.message_id == "m-2"


async def test_a_card_sent_again_updates_its_post_instead_of_adding_one(database: Database, cast: Cast) -> None:
    number = await new_ticket(database, cast)
    first = await enqueue(database, "-100", "card v1", ticket_id=number, card="queue")
    second = await enqueue(database, "-100", "card v2", ticket_id=number, card="queue")
    async with database.transaction() as s:
        await outbox.mark_sent(s, first, "m-1", NOW)
        await outbox.mark_sent(s, second, "m-9", NOW)
        assert [p.message_id for p in await outbox.posts_of(s, number, "queue")] == ["m-9"]
    assert await posts(database) == [(number, "telegram", "-100", "queue", "m-9")]


async def test_a_sent_message_leads_back_to_its_ticket(database: Database, cast: Cast) -> None:
    number = await new_ticket(database, cast)
    card = await enqueue(database, "-100", "card", ticket_id=number, card="queue")
    relay = await enqueue(database, "100001", "agent says hi", ticket_id=number)
    other = await enqueue(database, "100001", "no ticket")
    async with database.transaction() as s:
        await outbox.mark_sent(s, card, "50", NOW)
        await outbox.mark_sent(s, relay, "51", NOW)
        await outbox.mark_sent(s, other, "52", NOW)
        await outbox.remember_post(s, number, "slack", "C1", "thread", "1700.1", thread_id="1699.9")
        assert await outbox.ticket_for_message(s, "telegram", "-100", "50") == number  # the card
        assert await outbox.ticket_for_message(s, "telegram", "100001", "51") == number  # a relayed message
        assert await outbox.ticket_for_message(s, "slack", "C1", "1699.9") == number  # a thread
        assert await outbox.ticket_for_message(s, "telegram", "100001", "52") is None
        assert await outbox.ticket_for_message(s, "telegram", "-100", "51") is None  # other chat


async def test_retry_backs_off_and_gives_up_after_max_attempts(database: Database, cast: Cast) -> None:
    row_id = await enqueue(database, "1", "hello")
    for attempt in range(1, outbox.MAX_ATTEMPTS):
        now = NOW + timedelta(minutes=attempt)
        async with database.transaction() as s:
            row = await outbox.mark_retry(s, row_id, "x" * 600, timedelta(seconds=30 * attempt), now)
        assert (row.status, row.attempts) == (OutboxStatus.PENDING, attempt)
        stored = await row_of(database, row_id)
        assert stored.next_attempt_at == now + timedelta(seconds=30 * attempt)
        assert stored.last_error == "x" * 500
    async with database.transaction() as s:
        last = await outbox.mark_retry(s, row_id, "still 500", timedelta(seconds=1), NOW + timedelta(hours=1))
    assert (last.status, last.attempts, last.last_error) == (OutboxStatus.FAILED, outbox.MAX_ATTEMPTS, "still 500")
    async with database.transaction() as s:
        assert await outbox.pending(s, ["telegram"]) == []
        assert await outbox.backlog(s) == 0


async def test_a_row_waiting_for_retry_is_still_listed_for_the_worker(database: Database, cast: Cast) -> None:
    row_id = await enqueue(database, "1", "hello")
    async with database.transaction() as s:
        await outbox.mark_retry(s, row_id, "429", timedelta(seconds=30), NOW)
        listed = await outbox.pending(s, ["telegram"])
    assert [(r.id, r.next_attempt_at) for r in listed] == [(row_id, NOW + timedelta(seconds=30))]


async def test_blocked_recipient_stops_delivery_of_that_row(database: Database, cast: Cast) -> None:
    row_id = await enqueue(database, "1", "hello")
    later = await enqueue(database, "1", "second")
    async with database.transaction() as s:
        await outbox.mark_blocked(s, row_id, "Forbidden: bot was blocked by the user")
        assert [r.id for r in await outbox.pending(s, ["telegram"])] == [later]
    row = await row_of(database, row_id)
    assert (row.status, row.attempts, row.last_error) == (
        OutboxStatus.BLOCKED, 1, "Forbidden: bot was blocked by the user",
    )


async def test_marking_a_missing_row_raises(database: Database, cast: Cast) -> None:
    from sqlalchemy.exc import NoResultFound

    async with database.transaction() as s:
        with pytest.raises(NoResultFound):
            await outbox.mark_sent(s, 12345, "m", NOW)
