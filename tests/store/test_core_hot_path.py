"""The hot path on Core statements (store/core.py): what the ORM did before is what they do
now, on SQLite and PostgreSQL: the objects handed out behave as loaded ones, a column is
written only when it changes, and the statements are as few as before."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import update
from sqlmodel import col, select

from store import conversations, feedback, outbox, people, tickets
from store.db import Database
from store.models import Conversation, Identity, KbFeedback, OutboxMessage, Person, TicketPost
from tests.store.conftest import NOW, Cast
from tests.support.queries import count_queries


async def sender(s, uid: str = "100001", **kw):  # type: ignore[no-untyped-def]
    args = {"display_name": None, "locale": None, "chat_id": None, "private": True, "now": NOW}
    return await people.resolve_sender(s, "telegram", uid, **{**args, **kw})


async def test_a_known_sender_is_the_sessions_loaded_object(database: Database, cast: Cast) -> None:
    async with database.transaction() as s:
        person, ident = await sender(s)
        assert (person.id, person.key, person.name) == (cast.anna, "anna", "Anna Ivanova")
        assert ident.person_id == cast.anna and ident.last_seen_at == NOW
        with count_queries(database) as q:
            assert await s.get(Person, cast.anna) is person  # the identity map answers
            assert await s.get(Identity, ident.id) is ident
            await s.flush()
        assert q.statements == 0, q.report()  # nothing dirty: the row's values are its loaded state
        person.name = "Anna I."  # an ORM change to it is written by the flush
        s.add(person)
        await s.flush()
    async with database.read() as s:
        assert (await s.get(Person, cast.anna)).name == "Anna I."  # type: ignore[union-attr]


async def test_the_sender_is_written_only_when_something_changed(database: Database, cast: Cast) -> None:
    async with database.transaction() as s:
        await sender(s, display_name="Anna", locale="ru", timezone="Europe/Moscow", chat_id="100001")
    async with database.transaction() as s:
        with count_queries(database) as q:
            _, ident = await sender(s, display_name="Anna", locale="ru", timezone="Europe/Moscow", chat_id="100001")
        assert q.kinds() == {"SELECT": 1}, q.report()  # same values, same time: no UPDATE
        assert (ident.display_name, ident.locale, ident.timezone, ident.dm_chat_id) == (
            "Anna", "ru", "Europe/Moscow", "100001")
        ident.unreachable_at = NOW  # they blocked the bot
        s.add(ident)
    later = NOW + timedelta(minutes=5)
    async with database.transaction() as s:
        with count_queries(database) as q:
            _, ident = await sender(s, now=later, seen=False)  # not them writing: nothing changes
        assert q.kinds() == {"SELECT": 1}, q.report()
        assert ident.unreachable_at == NOW and ident.last_seen_at == NOW
    async with database.transaction() as s:
        with count_queries(database) as q:
            _, ident = await sender(s, now=later, display_name="Anna Ivanova")  # no locale given: kept
        assert q.kinds() == {"SELECT": 1, "UPDATE": 1}, q.report()
        assert (ident.display_name, ident.locale, ident.last_seen_at, ident.unreachable_at) == (
            "Anna Ivanova", "ru", later, None)
    async with database.read() as s:
        row = (await s.exec(select(Identity).where(col(Identity.platform_user_id) == "100001"))).one()
        assert (row.display_name, row.locale, row.timezone, row.dm_chat_id, row.last_seen_at, row.unreachable_at) == (
            "Anna Ivanova", "ru", "Europe/Moscow", "100001", later, None)


async def test_a_new_sender_is_created(database: Database, cast: Cast) -> None:
    async with database.transaction() as s:
        person, ident = await sender(s, "999", display_name="Newcomer", locale="en")
        assert person.id is not None and ident.id is not None and person.key == "telegram:999"
    async with database.transaction() as s:
        again, ident2 = await sender(s, "999")
        assert (again.id, ident2.id, ident2.display_name, ident2.locale) == (person.id, ident.id, "Newcomer", "en")


async def test_a_conversation_is_inserted_then_updated(database: Database) -> None:
    async with database.transaction() as s:
        conv = await conversations.load(s, "telegram", "c1", "u1")
        assert conv.id is None and conv.state == "idle"
        data = {"query": "vpn", "slugs": ["a", "b"]}
        await conversations.save(s, conv, "suggested", data, NOW)
        assert conv.id is not None
        data["query"] = "changed after the save"  # the saved state is a copy
        await conversations.save(s, conv, "category", {**conv.data, "category": "network"}, NOW)
    async with database.transaction() as s:
        again = await conversations.load(s, "telegram", "c1", "u1")
        assert (again.id, again.state, again.data, again.updated_at) == (
            conv.id, "category", {"query": "vpn", "slugs": ["a", "b"], "category": "network"}, NOW)
        assert (await conversations.load(s, "telegram", "c1", "u2")).id is None  # another user's chat
    async with database.read() as s:
        assert len(list(await s.exec(select(Conversation)))) == 1


async def test_shown_rows_are_one_statement_for_all_suggestions(database: Database, cast: Cast) -> None:
    async with database.transaction() as s:
        with count_queries(database) as q:
            await feedback.record_shown(s, ["vpn", "wifi", "printer"], query="no network", now=NOW,
                                        person_id=cast.anna)
            await feedback.record_shown(s, [], query="nothing", now=NOW)
        assert q.statements == 1, q.report()
    async with database.read() as s:
        rows = await feedback.all_rows(s)
    assert [(r.slug, r.query, r.outcome, r.person_id) for r in rows] == [
        (slug, "no network", "shown", cast.anna) for slug in ("vpn", "wifi", "printer")]
    assert all(isinstance(r, KbFeedback) for r in rows)


async def test_an_enqueued_row_wakes_the_worker_after_the_commit(database: Database) -> None:
    woken: list[int] = []

    def wake() -> None:
        woken.append(1)

    outbox.on_commit(database.engine, wake)
    async with database.transaction() as s:
        row = await outbox.enqueue(s, platform="telegram", chat_id="100001", payload={"text": "hi"}, now=NOW)
        assert row.id is not None and row.status == "pending"
        assert woken == []  # not before the commit
    assert woken == [1]
    async with database.read() as s:
        [pending] = await outbox.pending(s, ["telegram"])
    assert (pending.id, pending.payload, pending.next_attempt_at) == (row.id, {"text": "hi"}, NOW)


async def test_team_members_and_reach_share_the_sessions_people(database: Database, cast: Cast) -> None:
    async with database.transaction() as s:
        members = await people.team_members(s, "it")
        assert [(p.key, m.tier) for p, m in members] == [("boris", "L1"), ("vera", "L2")]
        with count_queries(database) as q:
            assert await s.get(Person, cast.boris) is members[0][0]
        assert q.statements == 0, q.report()
        found = await people.reach(s, [cast.boris, cast.vera, cast.anna])
        assert found[cast.boris].person is members[0][0]
        assert sorted((i.platform, i.platform_user_id) for i in found[cast.boris].identities) == [
            ("slack", "U000BORIS"), ("telegram", "100002")]
        assert found[cast.vera].identities == ()  # the outer join: a person without identities
        assert await people.has_role(s, cast.boris, "it", people.ROLE_AGENT)
        assert not await people.has_role(s, cast.boris, "it", people.ROLE_LEAD)


async def test_a_core_read_keeps_a_loaded_object_and_fills_what_it_had_not_loaded(database: Database, cast: Cast) -> None:
    async with database.transaction() as s:
        [(boris, _), _] = await people.team_members(s, "it")
        boris.name = "Boris P."  # changed in this transaction, flushed before the next read
        s.add(boris)
        s.expire(boris, ["away"])
        [(again, _), _] = await people.team_members(s, "it")
        assert again is boris and boris.name == "Boris P." and boris.away is False


# --- the outbox worker's statements (store/outbox.py) ------------------------------------------


async def _worker_fixture(database: Database, cast: Cast) -> dict[str, int]:
    """Rows in every situation the worker's reads tell apart; their ids by name."""
    async with database.transaction() as s:
        ticket = await tickets.create_ticket(
            s, team="it", category="network", priority="normal", requester_id=cast.anna, text="VPN",
            platform="telegram", now=NOW, first_response_due=None, resolution_due=None,
        )
        tid = ticket.id
        assert tid is not None
        s.add(TicketPost(ticket_id=tid, platform="telegram", chat_id="c-card", card="queue", message_id="m-42"))
        # A blocked DM known by its chat id (the other branch: anna's, by her user id, below).
        s.add(Identity(person_id=cast.boris, platform="telegram", platform_user_id="u-dm", dm_chat_id="c-dm",
                       unreachable_at=NOW))
    ids: dict[str, int] = {}
    async with database.transaction() as s:
        for name, chat, card in [
            ("anna", "100001", None), ("card", "c-card", "queue"), ("held", "c-held", None),
            ("plain", "c-plain", None), ("dm", "c-dm", None), ("newcard", "c-new", "requester"),
            ("plain2", "c-plain", None), ("held2", "c-held", None), ("card2", "c-card", "queue"),
        ]:
            row = await outbox.enqueue(s, platform="telegram", chat_id=chat, payload={"text": name}, now=NOW,
                                       ticket_id=tid if card else None, card=card)
            ids[name] = row.id  # type: ignore[assignment]
        slack = await outbox.enqueue(s, platform="slack", chat_id="D-BORIS", payload={"text": "slack"}, now=NOW)
        ids["slack"] = slack.id  # type: ignore[assignment]
        await people.mark_unreachable(s, "telegram", "100001", NOW)
        # c-held's head waits for a retry: neither it nor the row behind it is due.
        await s.exec(update(OutboxMessage).where(col(OutboxMessage.id) == ids["held"])  # type: ignore[call-overload]
                     .values(next_attempt_at=NOW + timedelta(minutes=1), attempts=1, last_error="boom"))
    return ids


async def _as_loaded(database: Database, row_ids: list[int]) -> dict[int, dict[str, object]]:
    """The rows' columns as the ORM loads them (the reference the Core reads must match)."""
    async with database.read() as s:
        found = await s.exec(select(OutboxMessage).where(col(OutboxMessage.id).in_(row_ids)))
        return {r.id: r.model_dump() for r in found}  # type: ignore[misc]


def _check_rows(dues: list[outbox.Due], expected: dict[int, dict[str, object]]) -> None:
    for d in dues:
        state = sa_inspect(d.row)
        assert isinstance(d.row, OutboxMessage) and state.detached and not state.modified
        assert d.row.model_dump() == expected[d.row.id]  # type: ignore[index]
        assert d.row.next_attempt_at.tzinfo is not None and d.row.created_at.tzinfo is not None
        assert d.row.status == "pending" and d.row.payload == {"text": d.row.payload["text"]}


async def test_the_workers_reads_and_claims_hand_out_what_the_orm_did(database: Database, cast: Cast) -> None:
    ids = await _worker_fixture(database, cast)
    heads = [(ids["anna"], None, True), (ids["card"], "m-42", False), (ids["plain"], None, False),
             (ids["dm"], None, True), (ids["newcard"], None, False)]

    async with database.read() as s:
        with count_queries(database) as q:
            due = await outbox.due_heads(s, ["telegram"], NOW)
        assert q.kinds() == {"SELECT": 2}, q.report()  # the heads, the unreachable chats
        assert [(d.row.id, d.post_id, d.unreachable) for d in due] == heads
        assert [d.row.id for d in await outbox.due_heads(s, ["telegram"], NOW, limit=2)] == [ids["anna"], ids["card"]]
        with count_queries(database) as q:
            both = await outbox.due_heads(s, ["telegram", "slack"], NOW)
        assert q.kinds() == {"SELECT": 3}, q.report()  # one unreachable read per platform
        assert [d.row.id for d in both] == [h[0] for h in heads] + [ids["slack"]]
        assert await outbox.due_heads(s, [], NOW) == []
        assert await outbox.next_due_at(s, ["telegram"], NOW) == NOW + timedelta(minutes=1)
        assert await outbox.next_due_at(s, ["slack"], NOW) is None
        assert await outbox.unreachable_chats(s, {("telegram", "100001"), ("telegram", "c-dm"), ("telegram", "c-plain"),
                                                  ("slack", "100001")}) == {("telegram", "100001"), ("telegram", "c-dm")}
    _check_rows(due, await _as_loaded(database, [h[0] for h in heads]))

    # The SQLite path: a compare-and-set of what was read; a second one wins nothing.
    async with database.transaction() as s:
        with count_queries(database) as q:
            claimed = await outbox.claim(s, due, NOW)
        assert q.kinds() == {"UPDATE": 1}, q.report()
        assert [d.row.id for d in claimed] == [h[0] for h in heads]
        assert await outbox.claim(s, due, NOW) == []
    loaded = await _as_loaded(database, [h[0] for h in heads])
    assert all(v["next_attempt_at"] == outbox.lease_end(NOW) for v in loaded.values())
    assert all(d.row.next_attempt_at == outbox.lease_end(NOW) for d in claimed)

    async with database.transaction() as s:
        with count_queries(database) as q:
            await outbox.release(s, {d.row.id for d in claimed}, NOW)  # type: ignore[misc]
        assert q.kinds() == {"UPDATE": 1}, q.report()
    # The PostgreSQL path: one UPDATE … RETURNING, then the posts and the unreachable chats.
    async with database.transaction() as s:
        with count_queries(database) as q:
            got = await outbox.claim_due(s, ["telegram"], NOW, 10)
        assert q.kinds() == {"UPDATE": 1, "SELECT": 2}, q.report()
        assert [(d.row.id, d.post_id, d.unreachable) for d in got] == heads
        assert await outbox.claim_due(s, ["telegram"], NOW, 10) == []  # all held now
    _check_rows(got, await _as_loaded(database, [h[0] for h in heads]))
    assert all(d.row.next_attempt_at == outbox.lease_end(NOW) for d in got)

    # record: the settled chats' next rows are claimed, with the post written in the same batch.
    by_id = {d.row.id: d.row for d in got}
    later = NOW + timedelta(seconds=1)
    async with database.transaction() as s:
        with count_queries(database) as q:
            nexts = await outbox.record(s, [
                outbox.Outcome(by_id[ids["plain"]], "sent", message_id="p1"),
                outbox.Outcome(by_id[ids["card"]], "sent", message_id="m-43"),  # the card edit made a new message
                outbox.Outcome(by_id[ids["anna"]], "blocked", error="recipient unreachable"),
                outbox.Outcome(by_id[ids["dm"]], "retry", error="boom", delay=timedelta(seconds=2)),
            ], later)
        # settled · rescheduled · the post looked up and moved to m-43 · the next heads claimed ·
        # their posts · the unreachable chats
        assert q.kinds() == {"UPDATE": 4, "SELECT": 3}, q.report()
    assert sorted((k, d.row.id, d.post_id, d.unreachable) for k, d in nexts.items()) == [
        (("telegram", "c-card"), ids["card2"], "m-43", False), (("telegram", "c-plain"), ids["plain2"], None, False)]
    _check_rows(list(nexts.values()), await _as_loaded(database, [ids["card2"], ids["plain2"]]))
    assert all(d.row.next_attempt_at == outbox.lease_end(later) for d in nexts.values())


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)  # row locks: SQLite has one writer
async def test_a_claim_skips_rows_another_transaction_holds_locked(database: Database, cast: Cast) -> None:
    assert database.dialect == "postgresql"
    ids = await _worker_fixture(database, cast)
    async with database.transaction() as holder:
        await holder.exec(select(OutboxMessage).where(col(OutboxMessage.id) == ids["card"])  # type: ignore[call-overload]
                          .with_for_update())
        async with database.transaction() as s:
            got = await asyncio.wait_for(outbox.claim_due(s, ["telegram"], NOW, 10), 5)  # skipped, not waited for
        assert [d.row.id for d in got] == [ids["anna"], ids["plain"], ids["dm"], ids["newcard"]]
    async with database.transaction() as s:
        assert [d.row.id for d in await outbox.claim_due(s, ["telegram"], NOW, 10)] == [ids["card"]]
