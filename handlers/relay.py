"""Messages inside a ticket: a requester's follow-up reaches the agent, an agent's reply
reaches the requester, wherever each of them is (Telegram, Slack, terminal)."""

from __future__ import annotations

from handlers.agent import bad_state, display_name, load_ticket, refresh_card, require_staff
from handlers.context import Context
from handlers.events import Button, Reply
from store import people, tickets
from store.models import OPEN_STATUSES, MessageKind, Ticket


def _with_reply_button(text: str, label: str, ticket_id: int | None) -> Reply:
    return Reply(text, ((Button(label, "reply", ticket_id),),), ticket_id=ticket_id)


async def post_message(ctx: Context, number: int | None, text: str) -> bool:
    """Add ``text`` to ticket ``number`` as the actor's message and relay it. Returns success."""
    if not text.strip() and not ctx.inc.attachments:  # a file without a caption is not empty
        ctx.reply("empty_reply")
        return False
    ticket = await load_ticket(ctx, "reply", number)
    if ticket is None:
        return False
    if ticket.requester_id == ctx.person_id:
        return await _requester_followup(ctx, ticket, text)
    if not await require_staff(ctx, "reply", ticket):
        return False
    return await _agent_reply(ctx, ticket, text)


async def _requester_followup(ctx: Context, ticket: Ticket, text: str) -> bool:
    if ticket.status not in OPEN_STATUSES:
        bad_state(ctx, ticket)
        return False
    await tickets.add_message(
        ctx.s, ticket, kind=MessageKind.REQUESTER, author_id=ctx.person_id, text=text,
        platform=ctx.inc.platform, now=ctx.now,
    )
    ctx.reply("followup_sent", n=ticket.id)
    await relay_to_staff(ctx, ticket, text)
    return True


async def relay_to_staff(ctx: Context, ticket: Ticket, text: str) -> None:
    """The requester's words go to the assignee, or to the queue while nobody holds it."""
    name = ctx.person.name
    n = ticket.id

    def build(t):  # type: ignore[no-untyped-def]
        return _with_reply_button(t("relay_from_requester", n=n, name=name, text=text), t("btn_reply"), n)

    if ticket.assignee_id is not None:
        await ctx.to_person(ticket.assignee_id, build)
    else:
        await ctx.to_team(ticket.team, ticket.tier, build)


async def _agent_reply(ctx: Context, ticket: Ticket, text: str) -> bool:
    if ticket.status not in OPEN_STATUSES:
        bad_state(ctx, ticket)
        return False
    if ticket.assignee_id is None:
        result = await tickets.claim_ticket(ctx.s, ticket.id, ctx.person_id, ctx.now)  # type: ignore[arg-type]
        if not result.won:
            await ctx.deny("reply", "reason_held", ticket.id, n=ticket.id, name=await display_name(ctx, result.holder_id))
            return False
        ticket = result.ticket
    elif ticket.assignee_id != ctx.person_id and not await people.is_lead(ctx.s, ctx.person_id, ticket.team):
        await ctx.deny("reply", "reason_held", ticket.id, n=ticket.id, name=await display_name(ctx, ticket.assignee_id))
        return False
    await tickets.add_message(
        ctx.s, ticket, kind=MessageKind.AGENT, author_id=ctx.person_id, text=text,
        platform=ctx.inc.platform, now=ctx.now,
    )
    requester = await display_name(ctx, ticket.requester_id) or "?"
    ctx.reply("reply_sent", n=ticket.id, name=requester)
    name = ctx.person.name
    n = ticket.id
    await ctx.to_person(
        ticket.requester_id,
        lambda t: _with_reply_button(t("relay_from_agent", n=n, name=name, text=text), t("btn_reply"), n),
    )
    await refresh_card(ctx, ticket)
    return True
