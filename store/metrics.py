"""Service-desk numbers for the leads' digest and ``/stats``: the queries.

Counts, sums and groupings are done by the database (a team's month on a million
tickets must not come back as rows); only the rows a percentile needs — the
(created, answered) and (created, resolved) pairs of the period — are fetched, because
their durations are measured in business time, which only the team's calendar knows
(:mod:`scheduler.digest` measures and assembles). Windows are half-open ``[start, end)``
in UTC. Every query is indexed by migration 0006 (``bench/digest.py`` measures them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from store.models import OPEN_STATUSES, KbFeedback, Person, Ticket, UTCDateTime


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no data."""
    if not values:
        return None
    ordered = sorted(values)
    # The smallest value with at least q% of the values at or below it (round() here was
    # banker's rounding and took the larger of two values as their median).
    k = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[k]


# --- a portable "this instant minus N days" ---------------------------------------------


class _MinusDays(FunctionElement[datetime]):
    """``column - N days`` in SQL, spelt per dialect (no interval type is portable)."""

    type = UTCDateTime()
    inherit_cache = True

    def __init__(self, column: Any, days: int) -> None:
        self.days = days
        super().__init__(column)


@compiles(_MinusDays, "sqlite")
def _minus_days_sqlite(element: _MinusDays, compiler: Any, **kw: Any) -> str:
    (arg,) = element.clauses
    # The format SQLAlchemy stores SQLite datetimes in (milliseconds compare correctly
    # against its microseconds: a shorter equal prefix sorts first).
    return f"strftime('%Y-%m-%d %H:%M:%f', {compiler.process(arg, **kw)}, '-{int(element.days)} days')"


@compiles(_MinusDays)
def _minus_days_default(element: _MinusDays, compiler: Any, **kw: Any) -> str:
    (arg,) = element.clauses
    return f"({compiler.process(arg, **kw)} - INTERVAL '{int(element.days)} days')"


# --- the period's flow ------------------------------------------------------------------


def _breached() -> ColumnElement[bool]:
    """A resolved ticket that missed its resolution or first-response due time."""
    return or_(
        and_(col(Ticket.resolution_due).is_not(None), col(Ticket.resolved_at) > col(Ticket.resolution_due)),
        and_(col(Ticket.first_response_due).is_not(None), col(Ticket.first_response_at).is_not(None),
             col(Ticket.first_response_at) > col(Ticket.first_response_due)),
    )


def _in(column: Any, start: datetime, end: datetime) -> ColumnElement[bool]:
    return and_(column >= start, column < end)


async def created(s: AsyncSession, team: str, start: datetime, end: datetime) -> int:
    """Tickets the team got in the period."""
    return int((await s.exec(
        select(func.count()).select_from(Ticket).where(Ticket.team == team, _in(col(Ticket.created_at), start, end))
    )).one())


@dataclass(frozen=True)
class DayFlow:
    day_start: datetime
    created: int
    resolved: int
    breached: int


async def daily_flow(s: AsyncSession, team: str, bounds: Sequence[datetime]) -> list[DayFlow]:
    """Created / resolved / breached per day, for days given by their boundaries
    (``bounds[i]`` to ``bounds[i + 1]``, local midnights in UTC): one range scan per
    measure, bucketed by the database."""
    days = list(zip(bounds, bounds[1:], strict=False))
    if not days:
        return []

    def buckets(column: Any, extra: ColumnElement[bool] | None = None) -> list[Any]:
        return [
            func.coalesce(func.sum(case((and_(_in(column, a, b), extra) if extra is not None else _in(column, a, b), 1),
                                        else_=0)), 0)
            for a, b in days
        ]

    created = (await s.exec(select(*buckets(col(Ticket.created_at))).where(
        Ticket.team == team, _in(col(Ticket.created_at), bounds[0], bounds[-1])))).one()
    resolved_and_breached = (await s.exec(select(
        *buckets(col(Ticket.resolved_at)), *buckets(col(Ticket.resolved_at), _breached()),
    ).where(Ticket.team == team, _in(col(Ticket.resolved_at), bounds[0], bounds[-1])))).one()
    n = len(days)
    return [
        DayFlow(a, int(created[i]), int(resolved_and_breached[i]), int(resolved_and_breached[n + i]))
        for i, (a, _) in enumerate(days)
    ]


# --- rows for the percentiles -------------------------------------------------------------


async def first_responses(s: AsyncSession, team: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """(created, first response) of the team's tickets first answered in the period."""
    rows = await s.exec(select(Ticket.created_at, Ticket.first_response_at).where(
        Ticket.team == team, _in(col(Ticket.first_response_at), start, end)))
    return [(a, b) for a, b in rows if b is not None]


@dataclass(frozen=True)
class Resolution:
    created_at: datetime
    resolved_at: datetime
    paused_minutes: int  # business minutes waiting on the requester (not resolution time)
    breached: bool
    csat: int | None


async def resolutions(s: AsyncSession, team: str, start: datetime, end: datetime) -> list[Resolution]:
    """The team's tickets resolved in the period: the rows the resolution percentiles need,
    which also give the resolved count, the breach share and CSAT without another scan."""
    rows = await s.exec(select(
        Ticket.created_at, Ticket.resolved_at, Ticket.sla_paused_minutes, case((_breached(), 1), else_=0), Ticket.csat,
    ).where(Ticket.team == team, _in(col(Ticket.resolved_at), start, end)))
    return [Resolution(a, b, int(p or 0), bool(br), c) for a, b, p, br, c in rows if b is not None]


# --- now ----------------------------------------------------------------------------------


def _open(team: str) -> ColumnElement[bool]:
    return and_(col(Ticket.team) == team, col(Ticket.status).in_(OPEN_STATUSES))


def _overdue(now: datetime) -> ColumnElement[bool]:
    """Not answered past its first-response due time, or past its resolution due time while
    the SLA clock runs (a ticket waiting on the requester is paused)."""
    return or_(
        and_(col(Ticket.first_response_at).is_(None), col(Ticket.first_response_due) < now),
        and_(col(Ticket.sla_paused_at).is_(None), col(Ticket.resolution_due) < now),
    )


async def open_now(s: AsyncSession, team: str, now: datetime) -> tuple[int, int]:
    """(open tickets, of which overdue) of the team right now."""
    total, overdue = (await s.exec(
        select(func.count(), func.coalesce(func.sum(case((_overdue(now), 1), else_=0)), 0)).where(_open(team))
    )).one()
    return int(total), int(overdue)


async def backlog_by_assignee(s: AsyncSession, team: str) -> list[tuple[str | None, int]]:
    """(assignee's name or None for unassigned, open tickets), largest first."""
    stmt = (
        select(Person.name, func.count().label("n"))
        .select_from(Ticket)
        .outerjoin(Person, col(Person.id) == col(Ticket.assignee_id))
        .where(_open(team))
        .group_by(col(Ticket.assignee_id), col(Person.name))
        .order_by(func.count().desc(), col(Person.name))
    )
    return [(name, int(n)) for name, n in await s.exec(stmt)]


@dataclass(frozen=True)
class OpenTicket:
    id: int
    subject: str
    created_at: datetime
    status: str
    assignee: str | None


async def oldest_open(s: AsyncSession, team: str, limit: int = 5) -> list[OpenTicket]:
    stmt = (
        select(Ticket.id, Ticket.subject, Ticket.created_at, Ticket.status, Person.name)
        .select_from(Ticket)
        .outerjoin(Person, col(Person.id) == col(Ticket.assignee_id))
        .where(_open(team))
        .order_by(col(Ticket.created_at), col(Ticket.id))
        .limit(limit)
    )
    return [OpenTicket(int(i), subj, at, st, name) for i, subj, at, st, name in await s.exec(stmt)]


# --- repeats, ratings, the knowledge base ---------------------------------------------------


@dataclass(frozen=True)
class Repeat:
    requester: str
    category: str
    count: int  # repeat tickets of this requester and category in the period


async def repeats(s: AsyncSession, team: str, start: datetime, end: datetime, *, window_days: int,
                  limit: int = 3) -> tuple[int, list[Repeat]]:
    """Tickets created in the period by a requester whose previous ticket in the same
    category was at most ``window_days`` earlier: their number, and the requesters with
    most of them. One range scan: each ticket is compared with the one before it
    (``LAG`` over requester and category; both databases have window functions)."""
    since = start - timedelta(days=window_days)
    prev = func.lag(col(Ticket.created_at)).over(
        partition_by=(col(Ticket.requester_id), col(Ticket.category)), order_by=(col(Ticket.created_at), col(Ticket.id)))
    seq = (
        select(Ticket.requester_id, Ticket.category, Ticket.created_at, prev.label("prev"))
        .where(Ticket.team == team, col(Ticket.created_at) >= since, col(Ticket.created_at) < end)
        .subquery()
    )
    groups = (
        select(seq.c.requester_id, seq.c.category, func.count().label("n"),
               func.sum(func.count()).over().label("total"))
        .where(seq.c.created_at >= start, seq.c.prev >= _MinusDays(seq.c.created_at, window_days))
        .group_by(seq.c.requester_id, seq.c.category)
        .subquery()
    )
    stmt = (
        select(Person.name, groups.c.category, groups.c.n, groups.c.total)
        .join(groups, col(Person.id) == groups.c.requester_id)
        .order_by(groups.c.n.desc(), col(Person.name), groups.c.category)
        .limit(limit)
    )
    rows = list(await s.exec(stmt))
    if not rows:
        return 0, []
    return int(rows[0][3]), [Repeat(name, category, int(n)) for name, category, n, _ in rows]


@dataclass(frozen=True)
class LowRating:
    ticket_id: int
    score: int
    comment: str


async def low_ratings(s: AsyncSession, team: str, start: datetime, end: datetime, *, at_most: int,
                      limit: int = 5) -> list[LowRating]:
    """Ratings of ``at_most`` or less with a comment, on tickets resolved in the period."""
    stmt = (
        select(Ticket.id, Ticket.csat, Ticket.csat_comment)
        .where(Ticket.team == team, _in(col(Ticket.resolved_at), start, end), col(Ticket.csat) <= at_most,
               col(Ticket.csat_comment).is_not(None), col(Ticket.csat_comment) != "")
        .order_by(col(Ticket.csat), col(Ticket.id))
        .limit(limit)
    )
    return [LowRating(int(i), int(score or 0), comment or "") for i, score, comment in await s.exec(stmt)]


async def deflections(s: AsyncSession, start: datetime, end: datetime) -> int:
    """Requests the KB answered ("This solved it") in the period. Nothing was filed, so no
    team is known: this is the whole desk's number."""
    return int((await s.exec(select(func.count()).select_from(KbFeedback).where(
        KbFeedback.outcome == "solved", _in(col(KbFeedback.created_at), start, end)))).one())


async def gap_queries(s: AsyncSession, team: str, start: datetime, end: datetime,
                      limit: int = 50) -> list[tuple[str, int]]:
    """The most frequent requests no KB article matched that became this team's tickets in
    the period (query text as written, count), most frequent first."""
    n = func.count().label("n")
    stmt = (
        select(KbFeedback.query, n)
        .select_from(KbFeedback)
        .join(Ticket, col(Ticket.id) == col(KbFeedback.ticket_id))
        .where(KbFeedback.outcome == "gap", _in(col(KbFeedback.created_at), start, end), Ticket.team == team)
        .group_by(col(KbFeedback.query))
        .order_by(n.desc(), col(KbFeedback.query))
        .limit(limit)
    )
    return [(q, int(c)) for q, c in await s.exec(stmt)]
