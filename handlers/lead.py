"""Lead commands: ``/stats [days]`` (the daily digest reuses the same numbers)."""

from __future__ import annotations

from datetime import timedelta

from babel.dates import format_timedelta

from handlers.context import Context
from handlers.events import Reply
from handlers.texts import Translator
from store import metrics, people


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


def render_stats(t: Translator, st: metrics.Stats, days: int, team_title: str | None) -> str:
    return t(
        "stats",
        days=days,
        period=t.plural("n_days", days),
        team=f" · {team_title}" if team_title else "",
        created=st.created, resolved=st.resolved, open=st.open_now, overdue=st.overdue,
        frt_p50=human_duration(st.frt_p50, t.locale), frt_p90=human_duration(st.frt_p90, t.locale),
        res_p50=human_duration(st.res_p50, t.locale), res_p90=human_duration(st.res_p90, t.locale),
        breach="—" if st.breach_share is None else f"{st.breach_share:.0%}",
        csat="—" if st.csat_avg is None else f"{st.csat_avg:.1f}",
        csat_n=st.csat_count, deflections=st.deflections,
    )


async def show_stats(ctx: Context, arg: str) -> None:
    days = 7
    if arg.strip():
        try:
            days = int(arg.strip().removesuffix("d"))
        except ValueError:
            days = 0
        if not 1 <= days <= 366:
            ctx.reply("usage", usage="/stats [days 1..366]")
            return
    teams = sorted({m.team for m in await people.memberships_of(ctx.s, ctx.person_id)})
    if not teams:
        await ctx.deny("stats", "reason_not_staff", None)
        return
    parts = []
    for team in teams:
        st = await metrics.stats(ctx.s, since=metrics.since_days(ctx.now, days), now=ctx.now, team=team)
        parts.append(render_stats(ctx.t, st, days, ctx.config.teams[team].title.get(ctx.locale)))
    ctx.here(Reply("\n\n".join(parts)))
