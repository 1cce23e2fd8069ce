"""Lead commands: ``/stats [today|week|month|days]`` — the digest's numbers and chart on demand."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from handlers.cards import team_timezone
from handlers.context import Context
from handlers.events import Reply
from scheduler import digest
from scheduler.digest import human_duration
from store import people

__all__ = ["human_duration", "show_stats"]


async def show_stats(ctx: Context, arg: str) -> None:
    """The numbers of every team the person is staff of, for the period asked, each with its
    chart. Agents see them too (as before); the digest goes to the leads."""
    teams = sorted({m.team for m in await people.memberships_of(ctx.s, ctx.person_id)} & set(ctx.config.teams))
    if not teams:
        await ctx.deny("stats", "reason_not_staff", None)
        return
    periods = {team: digest.parse_period(arg, ctx.now, ZoneInfo(team_timezone(ctx.config, team))) for team in teams}
    if any(p is None for p in periods.values()):
        ctx.reply("usage", usage=ctx.t("stats_usage"))
        return
    for team, period in periods.items():
        assert period is not None
        numbers = await digest.compute(ctx.s, ctx.config, team, period, ctx.now)
        reply = await digest.digest_reply(ctx.config, numbers, ctx.locale)
        ctx.here(Reply(reply.text, attachments=reply.attachments))
