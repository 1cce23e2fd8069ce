"""``store.metrics.stats`` against a seeded history whose numbers are worked out here by hand."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from store import feedback, metrics, tickets
from store.db import Database
from store.models import Status
from tests.store.conftest import NOW, Cast

M = timedelta(minutes=1)
H = timedelta(hours=1)
D = timedelta(days=1)


@dataclass(frozen=True)
class Seed:
    """One ticket: times relative to NOW (None = never happened)."""

    team: str
    created: timedelta
    status: str
    fr_due: timedelta | None = None
    first_response: timedelta | None = None  # after created
    res_due: timedelta | None = None
    resolved: timedelta | None = None  # after created
    csat: int | None = None


SEEDS = [
    Seed("it", -2 * D, Status.CLOSED, fr_due=H, first_response=10 * M, res_due=8 * H, resolved=2 * H, csat=5),
    Seed("it", -3 * D, Status.CLOSED, fr_due=H, first_response=20 * M, res_due=4 * H, resolved=5 * H, csat=2),
    Seed("it", -1 * D, Status.RESOLVED, fr_due=15 * M, first_response=30 * M, res_due=8 * H, resolved=H),
    Seed("it", -1 * H, Status.CLAIMED, fr_due=4 * H, first_response=40 * M, res_due=2 * D),
    Seed("it", -5 * H, Status.WAITING, fr_due=H, first_response=50 * M, res_due=4 * H),  # resolution overdue
    Seed("it", -3 * H, Status.NEW, fr_due=H, res_due=2 * D),  # first response overdue
    Seed("it", -10 * D, Status.CLOSED, first_response=60 * M, resolved=9 * D, csat=4),  # created before the window
    Seed("it", -20 * D, Status.CLOSED, first_response=M, resolved=5 * D, csat=1),  # all before the window
    Seed("hr", -1 * D, Status.CLOSED, fr_due=M, first_response=5 * M, res_due=M, resolved=H, csat=1),  # other team
]


async def seed(s: AsyncSession, requester: int) -> None:
    for sd in SEEDS:
        created = NOW + sd.created
        ticket = await tickets.create_ticket(
            s, team=sd.team, category="hardware", priority="normal", requester_id=requester, text="seeded",
            platform="telegram", now=created,
            first_response_due=created + sd.fr_due if sd.fr_due else None,
            resolution_due=created + sd.res_due if sd.res_due else None,
        )
        ticket.status = sd.status
        ticket.first_response_at = created + sd.first_response if sd.first_response else None
        ticket.resolved_at = created + sd.resolved if sd.resolved else None
        ticket.csat = sd.csat
        s.add(ticket)
    at = NOW - 2 * D
    for outcome, when in (("solved", at), ("solved", NOW - H), ("shown", at), ("solved", NOW - 8 * D)):
        await feedback.record(s, slug="vpn-connect-ru", query="vpn", outcome=outcome, now=when)


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(q * len(ordered)) - 1]


async def test_stats_for_a_team_match_the_hand_computed_numbers(database: Database, cast: Cast) -> None:
    async with database.transaction() as s:
        await seed(s, cast.anna)
    async with database.transaction() as s:
        st = await metrics.stats(s, since=NOW - 7 * D, now=NOW, team="it")

    # By hand from SEEDS: IT tickets created within 7 days are the first six; resolved within
    # the window are #1, #2, #3 and #7; open now #4, #5, #6, of which #5 (resolution due 1h ago)
    # and #6 (no answer, first response due 2h ago) are overdue.
    assert (st.created, st.resolved, st.open_now, st.overdue) == (6, 4, 3, 2)
    frt = [10 * 60, 20 * 60, 30 * 60, 40 * 60, 50 * 60]  # #1..#5 (#6 has no response yet)
    assert st.frt_p50 == 30 * 60 == nearest_rank(frt, 0.5)
    assert st.frt_p90 == 50 * 60 == nearest_rank(frt, 0.9)
    res = [2 * 3600, 5 * 3600, 1 * 3600, 9 * 86400]  # #1, #2, #3, #7
    assert st.res_p50 == 2 * 3600 == nearest_rank(res, 0.5)
    assert st.res_p90 == 9 * 86400 == nearest_rank(res, 0.9)
    # #2 resolved an hour late, #3 answered 15 minutes late; #1 and #7 (no due times) were fine.
    assert st.breach_share == 2 / 4
    assert st.csat_count == 3 and st.csat_avg is not None
    assert math.isclose(st.csat_avg, (5 + 2 + 4) / 3)
    assert st.deflections == 2  # two "solved" within the window; "shown" and an old one do not count


async def test_stats_without_a_team_and_an_empty_window(database: Database, cast: Cast) -> None:
    async with database.transaction() as s:
        await seed(s, cast.anna)
    async with database.transaction() as s:
        everyone = await metrics.stats(s, since=NOW - 7 * D, now=NOW)
        future = await metrics.stats(s, since=NOW + D, now=NOW, team="it")
    # The HR ticket adds one created, one resolved (breached both ways) and a CSAT of 1.
    assert (everyone.created, everyone.resolved, everyone.open_now) == (7, 5, 3)
    assert everyone.breach_share == 3 / 5
    assert everyone.csat_avg is not None and math.isclose(everyone.csat_avg, (5 + 2 + 4 + 1) / 4)
    assert (future.created, future.resolved, future.open_now, future.overdue) == (0, 0, 3, 2)
    assert (future.frt_p50, future.res_p90, future.breach_share, future.csat_avg) == (None, None, None, None)
    assert future.deflections == 0


def test_percentile_is_nearest_rank_for_even_and_odd_counts() -> None:
    # Nearest rank: the ceil(q·n)-th smallest value.
    assert metrics.percentile([30.0, 10.0], 50) == 10.0
    assert metrics.percentile([30.0, 10.0], 90) == 30.0
    assert metrics.percentile([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 50) == 3.0
    assert metrics.percentile([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 90) == 6.0
    assert metrics.percentile([7.0], 90) == 7.0
    assert metrics.percentile([], 50) is None
