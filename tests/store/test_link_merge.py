"""store.links: codes (digests only, one per person, single use) and merging two people."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func
from sqlmodel import col, select

from store import feedback, links, outbox, people, tickets
from store.db import Database
from store.models import (
    Identity, KbFeedback, LinkAttempt, LinkCode, Membership, OutboxMessage, Person, Ticket, TicketEvent, TicketMessage,
)
from tests.store.conftest import NOW, Cast


async def _stray(database: Database) -> tuple[int, int]:
    """An unconfigured Slack user with a ticket of their own and everything else a person can own."""
    async with database.transaction() as s:
        person, ident = await people.resolve_sender(s, "slack", "U0STRAY", display_name="Stray", locale="en",
                                                    chat_id="D0STRAY", private=True, now=NOW)
        assert person.id is not None and ident.id is not None
        tk = await tickets.create_ticket(s, team="it", category="hardware", priority="normal", requester_id=person.id,
                                         text="laptop is dead", platform="slack", now=NOW,
                                         first_response_due=None, resolution_due=None)
        await feedback.record(s, slug="x", query="laptop", outcome="shown", now=NOW, person_id=person.id)
        await outbox.enqueue(s, platform="slack", chat_id="D0STRAY", payload={"text": "hi"}, now=NOW,
                             person_id=person.id)
        await links.record_failure(s, person.id, NOW)
        await links.issue_code(s, person_id=person.id, identity_id=ident.id, platform="slack", now=NOW)
        s.add(Membership(person_id=person.id, team="it", role=people.ROLE_AGENT, tier="L1"))  # boris has it too
        s.add(Membership(person_id=person.id, team="hr", role=people.ROLE_AGENT, tier="L1"))
        assert tk.id is not None
        return person.id, tk.id


async def test_merge_moves_every_reference_and_removes_the_other_person(database: Database, cast: Cast) -> None:
    stray, own = await _stray(database)
    async with database.transaction() as s:
        anna = await s.get_one(Person, cast.anna)
        assigned = await tickets.create_ticket(s, team="it", category="hardware", priority="normal",
                                               requester_id=cast.anna, text="mouse", platform="telegram", now=NOW,
                                               first_response_due=None, resolution_due=None)
        await tickets.assign_ticket(s, assigned, stray, stray, NOW)
        await tickets.add_message(s, assigned, kind="agent", author_id=stray, text="on it", platform="slack", now=NOW)
        assert anna is not None
    async with database.transaction() as s:
        kept, gone = await s.get_one(Person, cast.boris), await s.get_one(Person, stray)
        assert links.survivor(gone, kept, {"boris"}) == (kept, gone)
        await links.merge_people(s, kept, gone)
    async with database.transaction() as s:
        assert await s.get(Person, stray) is None
        for model, name in links.person_references():
            left = (await s.exec(select(func.count()).select_from(model).where(getattr(model, name) == stray))).one()
            assert left == 0, f"{model.__name__}.{name}"
        assert (await s.get_one(Ticket, own)).requester_id == cast.boris
        assert (await s.get_one(Ticket, assigned.id)).assignee_id == cast.boris
        authors = {m.author_id for m in await s.exec(select(TicketMessage).where(TicketMessage.ticket_id == assigned.id,
                                                                                    TicketMessage.kind == "agent"))}
        assert authors == {cast.boris}
        actors = {e.actor_id for e in await s.exec(select(TicketEvent).where(TicketEvent.ticket_id == own))}
        assert actors == {cast.boris}
        slack_ids = {i.platform_user_id for i in await people.identities_of(s, cast.boris) if i.platform == "slack"}
        assert slack_ids == {"U000BORIS", "U0STRAY"}
        roles = sorted((m.team, m.role) for m in await people.memberships_of(s, cast.boris))
        assert roles == [("hr", "agent"), ("it", "agent")]  # the duplicate was dropped, the other kept
        assert (await s.exec(select(KbFeedback.person_id))).all() == [cast.boris]
        assert (await s.exec(select(OutboxMessage.person_id))).all() == [cast.boris]
        assert (await s.exec(select(LinkAttempt.person_id))).all() == [cast.boris]
        assert (await s.exec(select(func.count()).select_from(LinkCode))).one() == 0


async def test_a_failed_merge_leaves_both_people(database: Database, cast: Cast) -> None:
    stray, own = await _stray(database)
    try:
        async with database.transaction() as s:
            await links.merge_people(s, await s.get_one(Person, cast.anna), await s.get_one(Person, stray))
            raise RuntimeError("crash after the merge, before commit")
    except RuntimeError:
        pass
    async with database.transaction() as s:
        assert await s.get(Person, stray) is not None
        assert (await s.get_one(Ticket, own)).requester_id == stray
        ident = (await s.exec(select(Identity).where(Identity.platform_user_id == "U0STRAY"))).one()
        assert ident.person_id == stray


async def test_codes_are_stored_as_digests_one_per_person_and_used_once(database: Database, cast: Cast) -> None:
    async with database.transaction() as s:
        ident = (await people.identities_of(s, cast.anna))[0]
        assert ident.id is not None
        first = await links.issue_code(s, person_id=cast.anna, identity_id=ident.id, platform="telegram", now=NOW)
        second = await links.issue_code(s, person_id=cast.anna, identity_id=ident.id, platform="telegram", now=NOW)
    async with database.transaction() as s:
        rows = list(await s.exec(select(LinkCode)))
        assert len(rows) == 1 and second not in rows[0].code_hash and rows[0].expires_at == NOW + timedelta(minutes=10)
        if first != second:
            assert await links.find_code(s, first) is None
        row = await links.find_code(s, second.lower())
        assert row is not None and row.person_id == cast.anna
        assert await links.use_code(s, row) is True
        assert await links.use_code(s, row) is False
        assert await links.find_code(s, second) is None


async def test_failures_are_counted_per_person_within_the_window(database: Database, cast: Cast) -> None:
    async with database.transaction() as s:
        for minutes in (0, 5, 11):
            await links.record_failure(s, cast.anna, NOW + timedelta(minutes=minutes))
        await links.record_failure(s, cast.boris, NOW + timedelta(minutes=11))
    async with database.transaction() as s:
        since = NOW + timedelta(minutes=12) - links.FAILURE_WINDOW
        assert await links.failures_since(s, cast.anna, since) == 2
        assert await links.failures_since(s, cast.boris, since) == 1
        rows = list(await s.exec(select(LinkAttempt).order_by(col(LinkAttempt.id))))
        assert len(rows) == 4
