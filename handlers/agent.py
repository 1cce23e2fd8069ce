"""Agent actions on tickets: claim, assign, reply mode, note, resolve, escalate, release.

Every action loads the ticket and re-checks the actor against the store: buttons
and commands carry only a ticket number. Only agents (or leads) of the ticket's
team act on it; only the assignee or a lead resolves, releases or reassigns.
Refusals are answered and audited through :meth:`Context.deny`.
"""

from __future__ import annotations

from datetime import datetime

from handlers import kb_learning
from handlers.cards import escalation_target, format_time, status_text, ticket_card
from handlers.context import Context
from handlers.events import Button, Reply
from handlers.files import as_attachments, file_line
from handlers.texts import Translator
from scheduler.sla import ticket_due_times
from store import people, tickets
from store.models import OPEN_STATUSES, MessageKind, Status, Ticket
from store.tickets import TicketStateError

MAX_REASON = 300  # a reason or resolution note is one line
# Audit events shown in /ticket N, and the system messages they make redundant there.
HISTORY_EVENTS = ("claim", "assign", "release", "escalate", "resolve", "reopen", "rate", "csat_comment")
SYSTEM_MARKS = ("escalate ",)


async def display_name(ctx: Context, person_id: int | None) -> str | None:
    if person_id is None:
        return None
    if person_id == ctx.person.id:
        return ctx.person.name
    found = await people.reach_one(ctx.s, person_id)  # with their identities: the card asks next
    return found.person.name if found else None


async def refresh_card(ctx: Context, ticket: Ticket) -> None:
    """Post or edit the queue card so it shows the ticket's current state."""
    requester = await display_name(ctx, ticket.requester_id) or "?"
    owner = await display_name(ctx, ticket.assignee_id)
    blocked = await unreachable_on(ctx, ticket.requester_id)
    offer = await kb_learning.offer_for(ctx, ticket)  # resolved: "Answered by: …" (None otherwise)
    await ctx.update_card(
        ticket,
        lambda t: kb_learning.decorate(
            t, ticket_card(t, ticket, ctx.config, requester=requester, owner=owner, unreachable_on=blocked),
            ticket, offer),
    )


async def unreachable_on(ctx: Context, person_id: int) -> str | None:
    """The platform the person is reached on, if they blocked the bot there (else None)."""
    idents = [i for i in await people.identities_of(ctx.s, person_id) if i.platform in ctx.platforms]
    if not idents:
        return None
    best = max(idents, key=lambda i: (i.last_seen_at is not None, i.last_seen_at or ctx.now,
                                      -ctx.platforms.index(i.platform)))  # as Context picks it
    return best.platform if best.unreachable_at is not None else None


async def load_ticket(ctx: Context, action: str, number: int | None) -> Ticket | None:
    ticket = await tickets.get_ticket(ctx.s, number, for_update=True) if number is not None else None
    if ticket is None:
        await ctx.deny(action, "reason_no_ticket", number, shown="no_ticket", n=number if number is not None else "?")
    else:
        ctx.subject_ticket = ticket.id
    return ticket


async def is_staff(ctx: Context, ticket: Ticket) -> bool:
    return await people.is_agent(ctx.s, ctx.person_id, ticket.team) or await people.is_lead(
        ctx.s, ctx.person_id, ticket.team
    )


async def require_staff(ctx: Context, action: str, ticket: Ticket) -> bool:
    if await is_staff(ctx, ticket):
        return True
    team = ctx.config.teams[ticket.team].title.get(ctx.locale)
    # A stranger (neither staff nor requester) is told the same as for a missing ticket.
    shown = None if ticket.requester_id == ctx.person_id else "no_ticket"
    await ctx.deny(action, "reason_not_agent", ticket.id, shown=shown, team=team, n=ticket.id)
    return False


async def require_owner_or_lead(ctx: Context, action: str, ticket: Ticket) -> bool:
    if not await require_staff(ctx, action, ticket):
        return False
    if ticket.assignee_id == ctx.person_id or await people.is_lead(ctx.s, ctx.person_id, ticket.team):
        return True
    await ctx.deny(action, "reason_not_owner", ticket.id)
    return False


def bad_state(ctx: Context, ticket: Ticket) -> None:
    ctx.reply("reason_bad_state", n=ticket.id, status=ctx.t(f"status_{ticket.status}", owner="").rstrip(" —"))


async def claim(ctx: Context, number: int | None) -> None:
    ticket = await load_ticket(ctx, "claim", number)
    if ticket is None or not await require_staff(ctx, "claim", ticket):
        return
    result = await tickets.claim_ticket(ctx.s, ticket.id, ctx.person_id, ctx.now)  # type: ignore[arg-type]
    ticket = result.ticket
    if result.won:
        ctx.reply("claimed_ok", n=ticket.id)
        await refresh_card(ctx, ticket)
        agent = ctx.person.name
        await ctx.to_person(ticket.requester_id,
                            lambda t: Reply(t("claimed_requester", agent=agent, n=ticket.id), ticket_id=ticket.id))
    elif result.holder_id == ctx.person_id:
        ctx.reply("claimed_already_yours", n=ticket.id)
    elif result.holder_id is not None:
        ctx.reply("claimed_by_other", n=ticket.id, name=await display_name(ctx, result.holder_id))
    else:
        bad_state(ctx, ticket)


async def assign(ctx: Context, number: int | None, who: str | None) -> None:
    ticket = await load_ticket(ctx, "assign", number)
    if ticket is None or not await require_staff(ctx, "assign", ticket):
        return
    if ticket.assignee_id is not None and not await require_owner_or_lead(ctx, "assign", ticket):
        return
    if ticket.status not in (Status.NEW, Status.CLAIMED, Status.WAITING):
        bad_state(ctx, ticket)
        return
    agents = await people.team_members(ctx.s, ticket.team)
    if who is None:
        rows = tuple(
            (Button(f"{p.name} ({m.tier})", "assign", ticket.id, p.key),) for p, m in agents
        )
        ctx.here(Reply(ctx.t("assign_choose", n=ticket.id), rows, ticket_id=ticket.id))
        return
    target = next((p for p, _ in agents if p.key == who or p.name.lower() == who.lower()), None)
    if target is None:
        team = ctx.config.teams[ticket.team].title.get(ctx.locale)
        await ctx.deny("assign", "reason_unknown_agent", ticket.id, who=who, team=team)
        return
    assert target.id is not None
    await tickets.assign_ticket(ctx.s, ticket, target.id, ctx.person_id, ctx.now)
    ctx.reply("assigned_ok", n=ticket.id, name=target.name)
    await refresh_card(ctx, ticket)
    if target.id != ctx.person_id:
        await ctx.to_person(target.id, lambda t: assignment_notice(t, ticket))


def assignment_notice(t: Translator, ticket: Ticket) -> Reply:
    """What an agent gets when a ticket is assigned to them (by a person or by policy)."""
    n = ticket.id
    return Reply(
        t("assigned_to_you", n=n, subject=ticket.subject),
        ((Button(t("btn_reply"), "reply", n), Button(t("btn_resolve"), "resolve", n)),),
        ticket_id=n,
    )


async def start_reply(ctx: Context, number: int | None) -> int | None:
    """Check that the actor may write to the ticket; returns its number for the compose state."""
    ticket = await load_ticket(ctx, "reply", number)
    if ticket is None:
        return None
    if ticket.requester_id == ctx.person_id:
        return ticket.id
    if not await require_staff(ctx, "reply", ticket):
        return None
    if ticket.assignee_id not in (None, ctx.person_id) and not await people.is_lead(
        ctx.s, ctx.person_id, ticket.team
    ):
        await ctx.deny("reply", "reason_held", ticket.id, n=ticket.id, name=await display_name(ctx, ticket.assignee_id))
        return None
    return ticket.id


async def note(ctx: Context, number: int | None, text: str) -> None:
    ticket = await load_ticket(ctx, "note", number)
    if ticket is None or not await require_staff(ctx, "note", ticket):
        return
    await tickets.add_message(
        ctx.s, ticket, kind=MessageKind.NOTE, author_id=ctx.person_id, text=text,
        platform=ctx.inc.platform, now=ctx.now, attachments=[f.to_dict() for f in ctx.inc.attachments],
        chat_id=ctx.inc.chat_id, message_id=ctx.inc.message_id,
    )
    ctx.reply("note_added", n=ticket.id)


async def check_resolve(ctx: Context, number: int | None) -> int | None:
    """Whether the actor may resolve the ticket now (refusing if not); its number if so."""
    ticket = await load_ticket(ctx, "resolve", number)
    if ticket is None or not await require_owner_or_lead(ctx, "resolve", ticket):
        return None
    if ticket.status not in (Status.NEW, Status.CLAIMED, Status.WAITING):
        bad_state(ctx, ticket)
        return None
    return ticket.id


async def resolve(ctx: Context, number: int | None, note: str | None = None) -> None:
    """Resolve with an optional one-line note (``resolution_note`` and the audit detail, which
    ``/ticket N`` shows)."""
    ticket = await load_ticket(ctx, "resolve", number)
    if ticket is None or not await require_owner_or_lead(ctx, "resolve", ticket):
        return
    note = " ".join(note.split())[:MAX_REASON] or None if note else None
    try:
        await tickets.resolve_ticket(ctx.s, ticket, ctx.person_id, ctx.now, note=note)
    except TicketStateError:
        bad_state(ctx, ticket)
        return
    ctx.reply("resolved_ok", n=ticket.id)
    await refresh_card(ctx, ticket)
    await ctx.to_person(ticket.requester_id, lambda t: csat_request(t, ticket))


def csat_request(t: Translator, ticket: Ticket) -> Reply:
    n = ticket.id
    scores = tuple(Button(str(i), "rate", n, str(i)) for i in range(1, 6))
    text = t("resolved_requester", n=n, subject=ticket.subject)
    if ticket.resolution_note:  # the requester sees what was done, not only that it was
        head, _, ask = text.partition("\n")
        text = f"{head}\n{t('resolved_note', note=ticket.resolution_note)}\n{ask}".rstrip("\n")
    return Reply(
        text,
        (scores, (Button(t("btn_reopen"), "reopen", n),)),
        ticket_id=n,
    )


async def check_escalate(ctx: Context, number: int | None) -> int | None:
    """Whether the actor may escalate the ticket now (refusing if not); its number if so."""
    checked = await _escalation(ctx, number)
    return checked[0].id if checked else None


async def _escalation(ctx: Context, number: int | None) -> tuple[Ticket, str] | None:
    ticket = await load_ticket(ctx, "escalate", number)
    if ticket is None or not await require_staff(ctx, "escalate", ticket):
        return None
    if ticket.assignee_id is not None and not await require_owner_or_lead(ctx, "escalate", ticket):
        return None
    if ticket.status not in OPEN_STATUSES:
        bad_state(ctx, ticket)
        return None
    target = escalation_target(ctx.config, ticket)
    if target is None:
        await ctx.deny("escalate", "reason_no_higher_tier", ticket.id, n=ticket.id, tier=ticket.tier)
        return None
    return ticket, target


async def escalate(ctx: Context, number: int | None, reason: str | None = None) -> None:
    """Move the ticket to the next staffed tier (skipping empty ones), keeping the reason."""
    checked = await _escalation(ctx, number)
    if checked is None:
        return
    ticket, target = checked
    before = ticket.tier
    try:
        reason = await move_up(ctx, ticket, target, reason, actor_id=ctx.person_id)
    except TicketStateError:
        bad_state(ctx, ticket)
        return
    ctx.reply("escalated_ok", n=ticket.id, from_tier=before, to_tier=ticket.tier)
    await announce_escalation(ctx, ticket, reason)


async def move_up(ctx: Context, ticket: Ticket, target: str, reason: str | None, *, actor_id: int | None) -> str | None:
    """Escalate ``ticket`` to tier ``target`` with its history mark; returns the reason as kept.
    ``actor_id`` ``None`` is the desk itself (the scheduler's sweep)."""
    reason = " ".join(reason.split())[:MAX_REASON] if reason else None
    before = ticket.tier
    await tickets.escalate_ticket(ctx.s, ticket, actor_id, ctx.now, reason=reason, to_tier=target)
    mark = f"{before} → {ticket.tier}" + (f": {reason}" if reason else "")
    await tickets.add_message(
        ctx.s, ticket, kind=MessageKind.SYSTEM, author_id=actor_id, text=f"escalate {mark}",
        platform=ctx.inc.platform if actor_id is not None else None, now=ctx.now,
    )
    return reason


async def announce_escalation(ctx: Context, ticket: Ticket, reason: str | None) -> None:
    """After :func:`move_up`: the card shows the new tier, the tier is told, so is the requester."""
    await refresh_card(ctx, ticket)
    # In a shared team chat the card is edited in place, which pings nobody: tell the tier.
    tier, n, subject = ticket.tier, ticket.id, ticket.subject
    await ctx.to_team_chats(
        ticket.team, tier,
        lambda t: Reply(f"{t('new_in_tier', tier=tier)} #{n} {subject}"
                        + (f"\n{t('escalation_reason', reason=reason)}" if reason else ""),
                        ((Button(t("btn_claim"), "claim", n),),), ticket_id=n),
    )
    await ctx.to_person(ticket.requester_id, lambda t: Reply(t("escalated_requester", n=n), ticket_id=n))


async def release(ctx: Context, number: int | None) -> None:
    ticket = await load_ticket(ctx, "release", number)
    if ticket is None or not await require_owner_or_lead(ctx, "release", ticket):
        return
    try:
        await tickets.release_ticket(ctx.s, ticket, ctx.person_id, ctx.now)
    except TicketStateError:
        bad_state(ctx, ticket)
        return
    ctx.reply("released_ok", n=ticket.id)
    await refresh_card(ctx, ticket)



async def change_priority(ctx: Context, number: int | None, key: str) -> None:
    """``/priority N key``: another priority, and the SLA due times recomputed for it (in
    business time since filing, pauses not counted), recorded in the ticket's audit trail."""
    ticket = await load_ticket(ctx, "priority", number)
    if ticket is None or not await require_staff(ctx, "priority", ticket):
        return
    if ticket.assignee_id is not None and not await require_owner_or_lead(ctx, "priority", ticket):
        return
    if key not in ctx.config.priorities:
        ctx.reply("priority_unknown", name=key, names=", ".join(ctx.config.priorities))
        return
    if ticket.status not in OPEN_STATUSES:
        bad_state(ctx, ticket)
        return
    times = ticket_due_times(ctx.config, ticket, key)
    await tickets.change_priority(ctx.s, ticket, key, ctx.person_id, ctx.now, due=times)
    due = times.first_response if ticket.first_response_at is None else times.resolution
    ctx.reply("priority_changed", n=ticket.id, priority=ctx.config.priorities[key].title.get(ctx.locale),
              due=format_time(due, ctx.config, ctx.locale, team=ticket.team))
    await refresh_card(ctx, ticket)

async def agent_teams(ctx: Context) -> list[str]:
    return sorted({m.team for m in await people.memberships_of(ctx.s, ctx.person_id)})


async def list_queue(ctx: Context) -> None:
    teams = await agent_teams(ctx)
    if not teams:
        await ctx.deny("queue", "reason_not_staff", None)
        return
    # The config lists priorities from least to most urgent (low … urgent): most urgent first.
    rows = await tickets.team_queue(ctx.s, teams, priorities=list(reversed(ctx.config.priorities)))
    await _list(ctx, rows, "queue_title", "queue_empty")


async def find(ctx: Context, text: str) -> None:
    """``/find TEXT``: the agent's teams' tickets whose subject or messages contain the text."""
    teams = await agent_teams(ctx)
    if not teams:
        await ctx.deny("find", "reason_not_staff", None)
        return
    rows = await tickets.search_tickets(ctx.s, teams, text.strip()[:200])
    await _list(ctx, rows, "find_title", "find_empty")


async def list_mine(ctx: Context) -> None:
    rows = await tickets.assigned_to(ctx.s, ctx.person_id)
    await _list(ctx, rows, "mine_title", "mine_empty")


async def _list(ctx: Context, rows: list[Ticket], title: str, empty: str) -> None:
    if not rows:
        ctx.reply(empty)
        return
    lines = [ctx.t(title)]
    for tk in rows:
        owner = await display_name(ctx, tk.assignee_id)
        prio = ctx.config.priorities.get(tk.priority)
        lines.append(
            ctx.t(
                "queue_line", n=tk.id, priority=prio.title.get(ctx.locale) if prio else tk.priority,
                subject=tk.subject, status=status_text(ctx.t, tk, owner),
            )
        )
    ctx.here(Reply("\n".join(lines)))


async def show_ticket(ctx: Context, number: int | None) -> None:
    ticket = await load_ticket(ctx, "view", number)
    if ticket is None:
        return
    staff = await is_staff(ctx, ticket)
    if not staff and ticket.requester_id != ctx.person_id:
        await ctx.deny("view", "reason_not_requester", ticket.id, shown="no_ticket", n=ticket.id)
        return
    requester = await display_name(ctx, ticket.requester_id) or "?"
    owner = await display_name(ctx, ticket.assignee_id)
    zone = await ctx.reader_zone()  # times in the reader's own zone when their profile has one

    def at(moment: datetime) -> str:
        return format_time(moment, ctx.config, ctx.locale, team=ticket.team, zone=zone)

    card = ticket_card(ctx.t, ticket, ctx.config, requester=requester, owner=owner, zone=zone)
    lines = [card.text, "", ctx.t("ticket_history")]
    entries: list[tuple[datetime, int, int, str]] = []  # (time, messages before events, id, line)
    hidden: set[int | None] = set()  # notes a requester does not see
    for msg in await tickets.history(ctx.s, ticket.id):  # type: ignore[arg-type]
        if msg.kind == MessageKind.NOTE and not staff:
            hidden.add(msg.id)
            continue
        if msg.kind == MessageKind.SYSTEM and msg.text.startswith(SYSTEM_MARKS):
            continue  # the matching event below says the same, with its reason
        if msg.kind == MessageKind.EDIT and msg.edit_of in hidden:
            continue  # an edit of a note, for a requester
        who = await display_name(ctx, msg.author_id) or msg.kind
        mark = {MessageKind.NOTE: f" ({ctx.t('note_mark')})",
                MessageKind.EDIT: f" ({ctx.t('hist_edited')})"}.get(msg.kind, "")  # type: ignore[call-overload]
        body = "\n".join([msg.text] * bool(msg.text) + [file_line(ctx.t, f) for f in as_attachments(msg.attachments)])
        entries.append((msg.created_at, 1, msg.id or 0, f"{at(msg.created_at)} {who}{mark}: {body}"))
    for event in await tickets.events(ctx.s, ticket.id):  # type: ignore[arg-type]
        if event.action not in HISTORY_EVENTS:
            continue
        who = await display_name(ctx, event.actor_id) or ctx.t("hist_system")
        values: dict[str, object] = {"from_tier": event.from_value, "to_tier": event.to_value, "score": event.to_value}
        if event.action == "assign":
            values["name"] = await display_name(ctx, int(event.to_value)) if event.to_value else "—"
        text = ctx.t(f"hist_{event.action}", **values)
        if event.detail and event.action in ("escalate", "resolve", "rate", "csat_comment"):
            text += f" — {event.detail}"
        entries.append((event.created_at, 0, event.id or 0, f"{at(event.created_at)} {who}: {text}"))
    lines.extend(line for *_, line in sorted(entries, key=lambda e: e[:3]))
    buttons = card.buttons if staff else ()
    ctx.here(Reply("\n".join(lines), buttons, ticket_id=ticket.id))
