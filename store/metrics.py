"""Service-desk numbers for digests and ``/stats``.

Durations are wall-clock for now; business-hours durations come with the
scheduler's calendar (the ``duration`` parameter is where it plugs in).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from store.models import OPEN_STATUSES, KbFeedback, Ticket

Duration = Callable[[datetime, datetime], timedelta]


def _wall(start: datetime, end: datetime) -> timedelta:
    return end - start


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no data."""
    if not values:
        return None
    ordered = sorted(values)
    # The smallest value with at least q% of the values at or below it (round() here was
    # banker's rounding and took the larger of two values as their median).
    k = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[k]


@dataclass(frozen=True)
class Stats:
    created: int
    resolved: int
    open_now: int
    overdue: int
    frt_p50: float | None  # seconds
    frt_p90: float | None
    res_p50: float | None
    res_p90: float | None
    breach_share: float | None
    csat_avg: float | None
    csat_count: int
    deflections: int


async def stats(
    s: AsyncSession, *, since: datetime, now: datetime, team: str | None = None, duration: Duration = _wall
) -> Stats:
    q = select(Ticket)
    if team:
        q = q.where(Ticket.team == team)
    created = list(await s.exec(q.where(Ticket.created_at >= since)))
    resolved = list(await s.exec(q.where(col(Ticket.resolved_at).is_not(None), Ticket.resolved_at >= since)))  # type: ignore[operator]
    open_rows = list(await s.exec(q.where(col(Ticket.status).in_(OPEN_STATUSES))))
    overdue = sum(
        1 for tk in open_rows
        if (tk.first_response_at is None and tk.first_response_due and tk.first_response_due < now)
        or (tk.resolution_due and tk.resolution_due < now)
    )
    frt = [duration(tk.created_at, tk.first_response_at).total_seconds() for tk in created if tk.first_response_at]
    res = [duration(tk.created_at, tk.resolved_at).total_seconds() for tk in resolved if tk.resolved_at]
    breached = [
        tk for tk in resolved
        if (tk.resolution_due and tk.resolved_at and tk.resolved_at > tk.resolution_due)
        or (tk.first_response_due and tk.first_response_at and tk.first_response_at > tk.first_response_due)
    ]
    rated = [tk.csat for tk in resolved if tk.csat is not None]
    deflections = (
        await s.exec(select(func.count()).where(KbFeedback.outcome == "solved", KbFeedback.created_at >= since))
    ).one()
    return Stats(
        created=len(created),
        resolved=len(resolved),
        open_now=len(open_rows),
        overdue=overdue,
        frt_p50=percentile(frt, 50),
        frt_p90=percentile(frt, 90),
        res_p50=percentile(res, 50),
        res_p90=percentile(res, 90),
        breach_share=(len(breached) / len(resolved)) if resolved else None,
        csat_avg=(sum(rated) / len(rated)) if rated else None,
        csat_count=len(rated),
        deflections=deflections,
    )


def since_days(now: datetime, days: int) -> datetime:
    return now - timedelta(days=days)
