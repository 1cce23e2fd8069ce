"""What the desk does by itself when a sweep rule fires (``scheduler.sweep`` decides when).

Each function works in a :func:`handlers.context.system_context` (nobody acts; audits
record ``actor_id=None``) and reuses the agent-side code: the queue card, escalation,
resolve / close, and the usual addressing (queue chats, DMs, the leads).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.config import BusinessSpan
from handlers import agent
from handlers.cards import escalation_target, format_time
from handlers.context import Context
from handlers.events import Button, Reply
from handlers.lead import human_duration
from handlers.texts import Translator, translator
from store import people, tickets
from store.models import Person, Ticket

WHAT = {"first_response": "sweep_what_first_response", "resolution": "sweep_what_resolution"}


def _claim_row(t: Translator, n: int | None) -> tuple[tuple[Button, ...], ...]:
    return ((Button(t("btn_claim"), "claim", n),),)


async def repost_unclaimed(ctx: Context, ticket: Ticket, waited_minutes: float) -> None:
    """Ping the ticket's queue again (in its thread there), with a Claim button."""
    n, subject = ticket.id, ticket.subject
    await ctx.to_team(ticket.team, ticket.tier, lambda t: Reply(
        t("sweep_unclaimed_repost", n=n, subject=subject, waited=human_duration(waited_minutes * 60, t.locale)),
        _claim_row(t, n), ticket_id=n))


async def ping_lead_unclaimed(ctx: Context, ticket: Ticket, waited_minutes: float) -> None:
    """Still unclaimed: the queue is pinged naming the team's lead(s), and the leads are told."""
    n, subject, tier = ticket.id, ticket.subject, ticket.tier
    leads = ", ".join(p.name for p, _ in await people.team_members(ctx.s, ticket.team, people.ROLE_LEAD)) or "—"
    team = ctx.config.teams[ticket.team].title

    def waited(t: Translator) -> str:
        return human_duration(waited_minutes * 60, t.locale)

    await ctx.to_team(ticket.team, tier, lambda t: Reply(
        t("sweep_unclaimed_lead", n=n, subject=subject, waited=waited(t), lead=leads), _claim_row(t, n), ticket_id=n))
    await ctx.to_leads(ticket.team, lambda t: Reply(
        t("sweep_unclaimed_lead_notice", n=n, subject=subject, team=team.get(t.locale), tier=tier, waited=waited(t)),
        ticket_id=n))


async def remind_assignee(ctx: Context, ticket: Ticket, *, overdue: bool) -> None:
    """DM the assignee: the first response is due soon (``overdue``: is past due)."""
    if ticket.assignee_id is None:
        return
    n, subject, due, team = ticket.id, ticket.subject, ticket.first_response_due, ticket.team
    key = "sweep_response_overdue" if overdue else "sweep_response_near"
    await ctx.to_person(ticket.assignee_id, lambda t: Reply(
        t(key, n=n, subject=subject, due=format_time(due, ctx.config, t.locale, team=team)),
        ((Button(t("btn_reply"), "reply", n), Button(t("btn_resolve"), "resolve", n)),), ticket_id=n))


async def escalate_breach(ctx: Context, ticket: Ticket, what: str, due: datetime) -> str | None:
    """An SLA due passed: up one staffed tier (none: it stays) and the leads are told.
    Returns the tier escalated to, if any."""
    n, subject, before, team = ticket.id, ticket.subject, ticket.tier, ticket.team

    def when(t: Translator) -> str:
        return format_time(due, ctx.config, t.locale, team=team)

    target = escalation_target(ctx.config, ticket)
    if target is not None:
        t = translator(ctx.config.desk.default_locale)  # the reason is stored, in the desk's language
        reason = await agent.move_up(ctx, ticket, target, t("sweep_breach_reason", what=t(WHAT[what]), due=when(t)),
                                     actor_id=None)
        await agent.announce_escalation(ctx, ticket, reason)
        await ctx.to_leads(team, lambda t: Reply(t(
            "sweep_breach_escalated", n=n, subject=subject, what=t(WHAT[what]), due=when(t), from_tier=before,
            to_tier=target), ticket_id=n))
    else:
        await ctx.to_leads(team, lambda t: Reply(t(
            "sweep_breach_stays", n=n, subject=subject, what=t(WHAT[what]), due=when(t), tier=before), ticket_id=n))
    return target


def span_text(t: Translator, span: BusinessSpan) -> str:
    """A business-time span for a reader: "3 рабочих дня", "2 h 30 min", "1 working day 4 h"."""
    parts = [t.plural("sweep_working_days", span.days)] if span.days else []
    if span.minutes or not parts:
        parts.append(human_duration(span.minutes * 60, t.locale))
    return " ".join(parts)


async def remind_requester(ctx: Context, ticket: Ticket, resolve_after: BusinessSpan | None) -> None:
    """The ticket waits on its requester: remind them (in the ticket's conversation), saying
    when it will be resolved without an answer (``None``: it will not)."""
    n, subject = ticket.id, ticket.subject

    def text(t: Translator) -> str:
        if resolve_after is None:
            return t("sweep_waiting_remind_only", n=n, subject=subject)
        return t("sweep_waiting_remind", n=n, subject=subject, after=span_text(t, resolve_after))

    await ctx.to_person(ticket.requester_id, lambda t: Reply(text(t), ticket_id=n))


async def auto_resolve(ctx: Context, ticket: Ticket) -> None:
    """No answer from the requester: resolved with a note; they can reopen it with one tap."""
    note = translator(ctx.config.desk.default_locale)("sweep_auto_resolved_note")
    await tickets.resolve_ticket(ctx.s, ticket, None, ctx.now, note=note)
    await agent.refresh_card(ctx, ticket)
    n, subject = ticket.id, ticket.subject
    await ctx.to_person(ticket.requester_id, lambda t: Reply(
        t("sweep_auto_resolved", n=n, subject=subject), ((Button(t("btn_reopen"), "reopen", n),),), ticket_id=n))


async def close_unrated(ctx: Context, ticket: Ticket) -> None:
    """Resolved and never rated: closed (the card shows it)."""
    await tickets.close_ticket(ctx.s, ticket, None, ctx.now, reason="not rated")
    await agent.refresh_card(ctx, ticket)


async def tell_leads_of_absence(ctx: Context, team: str, person: Person, held: Sequence[Ticket], *, away: bool) -> None:
    """An agent is off shift (or ``/away``) holding tickets: the team's leads get the list."""
    lines = "\n".join(f"#{tk.id} {tk.subject}" for tk in held)
    key = "sweep_away_lead" if away else "sweep_off_shift_lead"
    await ctx.to_leads(team, lambda t: Reply(t(key, name=person.name, tickets=lines)))
