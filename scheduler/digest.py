"""The leads' daily digest and ``/stats``: periods, business-time numbers, the text, delivery.

- :func:`compute` gathers a team's numbers for a period from :mod:`store.metrics`
  (aggregated by the database) and measures the response and resolution times in the
  team's business time (:func:`scheduler.calendar.for_team`);
- :func:`render` writes them in the reader's language (Babel numbers, dates, durations);
- :func:`digests_once` is the scheduler's job: every team whose ``digest_time`` (local to
  its calendar's zone) has passed today gets yesterday's digest with its chart in its lead
  chats, written to the outbox together with the ``digest:<team>:<yesterday>`` key in
  ``scheduled_action`` — one transaction, so a restart, a second run or a second process
  never sends it twice. After downtime only the most recent missed digest (today's) is
  sent, once, labelled with its date and marked late; older missed days are skipped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_timedelta
from babel.numbers import format_decimal, format_percent
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import Config
from handlers.cards import format_time, team_timezone
from handlers.events import Attachment, Destination, Reply
from handlers.texts import Translator, translator
from kb.feedback import FeedbackRow, build_report
from scheduler import calendar
from store import digests, metrics, outbox

log = logging.getLogger("deskbot.digest")

KIND = "digest"
LATE_AFTER = timedelta(hours=1)  # a digest sent this long after its time says it is late
PERIODS = {"today": 1, "week": 7, "month": 30}
PERIOD_WORDS = {"today": "today", "week": "week", "month": "month",  # and as a Russian reader types them
                "сегодня": "today", "неделя": "week", "неделю": "week", "месяц": "month"}


# --- periods ------------------------------------------------------------------------------


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant local ``day`` starts at in ``zone``."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def day_bounds(last_day: date, days: int, zone: ZoneInfo) -> list[datetime]:
    """The ``days + 1`` local midnights (UTC) around the ``days`` days ending with ``last_day``."""
    first = last_day - timedelta(days=days - 1)
    return [local_midnight(first + timedelta(days=i), zone) for i in range(days + 1)]


def digest_due(now: datetime, zone: ZoneInfo, digest_time: str) -> tuple[datetime, date] | None:
    """Today's digest time (UTC) and the local day that digest reports on (yesterday), once
    the time has passed today in ``zone``; None before it. Earlier days' digests are never
    due any more: after downtime only today's is sent (late)."""
    today = now.astimezone(zone).date()
    due = datetime.combine(today, time.fromisoformat(digest_time), tzinfo=zone).astimezone(UTC)
    if due > now:
        return None
    return due, today - timedelta(days=1)


def digest_key(team: str, day: date) -> str:
    return f"{KIND}:{team}:{day.isoformat()}"


@dataclass(frozen=True)
class Period:
    """What a set of numbers covers: ``[start, end)`` in UTC, the ``days`` local days ending
    with ``last_day`` (a period with today in it is "so far")."""

    start: datetime
    end: datetime
    last_day: date
    days: int
    name: str  # "day" (a digest), "today", "week", "month" or "days"


def day_period(day: date, zone: ZoneInfo) -> Period:
    return Period(local_midnight(day, zone), local_midnight(day + timedelta(days=1), zone), day, 1, "day")


def parse_period(arg: str, now: datetime, zone: ZoneInfo) -> Period | None:
    """``/stats`` argument: ``today``, ``week`` (the default: the last 7 days with today),
    ``month`` (the last 30) — or сегодня, неделя, месяц — or a number of days 1..366;
    None for anything else."""
    word = arg.strip().lower() or "week"
    if word in PERIOD_WORDS:
        name = PERIOD_WORDS[word]
        days = PERIODS[name]
    else:
        digits = word.removesuffix("d")
        if not (digits.isascii() and digits.isdigit() and 1 <= int(digits) <= 366):
            return None
        days, name = int(digits), "days"
    today = now.astimezone(zone).date()
    # Up to the end of today: nothing has happened after now, and what happened at now counts.
    return Period(local_midnight(today - timedelta(days=days - 1), zone), local_midnight(today + timedelta(days=1), zone),
                  today, days, name)


# --- business time, fast ------------------------------------------------------------------


def business_minutes(cal: calendar.BusinessCalendar, pairs: Sequence[tuple[datetime, datetime]]) -> list[float]:
    """``cal.between(a, b)`` for many pairs at once.

    A month of a large team is tens of thousands of pairs, and each ``between`` walks the
    days in between. Here every instant becomes "business seconds since the first day"
    (running day totals, plus the part of its own and the previous day's working windows
    before it), computed with numpy over all instants at once; a pair is a difference.
    Same answers as ``between`` (the tests compare); a calendar without per-day
    ``windows`` is asked pair by pair.
    """
    windows = getattr(cal, "windows", None)
    zone = getattr(cal, "zone", None)
    if not pairs:
        return []
    if windows is None or zone is None:
        return [cal.between(a, b) for a, b in pairs]
    import numpy as np

    stamps = np.array([t.timestamp() for pair in pairs for t in pair], dtype=np.float64)
    first = datetime.fromtimestamp(float(stamps.min()), UTC).astimezone(zone).date() - timedelta(days=2)
    last = datetime.fromtimestamp(float(stamps.max()), UTC).astimezone(zone).date() + timedelta(days=1)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    starts = np.array([local_midnight(d, zone).timestamp() for d in days])
    per_day = [[(a.timestamp(), b.timestamp()) for a, b in windows(d)] for d in days]
    width = max(1, *(len(w) for w in per_day))
    lo = np.zeros((len(days), width))
    hi = np.zeros((len(days), width))
    for i, wins in enumerate(per_day):
        for k, (a, b) in enumerate(wins):
            lo[i, k], hi[i, k] = a, b
    before = np.concatenate(([0.0], np.cumsum((hi - lo).sum(axis=1))))  # before[i]: days first .. first+i-1
    index = np.searchsorted(starts, stamps, side="right") - 1  # each instant's local day

    def spent(rows: np.ndarray) -> np.ndarray:
        return np.clip(stamps[:, None] - lo[rows], 0.0, hi[rows] - lo[rows]).sum(axis=1)

    offset = before[index - 1] + spent(index - 1) + spent(index)
    a_off, b_off = offset[0::2], offset[1::2]
    minutes = np.where(stamps[1::2] > stamps[0::2], (b_off - a_off) / 60.0, 0.0)
    return [float(m) for m in minutes]


# --- the numbers --------------------------------------------------------------------------


@dataclass(frozen=True)
class Numbers:
    """One team's numbers for a period (durations in business seconds) and its chart series."""

    team: str
    period: Period
    now: datetime
    created: int
    resolved: int
    open_now: int
    overdue: int
    frt_p50: float | None
    frt_p90: float | None
    res_p50: float | None
    res_p90: float | None
    breach_share: float | None
    backlog: list[tuple[str | None, int]]
    oldest: list[metrics.OpenTicket]
    repeats: int
    repeat_top: list[metrics.Repeat]
    csat_avg: float | None
    csat_count: int
    low_ratings: list[metrics.LowRating]
    deflections: int
    gaps: list[tuple[str, int]]
    days: list[metrics.DayFlow]


def top_gaps(rows: Iterable[tuple[str, int]], limit: int) -> list[tuple[str, int]]:
    """Gap queries grouped as the KB report groups them (case, ё/е and spacing folded)."""
    expanded = [FeedbackRow(None, q, "gap") for q, n in reversed(list(rows)) for _ in range(n)]
    return [(g.query, g.count) for g in build_report(expanded).gaps[:limit]]


async def compute(s: AsyncSession, config: Config, team: str, period: Period, now: datetime) -> Numbers:
    """The team's numbers for ``period``; the chart covers ``digest.chart_days`` local days
    ending with the period's last day."""
    opts = config.digest
    cal = calendar.for_team(config, team)
    zone = ZoneInfo(team_timezone(config, team))
    start, end = period.start, period.end
    frt = [m * 60 for m in business_minutes(cal, await metrics.first_responses(s, team, start, end))]
    done = await metrics.resolutions(s, team, start, end)
    res_minutes = business_minutes(cal, [(r.created_at, r.resolved_at) for r in done])
    res = [max(0.0, m - r.paused_minutes) * 60 for m, r in zip(res_minutes, done, strict=True)]
    rated = [r.csat for r in done if r.csat is not None]
    open_total, overdue = await metrics.open_now(s, team, now)
    repeat_total, repeat_top = await metrics.repeats(s, team, start, end, window_days=opts.repeat_window_days)
    return Numbers(
        team=team, period=period, now=now,
        created=await metrics.created(s, team, start, end), resolved=len(done), open_now=open_total, overdue=overdue,
        frt_p50=metrics.percentile(frt, 50), frt_p90=metrics.percentile(frt, 90),
        res_p50=metrics.percentile(res, 50), res_p90=metrics.percentile(res, 90),
        breach_share=sum(r.breached for r in done) / len(done) if done else None,
        backlog=await metrics.backlog_by_assignee(s, team),
        oldest=await metrics.oldest_open(s, team, opts.oldest),
        repeats=repeat_total, repeat_top=repeat_top,
        csat_avg=sum(rated) / len(rated) if rated else None, csat_count=len(rated),
        low_ratings=await metrics.low_ratings(s, team, start, end, at_most=opts.low_csat),
        deflections=await metrics.deflections(s, start, end),
        gaps=top_gaps(await metrics.gap_queries(s, team, start, end), opts.gaps),
        days=await metrics.daily_flow(s, team, day_bounds(period.last_day, opts.chart_days, zone)),
    )


# --- the text -----------------------------------------------------------------------------


def human_duration(seconds: float | None, locale: str = "en") -> str:
    """A duration in the reader's units, e.g. "2 ч 5 мин" / "2h 5m" (Babel's narrow units)."""
    if seconds is None:
        return "—"
    minutes = int(seconds // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        parts = [(days, "day"), (hours, "hour")]
    elif hours:
        parts = [(hours, "hour"), (minutes, "minute")]
    else:
        parts = [(minutes, "minute")]
    shown = [p for p in parts if p[0]] or parts[:1]
    return " ".join(
        format_timedelta(timedelta(**{f"{unit}s": amount}), threshold=1000, granularity=unit,
                         format="narrow", locale=locale)
        for amount, unit in shown
    )


def _share(value: float | None, locale: str) -> str:
    return "—" if value is None else format_percent(value, locale=locale)


def period_title(t: Translator, period: Period) -> str:
    if period.name == "day":
        return t("digest_for_day", date=format_date(period.last_day, "full", locale=t.locale))
    if period.name == "today":
        return t("stats_today")
    return t("stats_last_days", period=t.plural("n_days", period.days))


def render(t: Translator, n: Numbers, config: Config, *, late_since: datetime | None = None) -> str:
    """The digest / ``/stats`` text for one team in ``t``'s language."""
    loc = t.locale
    title = config.teams[n.team].title.get(loc)
    lines = [t("digest_title", team=title, period=period_title(t, n.period))]
    if late_since is not None:
        lines.append(t("digest_late", due=format_time(late_since, config, loc, team=n.team)))
    lines.append(t("digest_flow", created=format_decimal(n.created, locale=loc),
                   resolved=format_decimal(n.resolved, locale=loc), open=format_decimal(n.open_now, locale=loc),
                   overdue=format_decimal(n.overdue, locale=loc)))
    lines.append(t("digest_times", frt_p50=human_duration(n.frt_p50, loc), frt_p90=human_duration(n.frt_p90, loc),
                   res_p50=human_duration(n.res_p50, loc), res_p90=human_duration(n.res_p90, loc)))
    csat = "—" if n.csat_avg is None else format_decimal(round(n.csat_avg, 1), format="0.0", locale=loc)
    lines.append(t("digest_sla_csat", breach=_share(n.breach_share, loc), csat=csat,
                   csat_n=format_decimal(n.csat_count, locale=loc)))
    backlog = ", ".join(f"{name or t('digest_unassigned')} {format_decimal(k, locale=loc)}" for name, k in n.backlog)
    lines.append(t("digest_backlog", items=backlog or "—"))
    if n.oldest:
        lines.append(t("digest_oldest"))
        lines += [t("digest_oldest_line", n=o.id, subject=o.subject, age=human_duration((n.now - o.created_at).total_seconds(), loc),
                    who=o.assignee or t("digest_unassigned")) for o in n.oldest]
    if n.repeats:
        top = ", ".join(t("digest_repeat_item", name=r.requester, category=_category(config, r.category, loc),
                          n=r.count) for r in n.repeat_top)
        lines.append(t("digest_repeats", n=n.repeats, days=config.digest.repeat_window_days, top=top))
    lines += [t("digest_low_rating", n=r.ticket_id, score=r.score, comment=" ".join(r.comment.split())[:200])
              for r in n.low_ratings]
    lines.append(t("digest_kb", n=format_decimal(n.deflections, locale=loc)))
    if n.gaps:
        lines.append(t("digest_gaps", items=", ".join(t("digest_gap_item", query=q[:80], n=k) for q, k in n.gaps)))
    return "\n".join(lines)


def _category(config: Config, key: str, locale: str) -> str:
    cat = config.categories.get(key)
    return cat.title.get(locale) if cat is not None else key


def chart_file(t: Translator, n: Numbers, config: Config) -> Attachment:
    """The 14-day chart as an inline PNG attachment (a photo in Telegram, a file in Slack)."""
    from scheduler.chart import render_chart

    png = render_chart(n.days, zone=ZoneInfo(team_timezone(config, n.team)), t=t,
                       title=t("chart_title", team=config.teams[n.team].title.get(t.locale),
                               days=len(n.days)))
    return inline_png(png, f"{n.team}-{n.period.last_day.isoformat()}.png")


def inline_png(png: bytes, name: str) -> Attachment:
    return Attachment(name=name, mime_type="image/png", size=len(png), file_id="", kind="photo", data=png)


async def digest_reply(config: Config, n: Numbers, locale: str, *, late_since: datetime | None = None) -> Reply:
    """Text and chart; the chart is drawn in a worker thread (matplotlib takes ~0.1 s)."""
    t = translator(locale)
    text = render(t, n, config, late_since=late_since)
    chart = await asyncio.to_thread(chart_file, t, n, config)
    return Reply(text, attachments=(chart,))


# --- delivery -----------------------------------------------------------------------------


def lead_chat_locale(config: Config, team: str) -> str:
    return config.teams[team].locale or config.desk.default_locale


def lead_destinations(config: Config, team: str, platforms: Iterable[str]) -> list[Destination]:
    """The team's lead chats on the platforms this desk serves."""
    chats = config.teams[team].lead_chats
    return [Destination(p, str(getattr(chats, p))) for p in platforms if getattr(chats, p, None) is not None]


async def digests_once(app: Any, now: datetime | None = None) -> list[str]:
    """Send every digest that is due and not sent yet; return their keys.

    ``app`` is a :class:`bot.app.App` (its ``db``, ``config``, ``platforms``, clock and
    outbox worker are used). Safe to call often and from several processes at once.
    """
    clock = getattr(app, "clock", None) or app.engine.clock
    now = (now or clock()).astimezone(UTC)
    sent: list[str] = []
    for team in app.config.teams:
        dests = lead_destinations(app.config, team, app.platforms)
        if not dests:
            continue
        try:
            key = await _send_team_digest(app, team, dests, now)
        except Exception:  # noqa: BLE001 — one team's failure must not hold back the others; retried next run
            log.exception("digest of team %s failed", team, extra={"team": team})
            continue
        if key is not None:
            sent.append(key)
    if sent:
        app.worker.wake()
    return sent


async def _send_team_digest(app: Any, team: str, dests: list[Destination], now: datetime) -> str | None:
    config: Config = app.config
    zone = ZoneInfo(team_timezone(config, team))
    when = digest_due(now, zone, config.teams[team].digest_time)
    if when is None:
        return None
    due, day = when
    key = digest_key(team, day)
    async with app.db.transaction() as s:
        if await digests.is_done(s, key):
            return None
        numbers = await compute(s, config, team, day_period(day, zone), now)
    late = due if now - due > LATE_AFTER else None
    reply = await digest_reply(config, numbers, lead_chat_locale(config, team), late_since=late)
    payload = {**reply.to_payload(), "thread_id": None, "reply_to": None}
    try:
        async with app.db.transaction() as s:
            await digests.record(s, key=key, kind=KIND, team=team, due_at=due, now=now,
                                 detail={"date": day.isoformat(), "late": late is not None,
                                         "chats": [f"{d.platform}:{d.chat_id}" for d in dests]})
            for dest in dests:
                await outbox.enqueue(s, platform=dest.platform, chat_id=dest.chat_id, payload=payload, now=now)
    except IntegrityError:
        log.info("digest %s was sent by another process", key, extra={"team": team})
        return None
    log.info("digest %s queued for %d chat(s)%s", key, len(dests), " (late)" if late else "", extra={"team": team})
    return key
