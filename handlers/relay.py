"""Messages inside a ticket: a requester's follow-up reaches the agent, an agent's reply
reaches the requester, wherever each of them is (Telegram, Slack, terminal).

Files come along by reference (``Reply.attachments``); one the platform will not let the bot
pass on (too big) is named in the relayed text with a note, and its sender is told."""

from __future__ import annotations

from collections.abc import Sequence
from types import EllipsisType

from handlers import files as filing
from handlers.agent import bad_state, display_name, load_ticket, refresh_card, require_staff
from handlers.context import Context
from handlers.events import Attachment, Button, Reply
from handlers.texts import Translator
from store import people, tickets
from store.models import OPEN_STATUSES, MessageKind, Ticket, TicketMessage


def _with_reply_button(text: str, label: str, ticket_id: int | None,
                       attachments: tuple[Attachment, ...] = ()) -> Reply:
    return Reply(text, ((Button(label, "reply", ticket_id),),), ticket_id=ticket_id, attachments=attachments)


def relayed_reply(t: Translator, key: str, *, n: int | None, name: str, text: str,
                  files: Sequence[Attachment] = ()) -> Reply:
    """A relayed message (``relay_from_requester`` / ``relay_from_agent`` / ``relay_edited``)
    with its files: those that can be passed on are attached, the others get a note."""
    body, passed = filing.relayed(t, text, files)
    return _with_reply_button(t(key, n=n, name=name, text=body), t("btn_reply"), n, passed)


async def add_own_message(ctx: Context, ticket: Ticket, kind: MessageKind, text: str,
                          files: Sequence[Attachment] = (), *, message_id: str | None | EllipsisType = ...) -> TicketMessage:
    """Add the actor's message to ``ticket`` with its files and where the platform shows it
    (``message_id``: the platform id of the message, by default the event's)."""
    return await tickets.add_message(
        ctx.s, ticket, kind=kind, author_id=ctx.person_id, text=text, platform=ctx.inc.platform, now=ctx.now,
        attachments=filing.as_data(files), chat_id=ctx.inc.chat_id,
        message_id=ctx.inc.message_id if message_id is ... else message_id,
    )


async def post_message(ctx: Context, number: int | None, text: str,
                       files: Sequence[Attachment] | None = None) -> bool:
    """Add ``text`` (and ``files``, default: the event's) to ticket ``number`` as the actor's
    message and relay it. Returns success."""
    files = tuple(ctx.inc.attachments if files is None else files)
    if not text.strip() and not files:  # a file without a caption is not empty
        ctx.reply("empty_reply")
        return False
    ticket = await load_ticket(ctx, "reply", number)
    if ticket is None:
        return False
    if ticket.requester_id == ctx.person_id:
        return await _requester_followup(ctx, ticket, text, files)
    if not await require_staff(ctx, "reply", ticket):
        return False
    return await _agent_reply(ctx, ticket, text, files)


async def _requester_followup(ctx: Context, ticket: Ticket, text: str, files: Sequence[Attachment]) -> bool:
    if ticket.status not in OPEN_STATUSES:
        bad_state(ctx, ticket)
        return False
    await add_own_message(ctx, ticket, MessageKind.REQUESTER, text, files)
    ctx.reply("followup_sent", n=ticket.id)
    filing.tell_sender_too_big(ctx, files)
    await relay_to_staff(ctx, ticket, text, files)
    return True


async def relay_to_staff(ctx: Context, ticket: Ticket, text: str, files: Sequence[Attachment] = (),
                         *, key: str = "relay_from_requester") -> None:
    """The requester's words go to the team chats (threaded under the ticket by the sender)
    and to the assignee directly where their platform has no team chat for this team; while
    nobody holds the ticket, to the queue (team chats, or the tier's agents where none)."""
    name = ctx.person.name
    n = ticket.id

    def build(t: Translator) -> Reply:
        return relayed_reply(t, key, n=n, name=name, text=text, files=files)

    if ticket.assignee_id is None:
        await ctx.to_team(ticket.team, ticket.tier, build)
        return
    await ctx.to_team_chats(ticket.team, ticket.tier, build)
    if await ctx.reached_on(ticket.assignee_id) not in ctx.team_chat_platforms(ticket.team):
        await ctx.to_person(ticket.assignee_id, build)


async def relay_to_requester(ctx: Context, ticket: Ticket, text: str, files: Sequence[Attachment] = (),
                             *, key: str = "relay_from_agent") -> None:
    name = ctx.person.name
    n = ticket.id
    await ctx.to_person(ticket.requester_id, lambda t: relayed_reply(t, key, n=n, name=name, text=text, files=files))


async def _agent_reply(ctx: Context, ticket: Ticket, text: str, files: Sequence[Attachment]) -> bool:
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
    await add_own_message(ctx, ticket, MessageKind.AGENT, text, files)
    requester = await display_name(ctx, ticket.requester_id) or "?"
    ctx.here(Reply(ctx.t("reply_sent", n=ticket.id, name=requester), ticket_id=ticket.id))
    filing.tell_sender_too_big(ctx, files)
    await relay_to_requester(ctx, ticket, text, files)
    await refresh_card(ctx, ticket)
    return True
