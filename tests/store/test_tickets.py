"""Contract of every ticket operation in ``store.tickets``, on SQLite and PostgreSQL.

Each operation changes the ticket, writes its audit ``TicketEvent`` (action, from → to)
and, when the ticket is in the wrong state, raises ``TicketStateError`` without changing
anything: the refusals below are caught *inside* the transaction, which then commits, so
a half-done change would be persisted and seen by the before/after comparison.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from store import tickets
from store.db import Database
from store.models import MessageKind, Status, Ticket, TicketEvent
from store.tickets import TicketStateError
from tests.store.conftest import NOW, Cast

Op = Callable[[AsyncSession, Ticket], Awaitable[Any]]
LATER = NOW + timedelta(minutes=5)


# --- helpers ----------------------------------------------------------------------------


async def file_ticket(db: Database, cast: Cast, *, team: str = "it", text: str = "VPN is down", tier: str = "L1") -> int:
    async with db.transaction() as s:
        ticket = await tickets.create_ticket(
            s, team=team, category="network", priority="high", requester_id=cast.anna, text=text,
            platform="telegram", now=NOW, first_response_due=NOW + timedelta(hours=1),
            resolution_due=NOW + timedelta(hours=8), kb_query=text, tier=tier,
        )
        assert ticket.id is not None
        return ticket.id


async def apply(db: Database, number: int, op: Op) -> Ticket:
    """Run ``op`` on the locked ticket in one transaction; return the ticket as committed."""
    async with db.transaction() as s:
        ticket = await tickets.get_ticket(s, number, for_update=True)
        assert ticket is not None
        await op(s, ticket)
    return await load(db, number)


async def load(db: Database, number: int) -> Ticket:
    async with db.transaction() as s:
        ticket = await tickets.get_ticket(s, number)
        assert ticket is not None
        return ticket


async def audit_trail(db: Database, number: int) -> list[tuple[str, str | None, str | None]]:
    async with db.transaction() as s:
        return [(e.action, e.from_value, e.to_value) for e in await tickets.events(s, number)]


async def snapshot(db: Database, number: int) -> tuple[dict[str, Any], list[Any], list[Any]]:
    async with db.transaction() as s:
        ticket = await tickets.get_ticket(s, number)
        assert ticket is not None
        evs = [e.model_dump() for e in await tickets.events(s, number)]
        msgs = [m.model_dump() for m in await tickets.history(s, number)]
        return ticket.model_dump(), evs, msgs


async def assert_refused(db: Database, number: int, op: Op, exc: type[Exception] = TicketStateError) -> None:
    """``op`` raises ``exc`` and leaves the ticket, its history and its audit trail as they were."""
    before = await snapshot(db, number)
    async with db.transaction() as s:
        ticket = await tickets.get_ticket(s, number, for_update=True)
        assert ticket is not None
        with pytest.raises(exc):
            await op(s, ticket)
    assert await snapshot(db, number) == before


def claim_by(agent: int) -> Op:
    async def op(s: AsyncSession, t: Ticket) -> Any:
        assert t.id is not None
        return await tickets.claim_ticket(s, t.id, agent, NOW)

    return op


def reply(
    author: int | None, text: str = "Try reconnecting", kind: MessageKind = MessageKind.AGENT, now: datetime = LATER
) -> Op:
    async def op(s: AsyncSession, t: Ticket) -> Any:
        return await tickets.add_message(s, t, kind=kind, author_id=author, text=text, platform="slack", now=now)

    return op


def resolve_by(actor: int) -> Op:
    return lambda s, t: tickets.resolve_ticket(s, t, actor, LATER)


async def claimed(db: Database, cast: Cast) -> int:
    number = await file_ticket(db, cast)
    await apply(db, number, claim_by(cast.boris))
    return number


async def resolved(db: Database, cast: Cast) -> int:
    number = await claimed(db, cast)
    await apply(db, number, resolve_by(cast.boris))
    return number


# --- create -------------------------------------------------------------------------------


async def test_create_files_a_new_l1_ticket_with_its_first_message_and_a_create_event(database: Database, cast: Cast) -> None:
    number = await file_ticket(database, cast, text="  VPN   is down\nsince morning ")
    ticket = await load(database, number)
    assert (ticket.team, ticket.category, ticket.priority, ticket.tier) == ("it", "network", "high", "L1")
    assert ticket.status == Status.NEW and ticket.assignee_id is None and ticket.requester_id == cast.anna
    assert ticket.subject == "VPN is down since morning"
    assert ticket.created_at == NOW and ticket.first_response_due == NOW + timedelta(hours=1)
    assert ticket.resolution_due == NOW + timedelta(hours=8)
    assert ticket.first_response_at is None and ticket.resolved_at is None and ticket.csat is None
    async with database.transaction() as s:
        history = await tickets.history(s, number)
        events = await tickets.events(s, number)
    assert [(m.kind, m.author_id, m.text) for m in history] == [
        (MessageKind.REQUESTER, cast.anna, "  VPN   is down\nsince morning ")
    ]
    assert [(e.action, e.actor_id, e.from_value, e.to_value) for e in events] == [("create", cast.anna, None, "new")]
    assert events[0].detail == "team=it category=network priority=high"
    numbers = [number] + [await file_ticket(database, cast) for _ in range(2)]
    assert numbers == sorted(set(numbers))  # numbers increase


def test_subject_is_the_request_squeezed_to_one_line_and_cut_to_length() -> None:
    assert tickets.make_subject("  printer\n\t on 3rd   floor ") == "printer on 3rd floor"
    long = tickets.make_subject("word " * 100)
    assert len(long) == tickets.SUBJECT_MAX and long.endswith("…")


# --- claim --------------------------------------------------------------------------------


async def test_claim_is_won_once_and_audited_once(database: Database, cast: Cast) -> None:
    number = await file_ticket(database, cast)
    async with database.transaction() as s:
        first = await tickets.claim_ticket(s, number, cast.boris, LATER)
    assert first.won and first.holder_id == cast.boris
    assert first.ticket.status == Status.CLAIMED and first.ticket.assignee_id == cast.boris
    assert first.ticket.version == 1 and first.ticket.updated_at == LATER

    async with database.transaction() as s:
        second = await tickets.claim_ticket(s, number, cast.vera, LATER)
        again = await tickets.claim_ticket(s, number, cast.boris, LATER)
    assert not second.won and second.holder_id == cast.boris
    assert not again.won and again.holder_id == cast.boris
    ticket = await load(database, number)
    assert ticket.assignee_id == cast.boris and ticket.version == 1
    assert await audit_trail(database, number) == [("create", None, "new"), ("claim", "new", "claimed")]


async def test_claim_of_a_closed_or_missing_ticket_fails_and_changes_nothing(database: Database, cast: Cast) -> None:
    number = await file_ticket(database, cast)
    await apply(database, number, lambda s, t: tickets.close_ticket(s, t, None, NOW, reason="spam"))
    before = await snapshot(database, number)
    async with database.transaction() as s:
        result = await tickets.claim_ticket(s, number, cast.boris, LATER)
    assert not result.won and result.holder_id is None
    assert await snapshot(database, number) == before
    async with database.transaction() as s:
        with pytest.raises(LookupError):
            await tickets.claim_ticket(s, 999, cast.boris, NOW)


# --- assign / release ---------------------------------------------------------------------


async def test_assign_takes_a_new_ticket_and_reassign_records_from_and_to(database: Database, cast: Cast) -> None:
    number = await file_ticket(database, cast)
    ticket = await apply(database, number, lambda s, t: tickets.assign_ticket(s, t, cast.boris, cast.gleb, LATER))
    assert ticket.status == Status.CLAIMED and ticket.assignee_id == cast.boris and ticket.version == 1
    ticket = await apply(database, number, lambda s, t: tickets.assign_ticket(s, t, cast.vera, cast.boris, LATER))
    assert ticket.status == Status.CLAIMED and ticket.assignee_id == cast.vera and ticket.version == 2
    async with database.transaction() as s:
        assigns = [e for e in await tickets.events(s, number) if e.action == "assign"]
    assert [(e.actor_id, e.from_value, e.to_value) for e in assigns] == [
        (cast.gleb, None, str(cast.boris)),
        (cast.boris, str(cast.boris), str(cast.vera)),
    ]


async def test_assign_keeps_a_waiting_ticket_waiting_and_refuses_a_resolved_one(database: Database, cast: Cast) -> None:
    number = await claimed(database, cast)
    await apply(database, number, reply(cast.boris))
    ticket = await apply(database, number, lambda s, t: tickets.assign_ticket(s, t, cast.vera, None, LATER, detail="auto"))
    assert ticket.status == Status.WAITING and ticket.assignee_id == cast.vera
    async with database.transaction() as s:
        last = (await tickets.events(s, number))[-1]
    assert (last.action, last.actor_id, last.detail) == ("assign", None, "auto")
    await apply(database, number, resolve_by(cast.vera))
    await assert_refused(database, number, lambda s, t: tickets.assign_ticket(s, t, cast.boris, cast.gleb, LATER))


async def test_release_puts_a_held_ticket_back_in_the_queue(database: Database, cast: Cast) -> None:
    number = await claimed(database, cast)
    ticket = await apply(database, number, lambda s, t: tickets.release_ticket(s, t, cast.boris, LATER))
    assert ticket.status == Status.NEW and ticket.assignee_id is None
    async with database.transaction() as s:
        last = (await tickets.events(s, number))[-1]
    assert (last.action, last.actor_id, last.from_value, last.to_value) == ("release", cast.boris, str(cast.boris), None)
    # released, it can be claimed again
    # an unheld ticket cannot be released
    await assert_refused(database, number, lambda s, t: tickets.release_ticket(s, t, cast.boris, LATER))
    async with database.transaction() as s:
        assert (await tickets.claim_ticket(s, number, cast.vera, LATER)).won


async def test_release_of_a_waiting_ticket_goes_back_to_new_and_a_resolved_one_stays(database: Database, cast: Cast) -> None:
    number = await claimed(database, cast)
    await apply(database, number, reply(cast.boris))
    ticket = await apply(database, number, lambda s, t: tickets.release_ticket(s, t, cast.boris, LATER))
    assert ticket.status == Status.NEW and ticket.assignee_id is None
    done = await resolved(database, cast)
    await assert_refused(database, done, lambda s, t: tickets.release_ticket(s, t, cast.boris, LATER))


# --- messages -----------------------------------------------------------------------------


async def test_first_agent_reply_sets_first_response_and_waits_on_the_requester(database: Database, cast: Cast) -> None:
    number = await claimed(database, cast)
    ticket = await apply(database, number, reply(cast.boris, "Try reconnecting"))
    assert ticket.status == Status.WAITING and ticket.first_response_at == LATER
    # a later reply keeps the first response time and writes no status change
    ticket = await apply(database, number, reply(cast.boris, "Any news?", now=LATER + timedelta(hours=1)))
    assert ticket.first_response_at == LATER and ticket.status == Status.WAITING
    async with database.transaction() as s:
        history = await tickets.history(s, number)
    assert [(m.kind, m.text, m.platform) for m in history[1:]] == [
        (MessageKind.AGENT, "Try reconnecting", "slack"), (MessageKind.AGENT, "Any news?", "slack"),
    ]
    assert (await audit_trail(database, number))[-2:] == [("reply", "claimed", "waiting"), ("reply", None, None)]


async def test_requester_followup_puts_a_waiting_ticket_back_to_work(database: Database, cast: Cast) -> None:
    number = await claimed(database, cast)
    await apply(database, number, reply(cast.boris))
    ticket = await apply(database, number, reply(cast.anna, "Still broken", kind=MessageKind.REQUESTER))
    assert ticket.status == Status.CLAIMED and ticket.first_response_at == LATER
    assert (await audit_trail(database, number))[-1] == ("followup", "waiting", "claimed")
    # on a new ticket it stays new and is no first response
    fresh = await file_ticket(database, cast)
    ticket = await apply(database, fresh, reply(cast.anna, "Also Wi-Fi", kind=MessageKind.REQUESTER))
    assert ticket.status == Status.NEW and ticket.first_response_at is None
    assert (await audit_trail(database, fresh))[-1] == ("followup", None, None)


async def test_note_changes_neither_status_nor_first_response_and_outlives_resolution(database: Database, cast: Cast) -> None:
    number = await claimed(database, cast)
    ticket = await apply(database, number, reply(cast.boris, "checked the logs", kind=MessageKind.NOTE))
    assert ticket.status == Status.CLAIMED and ticket.first_response_at is None
    assert (await audit_trail(database, number))[-1] == ("note", None, None)
    async with database.transaction() as s:
        assert (await tickets.history(s, number))[-1].kind == MessageKind.NOTE
    # notes and system messages are allowed after resolution, replies and follow-ups are not
    await apply(database, number, resolve_by(cast.boris))
    await apply(database, number, reply(cast.boris, "root cause: expired cert", kind=MessageKind.NOTE))
    ticket = await apply(database, number, reply(None, "auto-closed", kind=MessageKind.SYSTEM))
    assert ticket.status == Status.RESOLVED
    assert [a for a, _, _ in await audit_trail(database, number)][-2:] == ["note", "system"]
    await assert_refused(database, number, reply(cast.boris, "late"))
    await assert_refused(database, number, reply(cast.anna, "late", kind=MessageKind.REQUESTER))


# --- escalate -----------------------------------------------------------------------------


async def test_escalation_walks_l1_l2_l3_back_to_the_queue_and_stops_at_l3(database: Database, cast: Cast) -> None:
    number = await claimed(database, cast)
    ticket = await apply(database, number, lambda s, t: tickets.escalate_ticket(s, t, cast.boris, LATER, reason="needs admin"))
    assert (ticket.tier, ticket.status, ticket.assignee_id) == ("L2", Status.NEW, None)
    await apply(database, number, claim_by(cast.vera))
    ticket = await apply(database, number, lambda s, t: tickets.escalate_ticket(s, t, cast.vera, LATER))
    assert (ticket.tier, ticket.status, ticket.assignee_id) == ("L3", Status.NEW, None)
    async with database.transaction() as s:
        escalations = [e for e in await tickets.events(s, number) if e.action == "escalate"]
    assert [(e.actor_id, e.from_value, e.to_value, e.detail) for e in escalations] == [
        (cast.boris, "L1", "L2", "needs admin"), (cast.vera, "L2", "L3", None),
    ]
    await assert_refused(database, number, lambda s, t: tickets.escalate_ticket(s, t, cast.gleb, LATER))
    # a resolved ticket is not escalated
    done = await resolved(database, cast)
    await assert_refused(database, done, lambda s, t: tickets.escalate_ticket(s, t, cast.boris, LATER))


def test_next_tier() -> None:
    assert [tickets.next_tier(t) for t in ("L1", "L2", "L3")] == ["L2", "L3", None]


# --- resolve / reopen / close / rate --------------------------------------------------------


async def test_resolve_records_the_time_and_the_status_it_left(database: Database, cast: Cast) -> None:
    held = await claimed(database, cast)
    answered = await claimed(database, cast)
    await apply(database, answered, reply(cast.boris))
    for number, left in ((held, "claimed"), (answered, "waiting")):
        ticket = await apply(database, number, resolve_by(cast.boris))
        assert ticket.status == Status.RESOLVED and ticket.resolved_at == LATER
        assert (await audit_trail(database, number))[-1] == ("resolve", left, "resolved")


async def test_resolve_twice_or_after_close_is_refused(database: Database, cast: Cast) -> None:
    number = await resolved(database, cast)
    await assert_refused(database, number, resolve_by(cast.boris))
    await apply(database, number, lambda s, t: tickets.close_ticket(s, t, None, LATER))
    await assert_refused(database, number, resolve_by(cast.boris))


async def test_reopen_goes_back_to_the_assignee(database: Database, cast: Cast) -> None:
    number = await resolved(database, cast)
    ticket = await apply(database, number, lambda s, t: tickets.reopen_ticket(s, t, cast.anna, LATER))
    assert (ticket.status, ticket.assignee_id, ticket.resolved_at) == (Status.CLAIMED, cast.boris, None)
    async with database.transaction() as s:
        last = (await tickets.events(s, number))[-1]
    assert (last.action, last.actor_id, last.from_value, last.to_value) == ("reopen", cast.anna, "resolved", "claimed")


async def test_reopen_of_an_unassigned_ticket_goes_to_the_queue_and_only_resolved_reopen(database: Database, cast: Cast) -> None:
    number = await file_ticket(database, cast)
    await apply(database, number, resolve_by(cast.gleb))  # a lead resolved it straight from the queue
    ticket = await apply(database, number, lambda s, t: tickets.reopen_ticket(s, t, cast.anna, LATER))
    assert (ticket.status, ticket.assignee_id) == (Status.NEW, None)
    assert (await audit_trail(database, number))[-1] == ("reopen", "resolved", "new")
    # only a resolved ticket can be reopened: not an open one, not a closed one
    await assert_refused(database, number, lambda s, t: tickets.reopen_ticket(s, t, cast.anna, LATER))
    await apply(database, number, resolve_by(cast.gleb))
    await apply(database, number, lambda s, t: tickets.close_ticket(s, t, None, LATER))
    await assert_refused(database, number, lambda s, t: tickets.reopen_ticket(s, t, cast.anna, LATER))


async def test_close_keeps_or_sets_the_resolution_time_and_is_final(database: Database, cast: Cast) -> None:
    number = await resolved(database, cast)
    closing = LATER + timedelta(days=3)
    ticket = await apply(database, number, lambda s, t: tickets.close_ticket(s, t, None, closing, reason="no rating"))
    assert (ticket.status, ticket.closed_at, ticket.resolved_at) == (Status.CLOSED, closing, LATER)
    async with database.transaction() as s:
        last = (await tickets.events(s, number))[-1]
    assert (last.action, last.actor_id, last.from_value, last.to_value, last.detail) == (
        "close", None, "resolved", "closed", "no rating",
    )
    # an open ticket (auto-close after no answer) is also marked resolved; closed is final
    number = await claimed(database, cast)
    ticket = await apply(database, number, lambda s, t: tickets.close_ticket(s, t, None, LATER, reason="no reply"))
    assert (ticket.status, ticket.closed_at, ticket.resolved_at) == (Status.CLOSED, LATER, LATER)
    assert (await audit_trail(database, number))[-1] == ("close", "claimed", "closed")
    await assert_refused(database, number, lambda s, t: tickets.close_ticket(s, t, None, LATER))


async def test_rating_records_the_score_and_closes(database: Database, cast: Cast) -> None:
    number = await resolved(database, cast)
    ticket = await apply(database, number, lambda s, t: tickets.rate_ticket(s, t, 4, cast.anna, LATER))
    assert (ticket.csat, ticket.status, ticket.closed_at) == (4, Status.CLOSED, LATER)
    async with database.transaction() as s:
        rate, close = (await tickets.events(s, number))[-2:]
    assert (rate.action, rate.actor_id, rate.to_value) == ("rate", cast.anna, "4")
    assert (close.action, close.from_value, close.to_value, close.detail) == ("close", "resolved", "closed", "rated")
    # rated once: a second rating is refused
    await assert_refused(database, number, lambda s, t: tickets.rate_ticket(s, t, 1, cast.anna, LATER))


async def test_rating_out_of_range_or_of_an_unresolved_ticket_is_refused(database: Database, cast: Cast) -> None:
    number = await resolved(database, cast)
    for score in (0, 6, -1):
        await assert_refused(
            database, number, lambda s, t: tickets.rate_ticket(s, t, score, cast.anna, LATER), ValueError  # noqa: B023
        )
    unresolved = await claimed(database, cast)
    await assert_refused(database, unresolved, lambda s, t: tickets.rate_ticket(s, t, 5, cast.anna, LATER))


async def test_every_change_bumps_the_version_and_the_update_time(database: Database, cast: Cast) -> None:
    number = await file_ticket(database, cast)
    steps: list[Op] = [
        claim_by(cast.boris),
        reply(cast.boris),
        lambda s, t: tickets.escalate_ticket(s, t, cast.boris, LATER),
        lambda s, t: tickets.assign_ticket(s, t, cast.vera, cast.gleb, LATER),
        lambda s, t: tickets.release_ticket(s, t, cast.vera, LATER),
        resolve_by(cast.gleb),
        lambda s, t: tickets.reopen_ticket(s, t, cast.anna, LATER),
        resolve_by(cast.gleb),
        lambda s, t: tickets.rate_ticket(s, t, 5, cast.anna, LATER),
    ]
    versions = [(await load(database, number)).version]
    for i, step in enumerate(steps):
        ticket = await apply(database, number, step)
        versions.append(ticket.version)
        assert ticket.updated_at == (NOW if i == 0 else LATER)
    assert versions == sorted(set(versions)), versions


# --- refusals -----------------------------------------------------------------------------


async def test_denied_keeps_a_real_ticket_as_reference_and_a_forged_id_in_the_detail(database: Database, cast: Cast) -> None:
    number = await file_ticket(database, cast)
    async with database.transaction() as s:
        await tickets.audit_denied(s, ticket_id=number, actor_id=cast.dina, action="claim", reason="not_agent", now=NOW)
        await tickets.audit_denied(s, ticket_id=999, actor_id=cast.anna, action="resolve", reason="no_ticket", now=NOW)
        await tickets.audit_denied(s, ticket_id=None, actor_id=cast.anna, action="queue", reason="not_agent", now=NOW)
        await tickets.audit_denied(s, ticket_id=10**20, actor_id=cast.anna, action="rate", reason="no_ticket", now=NOW)
        denied = list(await s.exec(select(TicketEvent).where(TicketEvent.action == "denied").order_by(col(TicketEvent.id))))
    assert [(e.ticket_id, e.actor_id, e.detail) for e in denied] == [
        (number, cast.dina, "claim: not_agent"),
        (None, cast.anna, "resolve: no_ticket (ticket id 999)"),
        (None, cast.anna, "queue: not_agent"),
        (None, cast.anna, f"rate: no_ticket (ticket id {10**20})"),
    ]


async def test_numbers_outside_the_id_range_are_no_ticket(database: Database, cast: Cast) -> None:
    """Regression: 2**31 and up failed as a query parameter on PostgreSQL (int4), 2**63 on SQLite."""
    number = await file_ticket(database, cast)
    async with database.transaction() as s:
        assert await tickets.get_ticket(s, number) is not None
        for forged in (0, -1, 2**31, 2**63, 10**20):
            assert await tickets.get_ticket(s, forged, for_update=True) is None


# --- queries ------------------------------------------------------------------------------


async def test_queue_mine_and_requester_lists(database: Database, cast: Cast) -> None:
    held = await claimed(database, cast)  # boris
    waiting = await file_ticket(database, cast)
    done = await resolved(database, cast)
    hr = await file_ticket(database, cast, team="hr")
    async with database.transaction() as s:
        queue = [t.id for t in await tickets.team_queue(s, ["it"])]
        both = [t.id for t in await tickets.team_queue(s, ["it", "hr"])]
        mine = [t.id for t in await tickets.assigned_to(s, cast.boris)]
        open_of_anna = [t.id for t in await tickets.open_tickets_of_requester(s, cast.anna)]
        recent_only = await tickets.open_tickets_of_requester(s, cast.anna, since=NOW + timedelta(seconds=1))
        all_of_anna = [t.id for t in await tickets.tickets_of_requester(s, cast.anna)]
    assert queue == [waiting, held]  # unassigned first, then by number; resolved ones are not in the queue
    assert both == [waiting, hr, held]
    assert mine == [held]
    assert open_of_anna == [hr, waiting, held]  # newest first
    assert recent_only == []
    assert all_of_anna == [hr, done, waiting, held]


async def test_open_load_counts_open_tickets_per_agent(database: Database, cast: Cast) -> None:
    await claimed(database, cast)
    await claimed(database, cast)
    await resolved(database, cast)
    third = await file_ticket(database, cast)
    await apply(database, third, lambda s, t: tickets.assign_ticket(s, t, cast.vera, None, NOW))
    async with database.transaction() as s:
        load = await tickets.open_load(s, [cast.boris, cast.vera, cast.gleb])
        assert await tickets.open_load(s, []) == {}
    assert load == {cast.boris: 2, cast.vera: 1, cast.gleb: 0}


async def test_last_auto_assignee_is_per_team_and_ignores_manual_assignments(database: Database, cast: Cast) -> None:
    async with database.transaction() as s:
        assert await tickets.last_auto_assignee(s, "it") is None
    first = await file_ticket(database, cast)
    await apply(database, first, lambda s, t: tickets.assign_ticket(s, t, cast.boris, None, NOW, detail="auto"))
    second = await file_ticket(database, cast)
    await apply(database, second, lambda s, t: tickets.assign_ticket(s, t, cast.vera, cast.gleb, NOW))
    hr = await file_ticket(database, cast, team="hr")
    await apply(database, hr, lambda s, t: tickets.assign_ticket(s, t, cast.dina, None, NOW, detail="auto"))
    async with database.transaction() as s:
        assert await tickets.last_auto_assignee(s, "it") == cast.boris
        assert await tickets.last_auto_assignee(s, "hr") == cast.dina


async def test_overdue_since_counts_from_the_due_time_that_applies(database: Database, cast: Cast) -> None:
    number = await file_ticket(database, cast)
    ticket = await load(database, number)
    assert tickets.overdue_since(NOW + timedelta(hours=1), ticket) is None
    assert tickets.overdue_since(NOW + timedelta(hours=2), ticket) == timedelta(hours=1)
    await apply(database, number, claim_by(cast.boris))
    ticket = await apply(database, number, reply(cast.boris))  # answered: now the resolution due time counts
    assert tickets.overdue_since(NOW + timedelta(hours=2), ticket) is None
    assert tickets.overdue_since(NOW + timedelta(hours=9), ticket) == timedelta(hours=1)
