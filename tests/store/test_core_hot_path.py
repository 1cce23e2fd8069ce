"""The hot path on Core statements (store/core.py): what the ORM did before is what they do
now, on SQLite and PostgreSQL: the objects handed out behave as loaded ones, a column is
written only when it changes, and the statements are as few as before."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select

from store import conversations, feedback, outbox, people
from store.db import Database
from store.models import Conversation, Identity, KbFeedback, Person
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
