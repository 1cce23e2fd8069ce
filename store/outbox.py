"""The outbox: messages written with the change they report, delivered by a worker.

A row is ``pending`` until a sender accepts it (``sent``), gives up on the
recipient (``blocked``) or runs out of attempts (``failed``). Rows of one chat
are delivered in order: a row waiting for a retry holds back later rows of the
same chat.

**Claims.** A worker takes a batch of due rows in one statement (:func:`claim_due`)
by moving their ``next_attempt_at`` a lease ahead (``CLAIM_SECONDS``): a claimed row
is not due, so no other worker (another replica, a successor after a crash) takes it,
and since it is its chat's first pending row, it holds back the rest of its chat just
as a retry does. A worker killed with rows in hand leaves them claimed; they become
due again when the lease runs out. Outcomes are written for a whole batch in one
transaction (:func:`record`), which also claims each settled chat's next row.

**Waking the worker.** A transaction that wrote outbox rows tells the callbacks
registered with :func:`on_commit` for its engine, after the commit (same process).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import and_, bindparam, event, func, insert, or_, tuple_, update
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import ORMExecuteState, Session
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from store import core, people
from store.models import Identity, OutboxMessage, OutboxStatus, TicketPost

MAX_ATTEMPTS = 8
CLAIM_SECONDS = 30.0  # how long a claimed row is a worker's before it is due again

# --- waking the worker after a commit that wrote outbox rows ----------------------------------

_WROTE = "deskbot_outbox_written"
_watchers: weakref.WeakKeyDictionary[Engine, list[weakref.ref[Any]]] = weakref.WeakKeyDictionary()


def on_commit(engine: AsyncEngine, callback: Callable[[], None]) -> None:
    """Call ``callback()`` after every commit through ``engine`` that inserted outbox rows
    (``enqueue``, a bulk insert, an ORM add). ``callback`` is held weakly (a bound method
    lives as long as its object) and must not raise; it runs on the event loop's thread."""
    ref: weakref.ref[Any] = (
        weakref.WeakMethod(callback) if hasattr(callback, "__self__") else weakref.ref(callback)  # type: ignore[arg-type]
    )
    _watchers.setdefault(engine.sync_engine, []).append(ref)


@event.listens_for(Session, "before_flush")
def _flushing(session: Session, _ctx: Any, _instances: Any) -> None:
    if any(isinstance(obj, OutboxMessage) for obj in session.new):
        session.info[_WROTE] = True


@event.listens_for(Session, "do_orm_execute")
def _executing(state: ORMExecuteState) -> None:
    if state.is_insert and getattr(getattr(state.statement, "table", None), "name", None) == OutboxMessage.__tablename__:
        state.session.info[_WROTE] = True


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    if not session.info.pop(_WROTE, False):
        return
    bind = session.bind
    engine = bind.engine if bind is not None and hasattr(bind, "engine") else bind
    refs = _watchers.get(engine) if engine is not None else None  # type: ignore[arg-type]
    if not refs:
        return
    alive = []
    for ref in refs:
        callback = ref()
        if callback is not None:
            alive.append(ref)
            callback()
    refs[:] = alive


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_WROTE, None)


async def enqueue(
    s: AsyncSession,
    *,
    platform: str,
    chat_id: str,
    payload: dict[str, Any],
    now: datetime,
    person_id: int | None = None,
    ticket_id: int | None = None,
    card: str | None = None,
) -> OutboxMessage:
    values = _row(platform, chat_id, person_id, ticket_id, card, payload, now)
    result = await core.run(s, _INSERT, values)
    return core.from_row(OutboxMessage, {"id": result.inserted_primary_key[0], **values})


def _row(platform: str, chat_id: str, person_id: int | None, ticket_id: int | None, card: str | None,
         payload: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Every column of a new pending row but its id (one shape: one compiled INSERT)."""
    return {"platform": platform, "chat_id": chat_id, "person_id": person_id, "ticket_id": ticket_id,
            "card": card, "payload": payload, "status": OutboxStatus.PENDING, "attempts": 0,
            "next_attempt_at": now, "last_error": None, "message_id": None, "created_at": now, "sent_at": None}


# The table, not the entity, built once (store.core): an ORM bulk insert would split the rows
# into one statement per set of non-null columns, and a construct built per call would have
# its cache key generated again each time.
_INSERT = insert(OutboxMessage.__table__)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class NewMessage:
    """One row for :func:`enqueue_many` (the fields of :func:`enqueue`)."""

    platform: str
    chat_id: str
    payload: dict[str, Any]
    person_id: int | None = None
    ticket_id: int | None = None
    card: str | None = None


async def enqueue_many(s: AsyncSession, messages: Sequence[NewMessage], now: datetime) -> int:
    """Write several rows in one statement instead of one round trip per row: an event whose
    card fans out to 21 agents sends one INSERT, not 23 (each with its own flush). Returns how
    many rows were written.

    It is one ``executemany`` of one prepared ``INSERT``: asyncpg pipelines the rows in one
    round trip and sqlite3 loops over them in C. That measured faster than one multi-row
    ``INSERT … VALUES (…), (…)`` (whose SQL differs with the row count, so SQLAlchemy compiles
    it again for each new count) on both databases. Rows keep their order (ids ascending), so
    a chat's messages are delivered in the order given."""
    values = [_row(m.platform, m.chat_id, m.person_id, m.ticket_id, m.card, m.payload, now) for m in messages]
    if values:
        # Not core.run: this never flushed pending ORM changes (they go at the commit), and
        # flushing them here could split one UPDATE of an object changed again later in two.
        await s.exec(_INSERT, params=values)
    return len(values)


async def supersede(s: AsyncSession, platform: str, chat_id: str, card: str) -> None:
    """The chat's pending ``card`` rows will not be sent: the row about to be written replaces
    them (a screen published whole, such as an App Home, where only the latest counts). A row
    already in a sender's hands still goes out, before the new one (rows of a chat are in order)."""
    await s.exec(
        update(OutboxMessage)
        .where(col(OutboxMessage.platform) == platform, col(OutboxMessage.chat_id) == chat_id,
               col(OutboxMessage.card) == card, col(OutboxMessage.status) == OutboxStatus.PENDING)
        .values(status=OutboxStatus.SUPERSEDED)
    )


async def supersede_cards(s: AsyncSession, cards: Iterable[tuple[str, str, int, str]], now: datetime) -> int:
    """Pending *edits* of these cards — ``(platform, chat_id, ticket_id, card)`` — will not be
    sent: the rows about to be written show each card's newer state, and a card row carries
    the whole card. Under a backlog (a card in 21 agents' direct chats, claimed, answered and
    resolved before the first edit went out) each chat gets the latest card once instead of
    every state in turn: fewer sends for the platforms' rate limits, no stale cards flashing.

    Only rows that would edit a card already posted (its ``ticket_post`` exists) are
    superseded: the row that posts a card stays, because the ticket's later rows in that
    chat (thread replies) need the post. Only rows that are due and free are touched: a row
    in a sender's hands (claimed: due again only when its lease ends) or waiting for a retry
    goes out as it is, and on PostgreSQL a row another transaction holds locked (the
    recorder settling it) is skipped, not waited for — this UPDATE must never wait on the
    worker, or the two could deadlock and the worker lose the record of sends it made.
    Returns how many rows were superseded."""
    keys = sorted(set(cards))
    if not keys:
        return 0
    result = await s.exec(_SUPERSEDE_CARDS, params={"ticket_ids": sorted({k[2] for k in keys}), "keys": keys,
                                                    "now": now})
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _supersede_cards() -> Any:
    """supersede_cards' UPDATE, built once (store.core): the two IN lists are expanding
    bindparams, so one compiled form serves any number of cards. The rows are picked in a
    subquery ``FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite has one writer and no row locks)."""
    t, tp = OutboxMessage.__table__, TicketPost.__table__  # type: ignore[attr-defined]
    posted = (
        select(tp.c.id)
        .where(tp.c.ticket_id == t.c.ticket_id, tp.c.platform == t.c.platform,
               tp.c.chat_id == t.c.chat_id, tp.c.card == t.c.card)
        .exists()
    )
    pick = (
        select(t.c.id)
        .where(t.c.status == OutboxStatus.PENDING, t.c.next_attempt_at <= bindparam("now"),
               t.c.ticket_id.in_(bindparam("ticket_ids", expanding=True)),
               tuple_(t.c.platform, t.c.chat_id, t.c.ticket_id, t.c.card).in_(bindparam("keys", expanding=True)),
               posted)
        .with_for_update(skip_locked=True)
    )
    return (
        update(t)
        .where(t.c.id.in_(pick.scalar_subquery()), t.c.status == OutboxStatus.PENDING)
        .values(status=OutboxStatus.SUPERSEDED)
    )


_SUPERSEDE_CARDS = _supersede_cards()


async def pending(s: AsyncSession, platforms: list[str], limit: int = 200) -> list[OutboxMessage]:
    """Pending rows in delivery order (oldest first), due or not; the worker decides."""
    stmt = (
        select(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.PENDING, col(OutboxMessage.platform).in_(platforms))
        .order_by(col(OutboxMessage.id))
        .limit(limit)
    )
    return list(await s.exec(stmt))


@dataclass(frozen=True)
class Due:
    """A pending row ready to go, with what the worker needs to deliver it."""

    row: OutboxMessage
    post_id: str | None  # the platform message a card row edits (None: send a new one)
    unreachable: bool  # the chat is a person's who blocked the bot and has not written since


def _with_post() -> Any:
    """``OutboxMessage`` rows with the message id of the card they edit, in one query
    (the ORM form, for :func:`next_in_chat`; the worker's reads use :data:`_DUE_HEADS`).
    The worker no longer calls ``next_in_chat``; the per-row baseline worker of
    ``bench/outbox_claims.py`` (bot/delivery.py from git history) does."""
    return select(OutboxMessage, TicketPost.message_id).outerjoin(
        TicketPost,
        and_(
            col(TicketPost.ticket_id) == col(OutboxMessage.ticket_id),
            col(TicketPost.platform) == col(OutboxMessage.platform),
            col(TicketPost.chat_id) == col(OutboxMessage.chat_id),
            col(TicketPost.card) == col(OutboxMessage.card),
        ),
    )


# The worker's statements on the tables, built once (store.core): a claim pass and a recorded
# batch no longer rebuild ORM expressions and their cache keys on every call. IN lists are
# expanding bindparams (one compiled form for any number of platforms, chats or rows).
_OUT = OutboxMessage.__table__  # type: ignore[attr-defined]
_OUT_KEYS = tuple(c.key for c in _OUT.c)
_N_OUT = len(_OUT_KEYS)
_IDENT = Identity.__table__  # type: ignore[attr-defined]
_POST = TicketPost.__table__  # type: ignore[attr-defined]


def _outbox_row(values: Sequence[Any]) -> OutboxMessage:
    """A detached ``OutboxMessage`` from a row whose first columns are the table's (in order)."""
    return core.from_row(OutboxMessage, dict(zip(_OUT_KEYS, values[:_N_OUT], strict=True)))


def _heads_of(platforms: Any) -> Any:
    """The first pending row (lowest id) of every chat of the platforms in ``platforms``."""
    return (
        sa.select(func.min(_OUT.c.id).label("id"))
        .where(_OUT.c.status == OutboxStatus.PENDING, _OUT.c.platform.in_(platforms))
        .group_by(_OUT.c.platform, _OUT.c.chat_id)
        .subquery()
    )


def _due_heads() -> Any:
    """due_heads' read: every column of the due chat heads, then their card's post id."""
    heads = _heads_of(bindparam("platforms", expanding=True))
    posted = and_(_POST.c.ticket_id == _OUT.c.ticket_id, _POST.c.platform == _OUT.c.platform,
                  _POST.c.chat_id == _OUT.c.chat_id, _POST.c.card == _OUT.c.card)
    return (
        sa.select(*_OUT.c, _POST.c.message_id.label("post_id"))
        .select_from(_OUT.outerjoin(_POST, posted).join(heads, _OUT.c.id == heads.c.id))
        .where(_OUT.c.next_attempt_at <= bindparam("now"))
        .order_by(_OUT.c.id)
        .limit(bindparam("limit", type_=sa.Integer))
    )


_DUE_HEADS = _due_heads()


async def due_heads(s: AsyncSession, platforms: Sequence[str], now: datetime, limit: int = 1000) -> list[Due]:
    """The first pending row of every chat, where it is due, oldest first, with its card's
    post and whether the chat is unreachable: one read for a whole batch of chats.

    Only a chat's first pending row is ever a candidate, so a row waiting for a retry holds
    back the later rows of its chat (order within a chat), and a held chat with a long
    backlog does not crowd the other chats out of the batch. The rows are detached copies.
    """
    if not platforms:
        return []
    result = await core.run(s, _DUE_HEADS, {"platforms": list(platforms), "now": now, "limit": limit})
    found = [(_outbox_row(r), r[_N_OUT]) for r in result]
    blocked = await unreachable_chats(s, {(row.platform, row.chat_id) for row, _ in found})
    return [Due(row, post_id, (row.platform, row.chat_id) in blocked) for row, post_id in found]


async def next_in_chat(s: AsyncSession, platform: str, chat_id: str, after_id: int, now: datetime) -> Due | None:
    """The chat's next pending row after ``after_id`` if it is due (its card's post included)."""
    stmt = (
        _with_post()
        .where(
            OutboxMessage.platform == platform, OutboxMessage.chat_id == chat_id,
            OutboxMessage.status == OutboxStatus.PENDING, col(OutboxMessage.id) > after_id,
        )
        .order_by(col(OutboxMessage.id))
        .limit(1)
    )
    found = (await s.exec(stmt)).first()
    if found is None:
        return None
    row, post_id = found
    if row.next_attempt_at > now:
        return None
    return Due(row, post_id, bool(await unreachable_chats(s, {(platform, chat_id)})))


async def unreachable_chats(s: AsyncSession, chats: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of these ``(platform, chat_id)`` are a person's direct chat that blocked the bot
    (the batch form of ``people.is_unreachable``: same rule, one query)."""
    by_platform: dict[str, set[str]] = {}
    for platform, chat_id in chats:
        by_platform.setdefault(platform, set()).add(chat_id)
    found: set[tuple[str, str]] = set()
    for platform, ids in by_platform.items():
        chat_ids = sorted(ids)
        result = await core.run(s, _UNREACHABLE, {"platform": platform, "dm_ids": chat_ids, "user_ids": chat_ids})
        for dm_chat_id, user_id in result:
            found.add((platform, dm_chat_id if dm_chat_id is not None else user_id))
    return found


_UNREACHABLE = sa.select(_IDENT.c.dm_chat_id, _IDENT.c.platform_user_id).where(
    _IDENT.c.platform == bindparam("platform"),
    _IDENT.c.unreachable_at.is_not(None),
    or_(
        _IDENT.c.dm_chat_id.in_(bindparam("dm_ids", expanding=True)),
        _IDENT.c.dm_chat_id.is_(None) & _IDENT.c.platform_user_id.in_(bindparam("user_ids", expanding=True)),
    ),
)


async def next_due_at(s: AsyncSession, platforms: Sequence[str], now: datetime) -> datetime | None:
    """When the next held chat becomes due (the earliest retry time still in the future).

    Only rows that were tried have a future ``next_attempt_at``, and those are their chat's
    first pending row, so this is exactly when some chat can move again.
    """
    if not platforms:
        return None
    return (await core.run(s, _NEXT_DUE_AT, {"platforms": list(platforms), "now": now})).scalar_one()  # type: ignore[no-any-return]


_NEXT_DUE_AT = sa.select(func.min(_OUT.c.next_attempt_at)).where(
    _OUT.c.status == OutboxStatus.PENDING, _OUT.c.platform.in_(bindparam("platforms", expanding=True)),
    _OUT.c.next_attempt_at > bindparam("now"),
)


# --- claims and batched outcomes ------------------------------------------------------------------


def lease_end(now: datetime) -> datetime:
    return now + timedelta(seconds=CLAIM_SECONDS)


async def _as_due(s: AsyncSession, rows: Sequence[OutboxMessage]) -> list[Due]:
    """``rows`` (oldest first) with their card's post and whether their chat is unreachable:
    two reads for the batch (none when no row edits a card)."""
    rows = sorted(rows, key=lambda r: r.id or 0)
    posts: dict[tuple[int, str, str, str], str] = {}
    cards = [r for r in rows if r.ticket_id is not None and r.card is not None]
    if cards:
        found = await core.run(s, _CARD_POSTS, {"ticket_ids": sorted({r.ticket_id for r in cards}),  # type: ignore[type-var]
                                                "cards": sorted({r.card for r in cards})})  # type: ignore[type-var]
        for ticket_id, platform, chat_id, card, message_id in found:
            posts[(ticket_id, platform, chat_id, card)] = message_id
    blocked = await unreachable_chats(s, {(r.platform, r.chat_id) for r in rows})
    return [
        Due(r, posts.get((r.ticket_id, r.platform, r.chat_id, r.card)) if r.ticket_id and r.card else None,  # type: ignore[arg-type]
            (r.platform, r.chat_id) in blocked)
        for r in rows
    ]


_CARD_POSTS = sa.select(_POST.c.ticket_id, _POST.c.platform, _POST.c.chat_id, _POST.c.card, _POST.c.message_id).where(
    _POST.c.ticket_id.in_(bindparam("ticket_ids", expanding=True)), _POST.c.card.in_(bindparam("cards", expanding=True)),
)


def _claiming(ids: Any) -> Any:
    """``UPDATE outbox SET next_attempt_at = :lease WHERE id IN (<ids>) AND pending AND due
    (next_attempt_at <= :now) RETURNING *``: a row another worker claimed meanwhile is no
    longer due, so it is never returned twice."""
    return (
        update(_OUT)
        .where(_OUT.c.id.in_(ids), _OUT.c.status == OutboxStatus.PENDING, _OUT.c.next_attempt_at <= bindparam("now"))
        .values(next_attempt_at=bindparam("lease"))
        .returning(*_OUT.c)
    )


def _claim_due(dialect: str) -> Any:
    """claim_due's UPDATE for ``dialect``: the oldest due chat heads, up to ``:limit``, picked
    ``FOR UPDATE OF outbox SKIP LOCKED`` on PostgreSQL (SQLite has one writer, no row locks)."""
    heads = _heads_of(bindparam("platforms", expanding=True))
    pick = (
        sa.select(_OUT.c.id)
        .join(heads, _OUT.c.id == heads.c.id)
        .where(_OUT.c.next_attempt_at <= bindparam("now"))
        .order_by(_OUT.c.id)
        .limit(bindparam("limit", type_=sa.Integer))
    )
    if dialect == "postgresql":
        pick = pick.with_for_update(skip_locked=True, of=_OUT)
    return _claiming(pick.scalar_subquery())


_CLAIM_DUE: dict[str, Any] = {}  # by dialect name, each built on first use


async def claim_due(s: AsyncSession, platforms: Sequence[str], now: datetime, limit: int) -> list[Due]:
    """Claim up to ``limit`` due chat heads, oldest first, in one statement (PostgreSQL:
    ``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED LIMIT n) RETURNING``, so two
    workers claiming at once skip each other's rows instead of waiting for them).

    On SQLite prefer :func:`due_heads` in a read transaction and then :func:`claim` (the read
    stays outside the write lock); this also works there, as one ``UPDATE … RETURNING``."""
    if not platforms or limit < 1:
        return []
    dialect = s.bind.dialect.name if s.bind is not None else ""
    stmt = _CLAIM_DUE.get(dialect)
    if stmt is None:
        stmt = _CLAIM_DUE[dialect] = _claim_due(dialect)
    result = await core.run(s, stmt, {"platforms": list(platforms), "now": now, "limit": limit,
                                      "lease": lease_end(now)})
    return await _as_due(s, [_outbox_row(r) for r in result])


_CLAIM = (
    update(_OUT)
    .where(_OUT.c.id.in_(bindparam("ids", expanding=True)), _OUT.c.status == OutboxStatus.PENDING,
           _OUT.c.next_attempt_at <= bindparam("now"))
    .values(next_attempt_at=bindparam("lease"))
    .returning(_OUT.c.id)
)


async def claim(s: AsyncSession, candidates: Sequence[Due], now: datetime) -> list[Due]:
    """Claim the ``candidates`` read earlier (by :func:`due_heads`) that are still pending and due
    (one compare-and-set ``UPDATE … RETURNING id``); returns those claimed, oldest first."""
    if not candidates:
        return []
    ids = [d.row.id for d in candidates]
    won = set((await core.run(s, _CLAIM, {"ids": ids, "now": now, "lease": lease_end(now)})).scalars())
    claimed = [d for d in candidates if d.row.id in won]
    for d in claimed:
        d.row.next_attempt_at = lease_end(now)
    return claimed


_RELEASE = (
    update(_OUT)
    .where(_OUT.c.id.in_(bindparam("ids", expanding=True)), _OUT.c.status == OutboxStatus.PENDING)
    .values(next_attempt_at=bindparam("now"))
)


async def release(s: AsyncSession, row_ids: Iterable[int], now: datetime) -> None:
    """Hand claimed rows that were never tried back: due now, for whoever comes next."""
    ids = sorted(row_ids)
    if ids:
        await core.run(s, _RELEASE, {"ids": ids, "now": now})


@dataclass(frozen=True)
class Outcome:
    """What became of one claimed row: ``kind`` is ``sent`` (``message_id`` the platform's),
    ``retry`` (a failed attempt; again after ``delay``, or ``failed`` after ``MAX_ATTEMPTS``),
    ``rate_limited`` (again after ``delay``; not an attempt) or ``blocked`` (``mark_person``:
    the platform said so now, so the person is marked unreachable too)."""

    row: OutboxMessage
    kind: str
    message_id: str | None = None
    error: str | None = None
    delay: timedelta = timedelta(0)
    mark_person: bool = False

    @property
    def settled(self) -> bool:
        """The row is done with (sent, blocked, or given up): its chat may move on."""
        return self.kind in ("sent", "blocked") or (self.kind == "retry" and self.row.attempts + 1 >= MAX_ATTEMPTS)


_SETTLE = (
    update(OutboxMessage.__table__)  # type: ignore[arg-type]
    .where(OutboxMessage.__table__.c.id == bindparam("b_id"))  # type: ignore[attr-defined]
    .values(status=bindparam("b_status"), attempts=bindparam("b_attempts"), last_error=bindparam("b_error"),
            message_id=bindparam("b_mid"), sent_at=bindparam("b_sent"))
)
# A row left pending keeps a ``superseded`` mark set while it was in hand (it will not go out).
_RESCHEDULE = (
    update(OutboxMessage.__table__)  # type: ignore[arg-type]
    .where(OutboxMessage.__table__.c.id == bindparam("b_id"),  # type: ignore[attr-defined]
           OutboxMessage.__table__.c.status == OutboxStatus.PENDING)  # type: ignore[attr-defined]
    .values(attempts=bindparam("b_attempts"), last_error=bindparam("b_error"), next_attempt_at=bindparam("b_next"))
)


async def record(
    s: AsyncSession, outcomes: Sequence[Outcome], now: datetime, *, claim_next: bool = True
) -> dict[tuple[str, str], Due]:
    """Write the outcomes of a batch of claimed rows (group commit: two ``executemany`` for
    the batch, plus card posts and blocked people), then claim the next due row of every
    chat whose row was settled; returns those, by ``(platform, chat_id)``."""
    settle: list[dict[str, Any]] = []
    reschedule: list[dict[str, Any]] = []
    for o in outcomes:
        row = o.row
        error = o.error[:500] if o.error is not None else row.last_error
        if o.kind == "sent":
            settle.append({"b_id": row.id, "b_status": OutboxStatus.SENT, "b_attempts": row.attempts + 1,
                           "b_error": row.last_error, "b_mid": o.message_id, "b_sent": now})
        elif o.kind == "blocked":
            settle.append({"b_id": row.id, "b_status": OutboxStatus.BLOCKED, "b_attempts": row.attempts + 1,
                           "b_error": error, "b_mid": row.message_id, "b_sent": row.sent_at})
        elif o.kind == "retry" and o.settled:
            settle.append({"b_id": row.id, "b_status": OutboxStatus.FAILED, "b_attempts": row.attempts + 1,
                           "b_error": error, "b_mid": row.message_id, "b_sent": row.sent_at})
        elif o.kind in ("retry", "rate_limited"):
            reschedule.append({"b_id": row.id, "b_attempts": row.attempts + (o.kind == "retry"),
                               "b_error": error, "b_next": now + o.delay})
        else:
            raise ValueError(f"unknown outcome {o.kind!r}")
    if settle:
        await s.exec(_SETTLE, params=settle)  # type: ignore[call-overload]
    if reschedule:
        await s.exec(_RESCHEDULE, params=reschedule)  # type: ignore[call-overload]
    for o in outcomes:
        row = o.row
        if o.kind == "sent" and o.message_id and row.ticket_id and row.card:
            await remember_post(s, row.ticket_id, row.platform, row.chat_id, row.card, o.message_id)
        if o.kind == "blocked" and o.mark_person:
            await people.mark_unreachable(s, row.platform, row.chat_id, now)
    if not claim_next:
        return {}
    chats: dict[str, set[str]] = {}
    for o in outcomes:
        if o.settled:
            chats.setdefault(o.row.platform, set()).add(o.row.chat_id)
    rows: list[OutboxMessage] = []
    lease = lease_end(now)
    for platform, ids in chats.items():
        result = await core.run(s, _CLAIM_NEXT, {"b_platform": platform, "chat_ids": sorted(ids), "now": now,
                                                 "lease": lease})
        rows.extend(_outbox_row(r) for r in result)
    return {(d.row.platform, d.row.chat_id): d for d in await _as_due(s, rows)}


# record's claim of the next row of every settled chat of one platform ("b_platform": an
# UPDATE reserves the columns' names for its SET parameters).
_CLAIM_NEXT = _claiming(
    sa.select(func.min(_OUT.c.id))
    .where(_OUT.c.status == OutboxStatus.PENDING, _OUT.c.platform == bindparam("b_platform"),
           _OUT.c.chat_id.in_(bindparam("chat_ids", expanding=True)))
    .group_by(_OUT.c.chat_id)
    .scalar_subquery()
)


async def mark_sent(s: AsyncSession, row_id: int, message_id: str | None, now: datetime) -> None:
    row = await s.get_one(OutboxMessage, row_id)
    row.status = OutboxStatus.SENT
    row.message_id = message_id
    row.sent_at = now
    row.attempts += 1
    s.add(row)
    if message_id and row.ticket_id and row.card:
        await remember_post(s, row.ticket_id, row.platform, row.chat_id, row.card, message_id)
    await s.flush()


async def mark_retry(s: AsyncSession, row_id: int, error: str, delay: timedelta, now: datetime) -> OutboxMessage:
    row = await s.get_one(OutboxMessage, row_id)
    row.attempts += 1
    row.last_error = error[:500]
    if row.attempts >= MAX_ATTEMPTS:
        row.status = OutboxStatus.FAILED
    else:
        row.next_attempt_at = now + delay
    s.add(row)
    await s.flush()
    return row


async def mark_rate_limited(s: AsyncSession, row_id: int, error: str, delay: timedelta, now: datetime) -> None:
    """The platform asked us to wait (429): try again after ``delay``. Not a failed attempt:
    being rate limited says nothing about the message, so it never uses up ``MAX_ATTEMPTS``."""
    row = await s.get_one(OutboxMessage, row_id)
    row.last_error = error[:500]
    row.next_attempt_at = now + delay
    s.add(row)
    await s.flush()


async def mark_blocked(s: AsyncSession, row_id: int, error: str) -> None:
    row = await s.get_one(OutboxMessage, row_id)
    row.attempts += 1
    row.status = OutboxStatus.BLOCKED
    row.last_error = error[:500]
    s.add(row)
    await s.flush()


async def remember_post(
    s: AsyncSession, ticket_id: int, platform: str, chat_id: str, card: str, message_id: str,
    thread_id: str | None = None,
) -> None:
    post = await find_post(s, ticket_id, platform, chat_id, card)
    if post is None:
        s.add(TicketPost(ticket_id=ticket_id, platform=platform, chat_id=chat_id, card=card,
                         message_id=message_id, thread_id=thread_id))
    else:
        post.message_id = message_id
        s.add(post)
    await s.flush()


async def find_post(s: AsyncSession, ticket_id: int, platform: str, chat_id: str, card: str) -> TicketPost | None:
    return (
        await s.exec(
            select(TicketPost).where(
                TicketPost.ticket_id == ticket_id, TicketPost.platform == platform,
                TicketPost.chat_id == chat_id, TicketPost.card == card,
            )
        )
    ).first()


async def ticket_for_message(s: AsyncSession, platform: str, chat_id: str, message_id: str) -> int | None:
    """Which ticket a platform message (a card, or a relayed message) belongs to."""
    post = (
        await s.exec(
            select(TicketPost.ticket_id).where(
                TicketPost.platform == platform, TicketPost.chat_id == chat_id,
                (TicketPost.message_id == message_id) | (TicketPost.thread_id == message_id),
            )
        )
    ).first()
    if post is not None:
        return post
    return (
        await s.exec(
            select(OutboxMessage.ticket_id).where(
                OutboxMessage.platform == platform, OutboxMessage.chat_id == chat_id,
                OutboxMessage.message_id == message_id,
            )
        )
    ).first()


_NEWEST_ID = select(func.max(OutboxMessage.id))


async def newest_id(s: AsyncSession) -> int:
    """The highest outbox row id (0 when there is none): one lookup at the end of the
    primary key, so the runner can watch for rows other processes committed."""
    return (await s.exec(_NEWEST_ID)).one() or 0


async def backlog(s: AsyncSession) -> int:
    return (await s.exec(select(func.count()).where(OutboxMessage.status == OutboxStatus.PENDING))).one()


async def backlog_age(s: AsyncSession) -> tuple[int, datetime | None]:
    """How many rows are pending and when the oldest of them was written."""
    count, oldest = (
        await s.exec(
            select(func.count(), func.min(OutboxMessage.created_at)).where(OutboxMessage.status == OutboxStatus.PENDING)
        )
    ).one()
    return count, oldest


async def posts_of(s: AsyncSession, ticket_id: int, card: str) -> list[TicketPost]:
    """Where the ticket's ``card`` is shown (read on every card update: a prebuilt Core
    statement; the posts are detached, read-only copies: :func:`remember_post` changes them)."""
    return [core.from_row(TicketPost, dict(zip(_POST_KEYS, row, strict=True)))
            for row in await core.run(s, _POSTS_OF, {"ticket_id": ticket_id, "card": card})]


_POST_KEYS = tuple(c.key for c in _POST.c)
_POSTS_OF = sa.select(*_POST.c).where(_POST.c.ticket_id == sa.bindparam("ticket_id"),
                                      _POST.c.card == sa.bindparam("card"))
