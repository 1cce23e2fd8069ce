"""Operations that change tickets.

Each function runs inside the caller's transaction (one inbound event = one
transaction, see ``handlers.engine``), changes the ticket, appends to its history
where relevant and always writes an audit :class:`TicketEvent`. Functions that
can race are written so that the database decides: :func:`claim_ticket` is a
compare-and-set ``UPDATE ... WHERE assignee_id IS NULL``; the others lock the
row first (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite transactions are
already serialised by ``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import case, func, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from store import core
from store.models import (
    OPEN_STATUSES,
    MessageKind,
    Status,
    Ticket,
    TicketEvent,
    TicketMessage,
)

TIER_ORDER = ("L1", "L2", "L3")
SUBJECT_MAX = 120


class TicketStateError(Exception):
    """The ticket is not in a state that allows the operation."""

    def __init__(self, ticket: Ticket, operation: str) -> None:
        self.ticket = ticket
        self.operation = operation
        super().__init__(f"#{ticket.id} is {ticket.status}; cannot {operation}")


def make_subject(text: str) -> str:
    """First line of the request, trimmed to a subject length."""
    line = " ".join(text.strip().split())
    return line if len(line) <= SUBJECT_MAX else line[: SUBJECT_MAX - 1] + "…"


async def audit(
    s: AsyncSession,
    *,
    ticket_id: int | None,
    actor_id: int | None,
    action: str,
    now: datetime,
    from_value: str | None = None,
    to_value: str | None = None,
    detail: str | None = None,
) -> TicketEvent:
    values = {
        "ticket_id": ticket_id, "actor_id": actor_id, "action": action, "from_value": from_value,
        "to_value": to_value, "detail": detail[:1000] if detail else None, "created_at": now,
    }
    result = await core.run(s, _AUDIT, values)
    ev = core.from_row(TicketEvent, {"id": result.inserted_primary_key[0], **values})
    if ticket_id is not None:
        s.info.setdefault(CHANGES_KEY, []).append(ev)
    return ev


CHANGES_KEY = "deskbot.ticket_changes"
_AUDIT = sa.insert(TicketEvent.__table__)  # type: ignore[attr-defined]  # built once (store.core)


def changes_in(s: AsyncSession) -> list[TicketEvent]:
    """The audit events this transaction wrote about tickets, in order: what changed (the
    App Home refresh reads them; every ticket operation audits, so none is missed)."""
    return list(s.info.get(CHANGES_KEY, ()))


MAX_TICKET_ID = 2**31 - 1  # ticket.id is an INTEGER (int4 on PostgreSQL)


async def get_ticket(s: AsyncSession, ticket_id: int, *, for_update: bool = False) -> Ticket | None:
    if not 0 < ticket_id <= MAX_TICKET_ID:
        return None  # a forged or mistyped number; out of range it would fail as a query parameter
    row = (await core.run(s, _GET_LOCKED if for_update else _GET, {"tid": ticket_id})).first()
    if row is None:
        return None
    # The session's object for it, with the row's values (as populate_existing did): ORM code
    # changes it and s.add + flush writes it; core.run flushed its pending changes first.
    return core.adopt(s, Ticket, dict(zip(_TICKET_KEYS, row, strict=True)), refresh=True)


_TICKET = Ticket.__table__  # type: ignore[attr-defined]
_TICKET_KEYS = tuple(c.key for c in _TICKET.c)
_GET = sa.select(*_TICKET.c).where(_TICKET.c.id == sa.bindparam("tid"))
_GET_LOCKED = _GET.with_for_update()


async def create_ticket(
    s: AsyncSession,
    *,
    team: str,
    category: str,
    priority: str,
    requester_id: int,
    text: str,
    platform: str,
    now: datetime,
    first_response_due: datetime | None,
    resolution_due: datetime | None,
    kb_query: str | None = None,
    tier: str = "L1",
    fields: dict[str, str] | None = None,
    subject: str | None = None,
    attachments: Sequence[dict[str, Any]] = (),
    chat_id: str | None = None,
    message_id: str | None = None,
) -> Ticket:
    """File a new ticket with its first message and a ``create`` audit event.

    ``fields`` are the request-form answers (question key → answer); ``subject`` replaces
    the one made from ``text`` (a file sent without a caption is named by its file name);
    ``attachments``, ``chat_id`` and ``message_id`` go on the first message."""
    ticket = Ticket(
        fields=dict(fields or {}),
        team=team,
        category=category,
        priority=priority,
        tier=tier,
        requester_id=requester_id,
        subject=make_subject(subject or text) or "—",
        platform=platform,
        kb_query=kb_query[:4000] if kb_query else kb_query,  # VARCHAR(4000)
        created_at=now,
        updated_at=now,
        first_response_due=first_response_due,
        resolution_due=resolution_due,
    )
    s.add(ticket)
    await s.flush()
    assert ticket.id is not None
    await _insert_message(
        s, ticket_id=ticket.id, kind=MessageKind.REQUESTER, author_id=requester_id, text=text, platform=platform,
        created_at=now, attachments=list(attachments), chat_id=chat_id, message_id=message_id,
    )
    await audit(
        s, ticket_id=ticket.id, actor_id=requester_id, action="create", now=now,
        to_value=Status.NEW, detail=f"team={team} category={category} priority={priority}",
    )
    return ticket


_CLAIM = (
    sa.update(_TICKET)
    .where(_TICKET.c.id == sa.bindparam("tid"), _TICKET.c.assignee_id.is_(None), _TICKET.c.status == Status.NEW)
    .values(assignee_id=sa.bindparam("agent_id"), status=Status.CLAIMED, version=_TICKET.c.version + 1,
            updated_at=sa.bindparam("now"))
)


@dataclass(frozen=True)
class ClaimResult:
    won: bool
    ticket: Ticket
    holder_id: int | None


async def claim_ticket(s: AsyncSession, ticket_id: int, agent_id: int, now: datetime) -> ClaimResult:
    """Compare-and-set: the ticket becomes ``agent_id``'s only if nobody holds it."""
    result = await core.run(s, _CLAIM, {"tid": ticket_id, "agent_id": agent_id, "now": now})
    won = result.rowcount == 1
    ticket = await get_ticket(s, ticket_id)  # the row as it is now (ours or the winner's)
    if ticket is None:
        raise LookupError(ticket_id)
    if won:
        await audit(
            s, ticket_id=ticket_id, actor_id=agent_id, action="claim", now=now,
            from_value=Status.NEW, to_value=Status.CLAIMED,
        )
    return ClaimResult(won=won, ticket=ticket, holder_id=ticket.assignee_id)


def _require(ticket: Ticket, operation: str, allowed: Sequence[str]) -> None:
    if ticket.status not in allowed:
        raise TicketStateError(ticket, operation)


def _touch(ticket: Ticket, now: datetime) -> None:
    ticket.version += 1
    ticket.updated_at = now


async def assign_ticket(
    s: AsyncSession, ticket: Ticket, assignee_id: int, actor_id: int | None, now: datetime,
    *, detail: str | None = None,
) -> Ticket:
    _require(ticket, "assign", OPEN_STATUSES)
    before = ticket.assignee_id
    ticket.assignee_id = assignee_id
    if ticket.status == Status.NEW:
        ticket.status = Status.CLAIMED
    _touch(ticket, now)
    s.add(ticket)
    await audit(
        s, ticket_id=ticket.id, actor_id=actor_id, action="assign", now=now,
        from_value=str(before) if before else None, to_value=str(assignee_id), detail=detail,
    )
    return ticket


async def release_ticket(s: AsyncSession, ticket: Ticket, actor_id: int, now: datetime) -> Ticket:
    _require(ticket, "release", (Status.CLAIMED, Status.WAITING))
    before = ticket.assignee_id
    ticket.assignee_id = None
    ticket.status = Status.NEW
    _touch(ticket, now)
    s.add(ticket)
    await audit(
        s, ticket_id=ticket.id, actor_id=actor_id, action="release", now=now,
        from_value=str(before) if before else None, to_value=None,
    )
    return ticket


async def add_message(
    s: AsyncSession,
    ticket: Ticket,
    *,
    kind: MessageKind,
    author_id: int | None,
    text: str,
    platform: str | None,
    now: datetime,
    attachments: Sequence[dict[str, Any]] = (),
    chat_id: str | None = None,
    message_id: str | None = None,
) -> TicketMessage:
    """Append to the history. Agent replies count as first response and wait on the requester;
    a requester's follow-up puts a waiting ticket back to work. ``attachments`` are file
    references; ``chat_id`` / ``message_id`` say where the platform shows the message."""
    if kind in (MessageKind.AGENT, MessageKind.REQUESTER):
        _require(ticket, "add a message", OPEN_STATUSES)
    msg = await _insert_message(
        s, ticket_id=ticket.id, kind=kind, author_id=author_id, text=text, platform=platform,
        created_at=now, attachments=list(attachments), chat_id=chat_id, message_id=message_id,
    )
    before = ticket.status
    if kind == MessageKind.AGENT:
        if ticket.first_response_at is None:
            ticket.first_response_at = now
        ticket.status = Status.WAITING
    elif kind == MessageKind.REQUESTER and ticket.status == Status.WAITING:
        ticket.status = Status.CLAIMED
    _touch(ticket, now)
    s.add(ticket)
    action = {
        MessageKind.AGENT: "reply",
        MessageKind.NOTE: "note",
        MessageKind.REQUESTER: "followup",
        MessageKind.SYSTEM: "system",
        MessageKind.EDIT: "edit",
    }[kind]
    await audit(
        s, ticket_id=ticket.id, actor_id=author_id, action=action, now=now,
        from_value=before if before != ticket.status else None,
        to_value=ticket.status if before != ticket.status else None,
    )
    return msg


async def _insert_message(s: AsyncSession, **values: Any) -> TicketMessage:
    """One history row through a prebuilt INSERT (every message of every ticket); the row is
    the session's TicketMessage, as if added and flushed."""
    values = {"edit_of": None, **values}
    result = await core.run(s, _MESSAGE, values)
    return core.adopt(s, TicketMessage, {"id": result.inserted_primary_key[0], **values}, refresh=True)


_MESSAGE = sa.insert(TicketMessage.__table__)  # type: ignore[attr-defined]


def next_tier(tier: str) -> str | None:
    i = TIER_ORDER.index(tier)
    return TIER_ORDER[i + 1] if i + 1 < len(TIER_ORDER) else None


async def escalate_ticket(
    s: AsyncSession, ticket: Ticket, actor_id: int | None, now: datetime, *, reason: str | None = None,
    to_tier: str | None = None,
) -> Ticket:
    """Move to ``to_tier`` (default: the next tier; it must be higher than the current one);
    the ticket goes back to that tier's queue unassigned."""
    _require(ticket, "escalate", OPEN_STATUSES)
    new_tier = to_tier or next_tier(ticket.tier)
    if new_tier is None or TIER_ORDER.index(new_tier) <= TIER_ORDER.index(ticket.tier):
        raise TicketStateError(ticket, "escalate beyond L3")
    before = ticket.tier
    ticket.tier = new_tier
    ticket.assignee_id = None
    ticket.status = Status.NEW
    _touch(ticket, now)
    s.add(ticket)
    await audit(
        s, ticket_id=ticket.id, actor_id=actor_id, action="escalate", now=now,
        from_value=before, to_value=new_tier, detail=reason,
    )
    return ticket


async def resolve_ticket(s: AsyncSession, ticket: Ticket, actor_id: int | None, now: datetime, *,
                         note: str | None = None) -> Ticket:
    _require(ticket, "resolve", OPEN_STATUSES)
    before = ticket.status
    ticket.status = Status.RESOLVED
    ticket.resolved_at = now
    ticket.resolution_note = note
    _touch(ticket, now)
    s.add(ticket)
    await audit(s, ticket_id=ticket.id, actor_id=actor_id, action="resolve", now=now,
                from_value=before, to_value=Status.RESOLVED, detail=note)
    return ticket


async def reopen_ticket(
    s: AsyncSession, ticket: Ticket, actor_id: int, now: datetime, *, due: DueTimes | None = None,
) -> Ticket:
    """Back to work; ``due`` are the recomputed SLA due times, kept in the event's detail."""
    _require(ticket, "reopen", (Status.RESOLVED,))
    ticket.status = Status.CLAIMED if ticket.assignee_id else Status.NEW
    ticket.resolved_at = None
    if due is not None:
        ticket.first_response_due, ticket.resolution_due = due.first_response, due.resolution
        ticket.sla_paused_minutes = due.paused_minutes
    _touch(ticket, now)
    s.add(ticket)
    await audit(s, ticket_id=ticket.id, actor_id=actor_id, action="reopen", now=now,
                from_value=Status.RESOLVED, to_value=ticket.status, detail=due.detail() if due else None)
    return ticket


async def close_ticket(s: AsyncSession, ticket: Ticket, actor_id: int | None, now: datetime, *, reason: str | None = None) -> Ticket:
    _require(ticket, "close", (Status.RESOLVED,) + OPEN_STATUSES)
    before = ticket.status
    ticket.status = Status.CLOSED
    ticket.closed_at = now
    if ticket.resolved_at is None:
        ticket.resolved_at = now
    _touch(ticket, now)
    s.add(ticket)
    await audit(s, ticket_id=ticket.id, actor_id=actor_id, action="close", now=now,
                from_value=before, to_value=Status.CLOSED, detail=reason)
    return ticket


async def rate_ticket(s: AsyncSession, ticket: Ticket, score: int, actor_id: int, now: datetime) -> Ticket:
    """Record CSAT (1–5) and close the ticket."""
    if not 1 <= score <= 5:
        raise ValueError("CSAT score must be 1..5")
    _require(ticket, "rate", (Status.RESOLVED,))
    ticket.csat = score
    s.add(ticket)
    await audit(s, ticket_id=ticket.id, actor_id=actor_id, action="rate", now=now, to_value=str(score))
    return await close_ticket(s, ticket, actor_id, now, reason="rated")


async def audit_denied(
    s: AsyncSession, *, ticket_id: int | None, actor_id: int, action: str, reason: str, now: datetime
) -> None:
    """Record a refused action. A forged ticket id is kept in the detail, not as a reference."""
    exists = ticket_id is not None and await get_ticket(s, ticket_id) is not None
    await audit(
        s, ticket_id=ticket_id if exists else None, actor_id=actor_id, action="denied", now=now,
        detail=f"{action}: {reason}" + ("" if exists or ticket_id is None else f" (ticket id {ticket_id})"),
    )


async def open_tickets_of_requester(
    s: AsyncSession, requester_id: int, *, since: datetime | None = None
) -> list[Ticket]:
    """The requester's open tickets (created at ``since`` or later), newest first."""
    rows = await core.run(s, _OPEN_OF_REQUESTER_SINCE if since is not None else _OPEN_OF_REQUESTER,
                          {"requester_id": requester_id, "since": since})
    return [core.adopt(s, Ticket, dict(zip(_TICKET_KEYS, row, strict=True)), refresh=False) for row in rows]


_OPEN_OF_REQUESTER = (
    sa.select(*_TICKET.c)
    .where(_TICKET.c.requester_id == sa.bindparam("requester_id"),
           _TICKET.c.status.in_([str(status) for status in OPEN_STATUSES]))
    .order_by(_TICKET.c.id.desc())
)
_OPEN_OF_REQUESTER_SINCE = _OPEN_OF_REQUESTER.where(
    _TICKET.c.created_at >= sa.bindparam("since", type_=_TICKET.c.created_at.type))


async def tickets_of_requester(s: AsyncSession, requester_id: int, limit: int = 10) -> list[Ticket]:
    stmt = select(Ticket).where(Ticket.requester_id == requester_id).order_by(col(Ticket.id).desc()).limit(limit)
    return list(await s.exec(stmt))


async def team_queue(
    s: AsyncSession, teams: Sequence[str], limit: int = 20, *, priorities: Sequence[str] = (),
    unclaimed: bool = False,
) -> list[Ticket]:
    """Open tickets of ``teams`` (``unclaimed``: only those nobody holds): by priority
    (``priorities`` lists keys most urgent first; unknown keys last), then the SLA due time
    that matters now (first response while there is none, else resolution), then unassigned
    before held, then number."""
    by_priority = (
        [case({key: i for i, key in enumerate(priorities)}, value=col(Ticket.priority), else_=len(priorities))]
        if priorities else []
    )
    due = case((col(Ticket.first_response_at).is_(None), col(Ticket.first_response_due)), else_=col(Ticket.resolution_due))
    statuses = (Status.NEW,) if unclaimed else OPEN_STATUSES
    stmt = (
        select(Ticket)
        .where(col(Ticket.team).in_(teams), col(Ticket.status).in_(statuses))
        .order_by(*by_priority, due.is_(None), due, col(Ticket.assignee_id).is_not(None), col(Ticket.id))
        .limit(limit)
    )
    return list(await s.exec(stmt))


async def search_tickets(s: AsyncSession, teams: Sequence[str], needle: str, limit: int = 20) -> list[Ticket]:
    """Tickets of ``teams`` whose subject or any message contains ``needle``, newest first.

    Case-insensitive in portable SQL: ``lower()`` on both sides, plus the needle's
    capitalised and upper-case forms because SQLite's ``lower()`` folds ASCII only.
    """
    forms = {needle.lower(), needle, needle.capitalize(), needle.upper()}

    def matches(column: Any) -> Any:
        return or_(*(func.lower(column).contains(f.lower(), autoescape=True) for f in forms),
                   *(column.contains(f, autoescape=True) for f in forms))

    in_messages = select(TicketMessage.ticket_id).where(matches(col(TicketMessage.text)))
    stmt = (
        select(Ticket)
        .where(col(Ticket.team).in_(teams), or_(matches(col(Ticket.subject)), col(Ticket.id).in_(in_messages)))
        .order_by(col(Ticket.id).desc())
        .limit(limit)
    )
    return list(await s.exec(stmt))


async def assigned_to(s: AsyncSession, agent_id: int, limit: int = 20) -> list[Ticket]:
    stmt = (
        select(Ticket)
        .where(Ticket.assignee_id == agent_id, col(Ticket.status).in_(OPEN_STATUSES))
        .order_by(col(Ticket.id))
        .limit(limit)
    )
    return list(await s.exec(stmt))


async def open_load(s: AsyncSession, agent_ids: Sequence[int]) -> dict[int, int]:
    """Open tickets per agent (for least-loaded assignment)."""
    if not agent_ids:
        return {}
    rows = await s.exec(
        select(Ticket.assignee_id, func.count())
        .where(col(Ticket.assignee_id).in_(agent_ids), col(Ticket.status).in_(OPEN_STATUSES))
        .group_by(col(Ticket.assignee_id))
    )
    load = {a: 0 for a in agent_ids}
    for aid, n in rows:
        load[aid] = n  # type: ignore[index]
    return load


async def last_auto_assignee(s: AsyncSession, team: str) -> int | None:
    """The agent who got the team's most recent automatic assignment (for round-robin)."""
    row = (
        await s.exec(
            select(TicketEvent.to_value)
            .join(Ticket, col(Ticket.id) == col(TicketEvent.ticket_id))
            .where(Ticket.team == team, TicketEvent.action == "assign", TicketEvent.detail == "auto")
            .order_by(col(TicketEvent.id).desc())
            .limit(1)
        )
    ).first()
    return int(row) if row else None


async def history(s: AsyncSession, ticket_id: int) -> list[TicketMessage]:
    """The ticket's messages, oldest first: the session's objects (a prebuilt Core read; the
    resolved card's KB offer reads it on every resolve)."""
    return [core.adopt(s, TicketMessage, dict(zip(_MESSAGE_KEYS, row, strict=True)), refresh=False)
            for row in await core.run(s, _HISTORY, {"ticket_id": ticket_id})]


_MESSAGE_TABLE = TicketMessage.__table__  # type: ignore[attr-defined]
_MESSAGE_KEYS = tuple(c.key for c in _MESSAGE_TABLE.c)
_HISTORY = (sa.select(*_MESSAGE_TABLE.c).where(_MESSAGE_TABLE.c.ticket_id == sa.bindparam("ticket_id"))
            .order_by(_MESSAGE_TABLE.c.id))


async def events(s: AsyncSession, ticket_id: int) -> list[TicketEvent]:
    return list(
        await s.exec(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(col(TicketEvent.id)))
    )


def overdue_since(now: datetime, ticket: Ticket) -> timedelta | None:
    """How long the ticket has been past its first-response or resolution due time."""
    due = ticket.resolution_due if ticket.first_response_at else ticket.first_response_due
    if due is None or now <= due:
        return None
    return now - due


async def move_message_out(
    s: AsyncSession, ticket: Ticket, message_id: int, actor_id: int, now: datetime,
    *, restore_status: str | None = None,
) -> str | None:
    """Take the requester's message ``message_id`` out of ``ticket`` (it was added there by
    conversation routing but is a new request). Returns its text, or ``None`` if it is not a
    requester message of ``actor_id`` on this ticket. A ticket that was waiting on the
    requester goes back to waiting (the message did not answer the agent)."""
    msg = await s.get(TicketMessage, message_id)
    if (
        msg is None or msg.ticket_id != ticket.id or msg.author_id != actor_id
        or msg.kind != MessageKind.REQUESTER
    ):
        return None
    text = msg.text
    await s.delete(msg)
    before = ticket.status
    if restore_status == Status.WAITING and ticket.status == Status.CLAIMED:
        ticket.status = Status.WAITING
    _touch(ticket, now)
    s.add(ticket)
    await audit(
        s, ticket_id=ticket.id, actor_id=actor_id, action="move_out", now=now,
        from_value=before if before != ticket.status else None,
        to_value=ticket.status if before != ticket.status else None,
        detail=f"message {message_id} moved to a new request",
    )
    return text


async def find_message(s: AsyncSession, platform: str, chat_id: str, message_id: str) -> TicketMessage | None:
    """The ticket message written as platform message ``message_id`` in ``chat_id`` (not an edit)."""
    return (
        await s.exec(
            select(TicketMessage)
            .where(
                TicketMessage.platform == platform, TicketMessage.chat_id == chat_id,
                TicketMessage.message_id == message_id, TicketMessage.kind != MessageKind.EDIT,
            )
            .order_by(col(TicketMessage.id))
        )
    ).first()


async def record_edit(
    s: AsyncSession, original: TicketMessage, *, author_id: int | None, text: str, now: datetime,
    attachments: Sequence[dict[str, Any]] = (),
) -> TicketMessage:
    """Keep the original and add its new text as an ``edit`` message (audited; no status change)."""
    edit = TicketMessage(
        ticket_id=original.ticket_id, kind=MessageKind.EDIT, author_id=author_id, text=text,
        platform=original.platform, chat_id=original.chat_id, message_id=original.message_id,
        created_at=now, attachments=list(attachments), edit_of=original.id,
    )
    s.add(edit)
    await s.flush()
    await audit(s, ticket_id=original.ticket_id, actor_id=author_id, action="edit", now=now,
                detail=f"message {original.id}")
    return edit


# --- SLA due times (H-CAL) ---------------------------------------------------------------------

@dataclass(frozen=True)
class DueTimes:
    """Recomputed SLA due times of a ticket (and the paused business minutes they allow for)."""

    first_response: datetime | None
    resolution: datetime | None
    paused_minutes: int

    def detail(self) -> str:
        def iso(t: datetime | None) -> str:
            return t.isoformat(timespec="minutes") if t else "-"

        return (f"first_response_due={iso(self.first_response)} resolution_due={iso(self.resolution)} "
                f"paused_minutes={self.paused_minutes}")


async def change_priority(
    s: AsyncSession, ticket: Ticket, priority: str, actor_id: int, now: datetime, *, due: DueTimes,
) -> Ticket:
    """Give an open ticket another priority and the due times that go with it (in the detail)."""
    _require(ticket, "change priority", OPEN_STATUSES)
    before = ticket.priority
    ticket.priority = priority
    ticket.first_response_due, ticket.resolution_due = due.first_response, due.resolution
    _touch(ticket, now)
    s.add(ticket)
    await audit(s, ticket_id=ticket.id, actor_id=actor_id, action="priority", now=now,
                from_value=before, to_value=priority, detail=due.detail())
    return ticket
