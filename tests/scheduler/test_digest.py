"""The digest's numbers on a seeded week (SQLite and PostgreSQL), worked out here by hand.

The IT team's calendar is Moscow (UTC+3, no DST), Mon–Fri 09:00–18:00. The digest reports
Monday 30 November 2026 and is made on Tuesday at 09:00. Business minutes of each ticket
are written next to it (counted by hand from the working hours); counts, percentiles,
groupings and the chart's days are derived from the seed list below with plain Python,
never by the code under test.
"""

from __future__ import annotations

import io
import math
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from bot.app import App
from handlers.texts import translator
from scheduler import digest
from scheduler.calendar import for_team
from store import feedback, people, tickets
from store.models import OPEN_STATUSES, Status

MSK = ZoneInfo("Europe/Moscow")
DAY = date(2026, 11, 30)  # a Monday
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=MSK).astimezone(UTC)


def msk(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=MSK)


@dataclass(frozen=True)
class Seed:
    ref: str
    team: str
    requester: str
    category: str
    created: datetime
    status: str
    assignee: str | None = None
    first_response: datetime | None = None
    frt_business: int | None = None  # minutes, by hand
    resolved: datetime | None = None
    res_business: int | None = None  # minutes, by hand, net of the pause
    paused_minutes: int = 0
    paused_since: datetime | None = None
    fr_due: datetime | None = None
    res_due: datetime | None = None
    csat: int | None = None
    comment: str | None = None


SEEDS = [
    # Mon 10:00 → answered 10:30 (30) → resolved 12:00 (120).
    Seed("T1", "it", "anna", "hardware", msk(30, 10), Status.CLOSED, "boris", msk(30, 10, 30), 30, msk(30, 12), 120,
         fr_due=msk(30, 14), res_due=msk(2, 18, month=12), csat=5),
    # Fri 17:00 → answered Mon 09:20 (Fri 60 + Mon 20 = 80) → resolved Mon 11:00 (60 + 120 = 180), 1 h late.
    Seed("T2", "it", "vera", "network", msk(27, 17), Status.CLOSED, "boris", msk(30, 9, 20), 80, msk(30, 11), 180,
         fr_due=msk(30, 12), res_due=msk(30, 10), csat=2, comment="slow  again"),
    # Mon 17:30 → answered 17:50 (20); still in progress.
    Seed("T3", "it", "dina", "software", msk(30, 17, 30), Status.CLAIMED, "boris", msk(30, 17, 50), 20,
         fr_due=msk(1, 12, month=12), res_due=msk(3, 18, month=12)),
    # Sat 12:00 → answered Mon 09:45 (45) → resolved Mon 17:00 (Mon 09–17 = 480, paused 60: 420).
    Seed("T4", "it", "anna", "network", msk(28, 12), Status.RESOLVED, "vera", msk(30, 9, 45), 45, msk(30, 17), 420,
         paused_minutes=60, fr_due=msk(30, 10), res_due=msk(1, 18, month=12), csat=4),
    # Mon 08:00, nobody answered by the 13:00 due time: overdue.
    Seed("T5", "it", "anna", "hardware", msk(30, 8), Status.NEW, fr_due=msk(30, 13), res_due=msk(2, 17, month=12)),
    # Thu, waiting on the requester since Thu 12:00: its resolution due passed, but the clock is paused.
    Seed("T6", "it", "gleb", "access", msk(26, 10), Status.WAITING, "vera", msk(26, 11), None,
         paused_since=msk(26, 12), fr_due=msk(26, 14), res_due=msk(27, 10)),
    Seed("T7", "hr", "anna", "leave", msk(30, 11), Status.CLOSED, "dina", msk(30, 11, 5), None, msk(30, 12), None,
         fr_due=msk(30, 11, 1), res_due=msk(30, 11, 2), csat=1, comment="other team"),
    Seed("T8", "it", "anna", "hardware", msk(30, 14), Status.NEW, fr_due=msk(1, 12, month=12)),
    Seed("T9", "it", "anna", "network", msk(30, 15), Status.NEW, fr_due=msk(1, 12, month=12)),
    Seed("T10", "it", "vera", "network", msk(20, 10), Status.CLOSED, "boris", msk(20, 10, 10), None, msk(20, 12), None),
    # dina's earlier access ticket is 8 days and 1 hour before T11: not a repeat.
    Seed("T11a", "it", "dina", "access", msk(22, 15), Status.CLOSED, "boris", msk(23, 10), None, msk(23, 11), None),
    Seed("T11", "it", "dina", "access", msk(30, 16), Status.NEW, fr_due=msk(1, 12, month=12)),
    # Mon 09:00 → answered 09:05 (5); resolution due Mon 18:00 passed while the clock ran: overdue.
    Seed("T12", "it", "egor", "software", msk(30, 9), Status.CLAIMED, "boris", msk(30, 9, 5), 5,
         fr_due=msk(30, 10), res_due=msk(30, 18)),
]
REPEATS = {"T1", "T8", "T9"}  # anna/hardware after T5 (x2), anna/network after Saturday's T4
NAMES = {"boris": "Boris Petrov", "vera": "Vera Sokolova"}


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(q * len(ordered)) - 1]


def in_day(t: datetime | None, day: date) -> bool:
    return t is not None and t.astimezone(MSK).date() == day


def breached(sd: Seed) -> bool:
    return bool((sd.res_due and sd.resolved and sd.resolved > sd.res_due)
                or (sd.fr_due and sd.first_response and sd.first_response > sd.fr_due))


async def seed(app: App) -> dict[str, int]:
    ids: dict[str, int] = {}
    async with app.db.transaction() as s:
        person = {key: (await people.person_by_key(s, key)) for key in app.config.people}
        for sd in SEEDS:
            requester = person[sd.requester]
            assert requester is not None and requester.id is not None
            ticket = await tickets.create_ticket(
                s, team=sd.team, category=sd.category, priority="normal", requester_id=requester.id,
                text=f"{sd.ref} seeded", platform="telegram", now=sd.created.astimezone(UTC),
                first_response_due=sd.fr_due, resolution_due=sd.res_due,
            )
            ticket.status = sd.status
            ticket.assignee_id = person[sd.assignee].id if sd.assignee else None  # type: ignore[union-attr]
            ticket.first_response_at = sd.first_response
            ticket.resolved_at = sd.resolved
            ticket.sla_paused_minutes = sd.paused_minutes
            ticket.sla_paused_at = sd.paused_since
            ticket.csat, ticket.csat_comment = sd.csat, sd.comment
            s.add(ticket)
            await s.flush()
            assert ticket.id is not None
            ids[sd.ref] = ticket.id
        kb = [
            (None, "Принтер не печатает", "gap", msk(30, 8), "T5"),
            (None, "принтер  не печатает", "gap", msk(30, 10), "T1"),
            (None, "vpn slow", "gap", msk(30, 15), "T9"),
            (None, "отпуск", "gap", msk(30, 11), "T7"),  # HR's
            (None, "wifi", "gap", msk(27, 17), "T2"),  # Friday
            ("vpn-connect-ru", "vpn", "solved", msk(30, 9), None),
            ("vpn-connect-ru", "vpn", "solved", msk(30, 23, 59), None),
            ("vpn-connect-ru", "vpn", "solved", msk(29, 23, 59), None),  # Sunday
            ("vpn-connect-ru", "vpn", "shown", msk(30, 9), None),
        ]
        for slug, query, outcome, when, ref in kb:
            await feedback.record(s, slug=slug, query=query, outcome=outcome, now=when.astimezone(UTC),
                                  ticket_id=ids[ref] if ref else None)
    return ids


async def test_the_digest_numbers_match_the_hand_worked_ones(app: App) -> None:
    ids = await seed(app)
    async with app.db.transaction() as s:
        n = await digest.compute(s, app.config, "it", digest.day_period(DAY, MSK), NOW)

    it = [sd for sd in SEEDS if sd.team == "it"]
    resolved = [sd for sd in it if in_day(sd.resolved, DAY)]
    open_now = [sd for sd in it if sd.status in OPEN_STATUSES]
    assert n.created == len([sd for sd in it if in_day(sd.created, DAY)]) == 7
    assert n.resolved == len(resolved) == 3
    assert n.open_now == len(open_now) == 7
    assert n.overdue == 2  # T5 (no answer past due) and T12 (resolution due passed); T6 is paused

    frt = [sd.frt_business * 60 for sd in it if in_day(sd.first_response, DAY) and sd.frt_business is not None]
    res = [sd.res_business * 60 for sd in resolved if sd.res_business is not None]
    assert len(frt) == 5 and len(res) == 3
    assert (n.frt_p50, n.frt_p90) == (nearest_rank(frt, 0.5), nearest_rank(frt, 0.9)) == (30 * 60, 80 * 60)
    assert (n.res_p50, n.res_p90) == (nearest_rank(res, 0.5), nearest_rank(res, 0.9)) == (180 * 60, 420 * 60)
    assert n.breach_share == sum(breached(sd) for sd in resolved) / len(resolved) == 1 / 3

    by_owner = Counter(NAMES.get(sd.assignee or "", None) for sd in open_now)
    assert n.backlog == sorted(by_owner.items(), key=lambda kv: (-kv[1], kv[0] or ""))
    assert n.backlog[0] == (None, 4)
    oldest = sorted(open_now, key=lambda sd: sd.created)[:5]
    assert [o.id for o in n.oldest] == [ids[sd.ref] for sd in oldest]

    assert n.repeats == len(REPEATS)
    assert [(r.requester, r.category, r.count) for r in n.repeat_top] == [
        ("Anna Ivanova", "hardware", 2), ("Anna Ivanova", "network", 1)]

    rated = [sd.csat for sd in resolved if sd.csat is not None]
    assert n.csat_count == len(rated) == 3
    assert n.csat_avg is not None and math.isclose(n.csat_avg, sum(rated) / len(rated))
    assert [(r.ticket_id, r.score, r.comment) for r in n.low_ratings] == [(ids["T2"], 2, "slow  again")]
    assert n.deflections == 2  # two "solved" on Monday (one at 23:59); Sunday's and "shown" do not count
    assert [(q.casefold().split(), k) for q, k in n.gaps] == [(["принтер", "не", "печатает"], 2), (["vpn", "slow"], 1)]

    # The chart's 14 days: counted from the seeds by local day.
    days = [DAY - timedelta(days=13 - i) for i in range(14)]
    assert [d.day_start.astimezone(MSK).date() for d in n.days] == days
    assert [d.created for d in n.days] == [sum(in_day(sd.created, d) for sd in it) for d in days]
    assert [d.resolved for d in n.days] == [sum(in_day(sd.resolved, d) for sd in it) for d in days]
    assert [d.breached for d in n.days] == [sum(in_day(sd.resolved, d) and breached(sd) for sd in it) for d in days]
    assert sum(d.created for d in n.days) == 12  # all IT seeds are within the 14 days

    text = digest.render(translator("en"), n, app.config)
    assert text.splitlines()[0] == "IT support — digest for Monday, November 30, 2026"
    assert "Created 7 · resolved 3 · open now 7 · overdue 2" in text
    assert "median 30m, p90 1h 20m" in text and "median 3h, p90 7h" in text
    assert "SLA breached: 33% of resolved" in text and "CSAT 3.7 (ratings: 3)" in text
    assert "Open per assignee: unassigned 4, Boris Petrov 2, Vera Sokolova 1" in text
    ru = digest.render(translator("ru"), n, app.config)
    assert "сводка за понедельник, 30 ноября 2026\u202fг." in ru and "CSAT 3,7" in ru

    chart = digest.chart_file(translator("ru"), n, app.config)
    assert chart.data is not None and chart.data.startswith(b"\x89PNG\r\n\x1a\n") and chart.size == len(chart.data)
    with Image.open(io.BytesIO(chart.data)) as image:
        image.verify()
    with Image.open(io.BytesIO(chart.data)) as image:
        assert image.format == "PNG" and image.size == (900, 400)
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
        assert colours is not None and len(colours) > 10  # bars, a line and text, not a blank canvas


def test_many_business_minutes_at_once_agree_with_the_calendar(config: object) -> None:
    cal = for_team(config, "it")  # type: ignore[arg-type]
    start = msk(20, 0)
    pairs = [(start + timedelta(minutes=37 * i), start + timedelta(minutes=37 * i + 53 * j))
             for i in range(0, 400, 7) for j in (0, 1, 5, 40, 300)]
    assert digest.business_minutes(cal, pairs) == pytest.approx([cal.between(a, b) for a, b in pairs], abs=1e-6)
    # Across a DST change in a zone that has one.
    from scheduler.calendar import BusinessCalendar

    berlin = BusinessCalendar(zone=ZoneInfo("Europe/Berlin"))
    spring = [(datetime(2027, 3, 27, 22, tzinfo=UTC) + timedelta(hours=h), datetime(2027, 3, 28, 12, tzinfo=UTC))
              for h in range(0, 12)]
    assert digest.business_minutes(berlin, spring) == pytest.approx([berlin.between(a, b) for a, b in spring], abs=1e-6)


def test_stats_periods_end_with_today_in_the_team_zone() -> None:
    now = msk(1, 0, 30, month=12)  # Tuesday 00:30 in Moscow, still Monday in UTC
    week = digest.parse_period("", now, MSK)
    assert week is not None and (week.name, week.days, week.last_day) == ("week", 7, date(2026, 12, 1))
    assert week.start == msk(25, 0) and week.end == msk(2, 0, month=12)
    for words, days in ((("today", "Сегодня"), 1), (("month", "месяц"), 30), (("14", "14d"), 14)):
        for word in words:
            period = digest.parse_period(word, now, MSK)
            assert period is not None and period.days == days and period.start == msk(2, 0, month=12) - timedelta(days=days)
    assert [digest.parse_period(w, now, MSK) for w in ("0", "367", "year", "٣", "-1")] == [None] * 5
