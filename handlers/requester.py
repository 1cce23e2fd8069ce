"""The requester's conversation: KB suggestions → category → priority → duplicate check → ticket.

A small state machine per (platform, chat, user), persisted in ``conversation``:

    idle ──text──▶ suggest ──kb_open──▶ article ──kb_solved──▶ idle (deflection)
      │               │                    └──kb_more──┐
      │               └──open_ticket───────────────────┤
      └──text, no suggestion───────────────────────────┤
                                                       ▼
                        category_confirm / category_choose ──▶ [priority] ──▶ [duplicate] ──▶ idle (ticket)

``compose`` is the reply mode (the next text goes into a ticket). ``/cancel``
returns to idle from anywhere; unexpected input keeps the state and says what
is expected.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from rapidfuzz import fuzz

from handlers import agent
from handlers.assignment import choose_assignee
from handlers.cards import format_time
from handlers.context import Context
from handlers.events import MAX_TEXT, Button, Reply
from handlers.ports import KnowledgeBase
from handlers.relay import post_message, relay_to_staff
from handlers.routing import guess_category, infer_priority
from scheduler.calendar import is_working_time
from scheduler.sla import due_times
from store import conversations, feedback, people, tickets
from store.models import OPEN_STATUSES, Conversation, MessageKind, Status, Ticket

IDLE = "idle"
SUGGEST = "suggest"
ARTICLE = "article"
CATEGORY_CONFIRM = "category_confirm"
CATEGORY_CHOOSE = "category_choose"
PRIORITY = "priority"
DUPLICATE = "duplicate"
COMPOSE = "compose"
STATES = (IDLE, SUGGEST, ARTICLE, CATEGORY_CONFIRM, CATEGORY_CHOOSE, PRIORITY, DUPLICATE, COMPOSE)
# An agent's one-line prompts (ticket number in conv.data["ticket"]); the next text answers.
ESCALATE_REASON = "escalate_reason"
RESOLVE_NOTE = "resolve_note"
AGENT_STATES = (ESCALATE_REASON, RESOLVE_NOTE)
CSAT_COMMENT = "csat_comment"  # the requester after a rating (conv.data["ticket"])

# Which button actions each state accepts (anything else is a stale button).
FLOW_ACTIONS: dict[str, tuple[str, ...]] = {
    SUGGEST: ("kb_open", "open_ticket"),
    ARTICLE: ("kb_open", "kb_solved", "kb_more", "open_ticket"),
    CATEGORY_CONFIRM: ("cat_ok", "cat_list", "cat"),
    CATEGORY_CHOOSE: ("cat",),
    PRIORITY: ("prio",),
    DUPLICATE: ("dup_add", "dup_new"),
    ESCALATE_REASON: ("esc_skip",),
    RESOLVE_NOTE: ("note_skip",),
    CSAT_COMMENT: ("csat_skip",),
}
ALL_FLOW_ACTIONS = frozenset(a for actions in FLOW_ACTIONS.values() for a in actions)
DUPLICATE_SIMILARITY = 80


class RequesterFlow:
    """Runs one step of the requester state machine for one incoming event."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb

    # --- entry points -----------------------------------------------------------

    async def on_text(self, ctx: Context, conv: Conversation, text: str) -> None:
        state, data = conv.state, dict(conv.data)
        if state == COMPOSE:
            await post_message(ctx, data.get("ticket"), text)
            await self._go(ctx, conv, IDLE, {})
        elif state == ESCALATE_REASON:
            await self._go(ctx, conv, IDLE, {})
            await agent.escalate(ctx, data.get("ticket"), text)
        elif state == CSAT_COMMENT:
            await self._go(ctx, conv, IDLE, {})
            await csat_comment(ctx, data.get("ticket"), text)
        elif state == RESOLVE_NOTE:
            await self._go(ctx, conv, IDLE, {})
            await agent.resolve(ctx, data.get("ticket"), text)
        elif state == IDLE:
            await self._start(ctx, conv, text)
        else:
            ctx.here(Reply(ctx.t("use_buttons")))

    async def on_button(self, ctx: Context, conv: Conversation, action: str, value: str | None, ticket_id: int | None) -> None:
        state, data = conv.state, dict(conv.data)
        if action not in FLOW_ACTIONS.get(state, ()):
            ctx.reply("stale_button")
            return
        if action == "kb_open":
            await self._open_article(ctx, conv, data, value)
        elif action == "kb_solved":
            await self._solved(ctx, conv, data)
        elif action == "kb_more":
            slug = data.get("slug")
            if slug:
                await feedback.record(ctx.s, slug=slug, query=data["query"], outcome="not_solved",
                                      now=ctx.now, person_id=ctx.person_id)
                ctx.after_commit.append(lambda: self.kb.record_feedback(data["query"], slug, False))
            await self._ask_category(ctx, conv, data)
        elif action == "open_ticket":
            await self._ask_category(ctx, conv, data)
        elif action == "cat_ok":
            await self._after_category(ctx, conv, data, data.get("category"))
        elif action == "cat_list":
            await self._choose_category(ctx, conv, data)
        elif action == "cat":
            await self._after_category(ctx, conv, data, value)
        elif action == "prio":
            if value not in ctx.config.priorities:
                ctx.reply("use_buttons")
                return
            data["priority"] = value
            await self._check_duplicate(ctx, conv, data)
        elif action == "dup_add":
            await self._add_to_existing(ctx, conv, data)
        elif action == "dup_new":
            await self._create(ctx, conv, data)
        elif action == "esc_skip":
            await self._go(ctx, conv, IDLE, {})
            await agent.escalate(ctx, data.get("ticket"))
        elif action == "csat_skip":
            await self._go(ctx, conv, IDLE, {})
            ctx.reply("csat_comment_skipped")
        elif action == "note_skip":
            await self._go(ctx, conv, IDLE, {})
            await agent.resolve(ctx, data.get("ticket"))

    async def cancel(self, ctx: Context, conv: Conversation) -> None:
        if conv.state == IDLE:
            ctx.reply("nothing_to_cancel")
            return
        await self._go(ctx, conv, IDLE, {})
        ctx.reply("cancelled")

    async def compose(self, ctx: Context, conv: Conversation, ticket_id: int) -> None:
        await self._go(ctx, conv, COMPOSE, {"ticket": ticket_id})
        ctx.reply("reply_prompt", n=ticket_id)

    async def ask_escalate_reason(self, ctx: Context, conv: Conversation, ticket_id: int) -> None:
        """Ask the agent for an optional one-line reason; the next text (or Skip) escalates."""
        await self._go(ctx, conv, ESCALATE_REASON, {"ticket": ticket_id})
        ctx.here(Reply(ctx.t("ask_escalate_reason", n=ticket_id), ((Button(ctx.t("btn_skip"), "esc_skip", ticket_id),),)))

    async def ask_resolve_note(self, ctx: Context, conv: Conversation, ticket_id: int) -> None:
        """Ask the agent for an optional one-line resolution note; the next text (or Skip) resolves."""
        await self._go(ctx, conv, RESOLVE_NOTE, {"ticket": ticket_id})
        ctx.here(Reply(ctx.t("ask_resolve_note", n=ticket_id), ((Button(ctx.t("btn_skip"), "note_skip", ticket_id),),)))

    async def ask_csat_comment(self, ctx: Context, conv: Conversation, ticket_id: int) -> None:
        """After a rating, ask for an optional comment, unless the requester is mid-flow."""
        if conv.state != IDLE:
            return
        await self._go(ctx, conv, CSAT_COMMENT, {"ticket": ticket_id})
        ctx.here(Reply(ctx.t("ask_csat_comment", n=ticket_id), ((Button(ctx.t("btn_skip"), "csat_skip", ticket_id),),)))

    # --- steps ----------------------------------------------------------------------

    async def _go(self, ctx: Context, conv: Conversation, state: str, data: dict[str, Any]) -> None:
        await conversations.save(ctx.s, conv, state, data, ctx.now)

    async def _start(self, ctx: Context, conv: Conversation, text: str) -> None:
        query = text.strip()[:MAX_TEXT]
        if not query:
            ctx.reply("empty_text")
            return
        data: dict[str, Any] = {"query": query}
        found = list(self.kb.search(query, ctx.config.desk.kb_suggestions, lang=ctx.locale))
        if not found:
            data["gap"] = True
            await self._ask_category(ctx, conv, data)
            return
        data["slugs"] = [s.slug for s in found]
        for s in found:
            await feedback.record(ctx.s, slug=s.slug, query=query, outcome="shown", now=ctx.now, person_id=ctx.person_id)
        rows = [(Button(s.title, "kb_open", None, s.slug),) for s in found]
        rows.append((Button(ctx.t("btn_open_ticket"), "open_ticket"),))
        ctx.here(Reply(ctx.t("suggest_intro"), tuple(rows)))
        await self._go(ctx, conv, SUGGEST, data)

    async def _open_article(self, ctx: Context, conv: Conversation, data: dict[str, Any], slug: str | None) -> None:
        article = self.kb.article(slug) if slug else None
        if article is None:
            ctx.reply("unknown_article")
            return
        data["slug"] = article.slug
        await feedback.record(ctx.s, slug=article.slug, query=data["query"], outcome="opened", now=ctx.now, person_id=ctx.person_id)
        buttons = ((Button(ctx.t("btn_solved"), "kb_solved"), Button(ctx.t("btn_still_need"), "kb_more")),)
        ctx.here(Reply(f"{article.title}\n\n{article.body.strip()}", buttons))
        await self._go(ctx, conv, ARTICLE, data)

    async def _solved(self, ctx: Context, conv: Conversation, data: dict[str, Any]) -> None:
        slug, query = data.get("slug"), data["query"]
        await feedback.record(ctx.s, slug=slug, query=query, outcome="solved", now=ctx.now, person_id=ctx.person_id)
        if slug:
            ctx.after_commit.append(lambda: self.kb.record_feedback(query, slug, True))
        ctx.reply("deflected")
        await self._go(ctx, conv, IDLE, {})

    async def _ask_category(self, ctx: Context, conv: Conversation, data: dict[str, Any]) -> None:
        guess = guess_category(data["query"], ctx.config)
        if guess is None:
            await self._choose_category(ctx, conv, data)
            return
        data["category"] = guess
        title = ctx.config.categories[guess].title.get(ctx.locale)
        buttons = ((Button(ctx.t("btn_yes_category", category=title), "cat_ok"),
                    Button(ctx.t("btn_other_category"), "cat_list")),)
        ctx.here(Reply(ctx.t("ask_category_guess", category=title), buttons))
        await self._go(ctx, conv, CATEGORY_CONFIRM, data)

    async def _choose_category(self, ctx: Context, conv: Conversation, data: dict[str, Any]) -> None:
        cats = [Button(c.title.get(ctx.locale), "cat", None, key) for key, c in ctx.config.categories.items()]
        rows = tuple(tuple(cats[i : i + 2]) for i in range(0, len(cats), 2))
        ctx.here(Reply(ctx.t("ask_category"), rows))
        await self._go(ctx, conv, CATEGORY_CHOOSE, data)

    async def _after_category(self, ctx: Context, conv: Conversation, data: dict[str, Any], category: str | None) -> None:
        if category not in ctx.config.categories:
            ctx.reply("unknown_category")
            return
        data["category"] = category
        if ctx.config.desk.ask_priority:
            rows = tuple((Button(p.title.get(ctx.locale), "prio", None, key),) for key, p in ctx.config.priorities.items())
            ctx.here(Reply(ctx.t("ask_priority"), rows))
            await self._go(ctx, conv, PRIORITY, data)
            return
        data["priority"] = infer_priority(data["query"], ctx.config)
        await self._check_duplicate(ctx, conv, data)

    async def _check_duplicate(self, ctx: Context, conv: Conversation, data: dict[str, Any]) -> None:
        since = ctx.now - timedelta(days=ctx.config.desk.duplicate_window_days)
        candidates = await tickets.open_tickets_of_requester(ctx.s, ctx.person_id, since=since)
        # Compare like with like (a subject is the trimmed first line). token_sort, not
        # token_set: token_set scores a shared phrase ("не работает …") as a near match.
        subject = tickets.make_subject(data["query"]).lower()
        dup = next(
            (
                tk for tk in candidates
                # Same category alone is not a duplicate ("printer out of toner" vs
                # "laptop won't turn on"): the text must be similar.
                if fuzz.token_sort_ratio(tk.subject.lower(), subject) >= DUPLICATE_SIMILARITY
            ),
            None,
        )
        if dup is None:
            await self._create(ctx, conv, data)
            return
        data["dup"] = dup.id
        buttons = ((Button(ctx.t("btn_add_to", n=dup.id), "dup_add", dup.id), Button(ctx.t("btn_new_ticket"), "dup_new")),)
        ctx.here(Reply(ctx.t("ask_duplicate", n=dup.id, subject=dup.subject), buttons))
        await self._go(ctx, conv, DUPLICATE, data)

    async def _add_to_existing(self, ctx: Context, conv: Conversation, data: dict[str, Any]) -> None:
        ticket = await tickets.get_ticket(ctx.s, data["dup"], for_update=True)
        if ticket is None or ticket.requester_id != ctx.person_id or ticket.status not in OPEN_STATUSES:
            # Closed meanwhile (or not theirs): file a new one rather than lose the request.
            await self._create(ctx, conv, data)
            return
        await tickets.add_message(ctx.s, ticket, kind=MessageKind.REQUESTER, author_id=ctx.person_id,
                                  text=data["query"], platform=ctx.inc.platform, now=ctx.now)
        ctx.reply("added_to_ticket", n=ticket.id)
        await relay_to_staff(ctx, ticket, data["query"])
        await self._go(ctx, conv, IDLE, {})

    async def _create(self, ctx: Context, conv: Conversation, data: dict[str, Any]) -> None:
        category = ctx.config.categories[data["category"]]
        priority_key = data.get("priority") or ctx.config.default_priority
        first_due, resolution_due = due_times(ctx.now, ctx.config.priorities[priority_key])
        ticket = await tickets.create_ticket(
            ctx.s, team=category.team, category=data["category"], priority=priority_key,
            requester_id=ctx.person_id, text=data["query"], platform=ctx.inc.platform, now=ctx.now,
            first_response_due=first_due, resolution_due=resolution_due, kb_query=data["query"],
        )
        if data.get("gap"):
            await feedback.record(ctx.s, slug=None, query=data["query"], outcome="gap", now=ctx.now,
                                  person_id=ctx.person_id, ticket_id=ticket.id)
        ctx.reply(
            "ticket_created", n=ticket.id, subject=ticket.subject,
            team=ctx.config.teams[ticket.team].title.get(ctx.locale),
            priority=ctx.config.priorities[priority_key].title.get(ctx.locale),
            due=format_time(first_due, ctx.config),
        )
        await auto_assign(ctx, ticket)
        await agent.refresh_card(ctx, ticket)
        await self._go(ctx, conv, IDLE, {})


async def auto_assign(ctx: Context, ticket: Ticket) -> None:
    """Assign per the team's policy among available agents of the ticket's tier."""
    policy = ctx.config.teams[ticket.team].assignment
    if policy == "manual":
        return
    if not on_shift(ctx, ticket.team):
        return
    members = await people.team_members(ctx.s, ticket.team)
    candidates = [p.id for p, m in members if m.tier == ticket.tier and not p.away and p.id is not None]
    load = await tickets.open_load(ctx.s, candidates)
    last = await tickets.last_auto_assignee(ctx.s, ticket.team)
    chosen = choose_assignee(policy, candidates, load=load, last_assigned=last)
    if chosen is None:
        return
    await tickets.assign_ticket(ctx.s, ticket, chosen, None, ctx.now, detail="auto")
    await ctx.to_person(chosen, lambda t: agent.assignment_notice(t, ticket))


def on_shift(ctx: Context, team: str) -> bool:
    """Whether the team's agents are on shift now (a team without a calendar always is)."""
    name = ctx.config.teams[team].calendar
    calendar = ctx.config.calendars.get(name) if name else None
    return calendar is None or is_working_time(calendar, ctx.now)


async def load_own_ticket(ctx: Context, action: str, number: int | None) -> Ticket | None:
    """The requester's own ticket, or ``None`` after refusing (no such ticket / not theirs)."""
    ticket = await agent.load_ticket(ctx, action, number)
    if ticket is None:
        return None
    if ticket.requester_id != ctx.person_id:
        await ctx.deny(action, "reason_not_requester", ticket.id)
        return None
    return ticket


async def csat_comment(ctx: Context, number: int | None, text: str) -> None:
    """Store the requester's comment on their rating and pass it to the agent and the leads."""
    ticket = await load_own_ticket(ctx, "rate", number)
    if ticket is None:
        return
    comment = " ".join(text.split())[:agent.MAX_REASON]
    if ticket.csat is None or not comment:
        ctx.reply("empty_text")
        return
    ticket.csat_comment = comment
    ctx.s.add(ticket)
    await tickets.audit(ctx.s, ticket_id=ticket.id, actor_id=ctx.person_id, action="csat_comment",
                        now=ctx.now, detail=comment)
    ctx.reply("csat_comment_thanks")
    n, score, name = ticket.id, ticket.csat, ctx.person.name
    notice = lambda t: Reply(t("csat_comment_staff", n=n, score=score, name=name, comment=comment))  # noqa: E731
    if ticket.assignee_id is not None:
        await ctx.to_person(ticket.assignee_id, notice)
    await ctx.to_leads(ticket.team, notice)


async def rate(ctx: Context, number: int | None, value: str | None) -> bool:
    """The requester's CSAT tap; a low score alerts the team's leads."""
    ticket = await load_own_ticket(ctx, "rate", number)
    if ticket is None:
        return False
    try:
        score = int(value or "")
    except ValueError:
        score = 0
    if not 1 <= score <= 5:
        ctx.reply("rate_range")
        return False
    if ticket.status != Status.RESOLVED:
        agent.bad_state(ctx, ticket)
        return False
    await tickets.rate_ticket(ctx.s, ticket, score, ctx.person_id, ctx.now)
    ctx.reply("rated_thanks", n=ticket.id)
    name, n, subject = ctx.person.name, ticket.id, ticket.subject
    if ticket.assignee_id is not None:
        await ctx.to_person(ticket.assignee_id, lambda t: Reply(t("rated_agent", n=n, score=score, name=name)))
    if score <= 2:
        owner = await agent.display_name(ctx, ticket.assignee_id) or "—"
        await ctx.to_leads(ticket.team, lambda t: Reply(t("low_csat_lead", n=n, score=score, subject=subject, agent=owner)))
    await agent.refresh_card(ctx, ticket)
    return True


async def reopen(ctx: Context, number: int | None) -> None:
    """"Not fixed — reopen": back to the assignee (or the queue)."""
    ticket = await load_own_ticket(ctx, "reopen", number)
    if ticket is None:
        return
    if ticket.status != Status.RESOLVED:
        agent.bad_state(ctx, ticket)
        return
    await tickets.reopen_ticket(ctx.s, ticket, ctx.person_id, ctx.now)
    ctx.reply("reopened_requester", n=ticket.id)
    name, n = ctx.person.name, ticket.id
    if ticket.assignee_id is not None:
        await ctx.to_person(ticket.assignee_id, lambda t: Reply(t("reopened_agent", n=n, name=name)))
    await agent.refresh_card(ctx, ticket)
