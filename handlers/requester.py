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

from handlers import agent, forms, richtext
from handlers import files as filing
from handlers import conversation_routing as routing_rule
from handlers.assignment import choose_assignee, on_shift
from handlers.cards import format_time
from handlers.context import Context
from handlers.events import MAX_TEXT, Button, Destination, Origin, Reply
from handlers.ports import KnowledgeBase
from handlers.relay import add_own_message, post_message, relay_to_staff
from handlers.routing import guess_category, infer_priority
from handlers.texts import translator
from scheduler.calendar import for_person, for_team
from scheduler.sla import due_times, pause_or_resume, reopened_due_times
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
WHICH = "which"  # "which request is this about?" — the text waits in data["pending"]
REOPEN_OFFER = "reopen_offer"  # "reopen #N?" — the text waits in data["pending"]
FORM = "form"  # the category's request form: data["form_i"] = question index, data["fields"] = answers
STATES = (IDLE, SUGGEST, ARTICLE, CATEGORY_CONFIRM, CATEGORY_CHOOSE, PRIORITY, DUPLICATE, COMPOSE,
          WHICH, REOPEN_OFFER, FORM)
FORM_ANSWER_MAX = forms.FORM_ANSWER_MAX  # characters kept of one form answer
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
    WHICH: ("pending_to", "pending_new"),
    REOPEN_OFFER: ("reopen_confirm", "pending_new"),
    FORM: ("form_skip",),
    ESCALATE_REASON: ("esc_skip",),
    RESOLVE_NOTE: ("note_skip",),
    CSAT_COMMENT: ("csat_skip",),
}
# "This is a new request" under an auto-added message: valid while the conversation still
# remembers that message (checked against conv.data, not against a state).
SPLIT_ACTION = "split_new"
# Someone's message filed as a ticket for its author (Slack's message shortcut, the ticket
# reaction): ``value`` is the message's text; valid in any state. Frontends produce it from
# those gestures only, never from a button press (the Slack frontend maps such a press to stale).
FILE_MESSAGE_ACTION = "file_message"
# A request form submitted in one go (Slack's /helpdesk modal): ``text`` is the description,
# ``value`` a :class:`handlers.forms.FormRequest` (category, priority, form answers), checked
# again here; what is missing or unknown is asked or guessed as in the chat.
FILE_REQUEST_ACTION = "file_request"
GESTURE_ACTIONS = frozenset({FILE_MESSAGE_ACTION, FILE_REQUEST_ACTION})
ALL_FLOW_ACTIONS = frozenset(a for actions in FLOW_ACTIONS.values() for a in actions) | {SPLIT_ACTION}
# Everything the requester flow handles: the state-bound buttons and the gestures (any state).
REQUESTER_ACTIONS = ALL_FLOW_ACTIONS | GESTURE_ACTIONS
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
        elif state == FORM:
            if ctx.inc.attachments:  # files sent while answering the form belong to the request
                _add_files(ctx, data)
                if not text.strip():
                    await self._go(ctx, conv, state, data)
                    ctx.reply("draft_file_added")
                    return
            await self._form_answer(ctx, conv, data, text)
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
            if data.get("prefill"):  # /start cat_X: a new request in that category
                await self._start(ctx, conv, text, category=data["prefill"])
            else:
                await self.route(ctx, conv, text)
        elif state in (WHICH, REOPEN_OFFER):
            # Typed text is never dropped: it joins the text waiting for the choice.
            _add_part(ctx, data, "pending", text)
            await self._go(ctx, conv, state, data)
            ctx.reply("pending_extended")
        else:
            # In the middle of a new request: the text (and files) add to its description.
            _add_part(ctx, data, "query", text)
            await self._go(ctx, conv, state, data)
            ctx.reply("draft_extended" if text.strip() else "draft_file_added")

    async def edit_draft(self, ctx: Context, conv: Conversation, message_id: str, text: str) -> bool:
        """The person edited a message that is still part of a request in progress (or a kept
        draft): its text in the draft becomes the new text. Returns whether it was one."""
        data = dict(conv.data)
        parts = dict(data.get("parts") or {})
        key = {IDLE: "draft", WHICH: "pending", REOPEN_OFFER: "pending"}.get(conv.state, "query")
        if message_id not in parts or not isinstance(data.get(key), str):
            return False
        old, new = parts[message_id], text.strip()[:MAX_TEXT]
        current = data[key]
        data[key] = (current.replace(old, new, 1) if old and old in current else _joined(current, new))[:MAX_TEXT]
        parts[message_id] = new
        data["parts"] = parts
        await self._go(ctx, conv, conv.state, data)
        return True

    async def on_button(self, ctx: Context, conv: Conversation, action: str, value: str | None, ticket_id: int | None) -> None:
        state, data = conv.state, dict(conv.data)
        if action == SPLIT_ACTION:
            await self._split_new(ctx, conv, data, ticket_id, value)
            return
        if action == FILE_MESSAGE_ACTION:
            await self.file_message(ctx, conv, value or "")
            return
        if action == FILE_REQUEST_ACTION:
            await self.file_request(ctx, conv, ctx.inc.text, forms.read_request(value))
            return
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
            await self._start_form(ctx, conv, data)
        elif action == "dup_add":
            await self._add_to_existing(ctx, conv, data)
        elif action == "dup_new":
            await self._create(ctx, conv, data)
        elif action == "pending_to":
            await self._pending_to(ctx, conv, data, ticket_id)
        elif action == "pending_new":
            await self._start(ctx, conv, data.get("pending") or "", carry=_bits(data))
        elif action == "reopen_confirm":
            await self._reopen_with_text(ctx, conv, data, ticket_id)
        elif action == "form_skip":
            await self._form_skip(ctx, conv, data)
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
        # Nothing typed is lost: what was waiting is kept as a draft that /new files.
        draft = conv.data.get("pending") or conv.data.get("query")
        files = conv.data.get("files") or []
        kept = {"draft": draft or "", **_bits(conv.data)} if draft or files else {}
        await self._go(ctx, conv, IDLE, kept)
        ctx.reply("cancelled_draft_kept" if kept else "cancelled")

    async def new_request(self, ctx: Context, conv: Conversation, text: str) -> None:
        """``/new [text]``: start a request from ``text``, or from the kept draft."""
        kept = dict(conv.data) if conv.state == IDLE else {}
        draft = kept.get("draft")
        prefill = kept.get("prefill")
        await self._go(ctx, conv, IDLE, {})
        if text or ctx.inc.attachments:
            await self._start(ctx, conv, text, category=prefill)
        elif draft or kept.get("files"):
            await self._start(ctx, conv, draft or "", carry=_bits(kept), category=prefill)
        else:
            if prefill:
                await self._go(ctx, conv, IDLE, {"prefill": prefill})
            ctx.reply("new_prompt")

    async def file_message(self, ctx: Context, conv: Conversation, text: str) -> None:
        """A message filed for its author by someone's gesture (Slack's message shortcut, the
        ticket reaction): filed at once — the author did not ask the desk, so nothing is asked
        (no knowledge base, no category, priority or form question); the category is guessed
        (else the fallback one) and the priority inferred. The author's own conversation step
        is left as it was. With ``Incoming.origin`` the ticket's first message is that message,
        whoever made the gesture is told the number, and a message filed before is not filed
        again (a second reactor is told its number)."""
        origin = ctx.inc.origin
        if origin is not None:
            earlier = await tickets.find_message(ctx.s, ctx.inc.platform, origin.chat_id, origin.message_id)
            if earlier is not None:
                _tell_origin(ctx, origin, "gesture_filed_before", n=earlier.ticket_id)
                return
        query = text.strip()[:MAX_TEXT]
        bits = _incoming_bits(ctx, query)
        if not query and not bits.get("files"):
            ctx.reply("empty_text")
            return
        config = ctx.config
        category = guess_category(query, config) or config.desk.fallback_category
        data: dict[str, Any] = {"query": query, **bits, "category": category,
                                "priority": infer_priority(query, config)}
        at = (origin.chat_id, origin.message_id) if origin is not None else None
        ticket = await self._create(ctx, conv, data, keep_step=True, first_message_at=at)
        if origin is not None:
            _tell_origin(ctx, origin, "gesture_filed", n=ticket.id, name=ctx.person.name)

    async def file_request(self, ctx: Context, conv: Conversation, text: str, request: forms.FormRequest) -> None:
        """A request filled in one form (Slack's ``/helpdesk`` modal): what it gives — a known
        category, a known priority when priorities are asked, the form's answers checked by
        the chat's rules — is not asked again; anything missing or unknown is asked (or
        guessed) in the chat as usual. It replaces the step the conversation was at, as
        ``/new`` does."""
        query = text.strip()[:MAX_TEXT]
        bits = _incoming_bits(ctx, query)
        if not query and not bits.get("files"):
            ctx.reply("empty_text")
            return
        data: dict[str, Any] = {"query": query, **bits}
        category = request.category if request.category in ctx.config.categories else None
        if category is not None:  # chosen in the form: not asked again
            data.update(category=category, fixed_category=True)
            if request.fields is not None:  # its questions were shown: the answered ones count
                questions = ctx.config.categories[category].ask
                answers, problems = forms.check_form(questions, request.fields)
                data["fields"] = answers
                data["answered"] = [q.key for q in questions if q.key not in problems]
        priority = forms.known_priority(ctx.config, request.priority)
        if ctx.config.desk.ask_priority and priority is not None:
            data.update(priority=priority, fixed_priority=True)
        await self._ask_category(ctx, conv, data)

    # --- conversation routing (handlers/conversation_routing.py decides) ---------------

    async def route(self, ctx: Context, conv: Conversation, text: str) -> None:
        """A plain message outside any ticket's thread: rules 2–4 of conversation routing."""
        own = await tickets.tickets_of_requester(ctx.s, ctx.person_id, limit=50)
        decision = routing_rule.decide(
            text, thread=None, own_tickets=own, now=ctx.now, reopen_window=self._reopen_window(ctx),
        )
        if decision.kind == routing_rule.RouteKind.CHATTER and ctx.inc.attachments:
            decision = routing_rule.Route(routing_rule.RouteKind.NEW)  # a file is never chatter
        await self._apply_route(ctx, conv, decision, text)

    async def in_thread(self, ctx: Context, conv: Conversation, ticket: Ticket, text: str) -> None:
        """A requester's message in the thread of their own ticket (rule 1)."""
        decision = routing_rule.decide(
            text, thread=ticket, own_tickets=(), now=ctx.now, reopen_window=self._reopen_window(ctx),
        )
        if (decision.kind == routing_rule.RouteKind.TICKET and decision.ticket is not None
                and routing_rule.is_chatter(text) and not ctx.inc.attachments):
            # "спасибо" / "👍" in an open ticket's thread: added to the ticket, no reply
            await self._add_followup(ctx, conv, decision.ticket, text, auto=False, quiet=True)
            return
        await self._apply_route(ctx, conv, decision, text)

    @staticmethod
    def _reopen_window(ctx: Context) -> timedelta:
        return timedelta(days=ctx.config.desk.reopen_window_days)

    async def _apply_route(self, ctx: Context, conv: Conversation, decision: routing_rule.Route, text: str,
                           carry: dict[str, Any] | None = None) -> None:
        """``carry``: the files and message ids of a text that waited (None: the event's own)."""
        kind, ticket = decision.kind, decision.ticket
        bits = carry if carry is not None else _incoming_bits(ctx, text)
        if kind == routing_rule.RouteKind.TICKET and ticket is not None:
            await self._add_followup(ctx, conv, ticket, text, auto=decision.auto, carry=carry)
        elif kind == routing_rule.RouteKind.REOPEN and ticket is not None:
            buttons = ((Button(ctx.t("btn_reopen_n", n=ticket.id), "reopen_confirm", ticket.id),
                        Button(ctx.t("btn_new_request"), "pending_new")),)
            ctx.here(Reply(ctx.t("offer_reopen", n=ticket.id, subject=ticket.subject), buttons, ticket_id=ticket.id))
            await self._go(ctx, conv, REOPEN_OFFER, {"pending": text, "ticket": ticket.id, **bits})
        elif kind == routing_rule.RouteKind.WHICH:
            rows = [(Button(f"#{t.id} {t.subject}", "pending_to", t.id),) for t in decision.candidates[:8]]
            rows.append((Button(ctx.t("btn_new_request"), "pending_new"),))
            ctx.here(Reply(ctx.t("ask_which_ticket"), tuple(rows)))
            await self._go(ctx, conv, WHICH, {"pending": text, "choices": [t.id for t in decision.candidates], **bits})
        elif kind == routing_rule.RouteKind.CHATTER:
            ctx.reply("chatter_ack")
        elif kind == routing_rule.RouteKind.CLOSED and ticket is not None:
            ctx.reply("thread_closed_new", n=ticket.id)
            await self._start(ctx, conv, text, carry=carry)
        else:
            await self._start(ctx, conv, text, carry=carry)

    async def _add_followup(self, ctx: Context, conv: Conversation, ticket: Ticket, text: str, *, auto: bool,
                            carry: dict[str, Any] | None = None, quiet: bool = False) -> None:
        locked = await tickets.get_ticket(ctx.s, ticket.id, for_update=True)  # type: ignore[arg-type]
        if locked is None or locked.status not in OPEN_STATUSES:
            await self._start(ctx, conv, text, carry=carry)  # closed meanwhile: the text becomes a new request
            return
        before = locked.status
        bits = carry if carry is not None else _incoming_bits(ctx, text)
        files = filing.as_attachments(bits.get("files"))
        msg = await add_own_message(ctx, locked, MessageKind.REQUESTER, text, files, message_id=bits.get("msg"))
        filing.tell_sender_too_big(ctx, files)
        await relay_to_staff(ctx, locked, text, files)
        if not auto:
            if not quiet:
                ctx.reply("followup_sent", n=locked.id)
            await self._go(ctx, conv, IDLE, {})
            return
        buttons = ((Button(ctx.t("btn_this_is_new"), "split_new", locked.id, str(msg.id)),),)
        ctx.here(Reply(ctx.t("added_auto", n=locked.id), buttons, ticket_id=locked.id))
        await self._go(ctx, conv, IDLE, {"last_added": {"ticket": locked.id, "message": msg.id, "status": before}})

    async def _pending_to(self, ctx: Context, conv: Conversation, data: dict[str, Any], ticket_id: int | None) -> None:
        if ticket_id not in data.get("choices", []):
            ctx.reply("stale_button")
            return
        ticket = await load_own_ticket(ctx, "reply", ticket_id)
        if ticket is None:
            return
        if ticket.status not in OPEN_STATUSES:
            # Resolved meanwhile: offer the reopen; the text keeps waiting.
            await self._apply_route(ctx, conv, routing_rule.decide(
                data.get("pending", ""), thread=ticket, own_tickets=(), now=ctx.now,
                reopen_window=self._reopen_window(ctx)), data.get("pending", ""), carry=_bits(data))
            return
        await self._add_followup(ctx, conv, ticket, data.get("pending", ""), auto=False, carry=_bits(data))

    async def _reopen_with_text(self, ctx: Context, conv: Conversation, data: dict[str, Any], ticket_id: int | None) -> None:
        if ticket_id != data.get("ticket"):
            ctx.reply("stale_button")
            return
        ticket = await load_own_ticket(ctx, "reopen", ticket_id)
        if ticket is None:
            return
        text = data.get("pending", "")
        if ticket.status == Status.RESOLVED:
            await reopen(ctx, ticket.id)
        if ticket.status in OPEN_STATUSES:
            await self._add_followup(ctx, conv, ticket, text, auto=False, carry=_bits(data))
        else:
            ctx.reply("thread_closed_new", n=ticket.id)
            await self._start(ctx, conv, text, carry=_bits(data))

    async def _split_new(self, ctx: Context, conv: Conversation, data: dict[str, Any],
                         ticket_id: int | None, value: str | None) -> None:
        """"This is a new request": move the auto-added message out of the ticket into a new request."""
        last = data.get("last_added") or {}
        if ticket_id is None or last.get("ticket") != ticket_id or str(last.get("message")) != (value or ""):
            ctx.reply("stale_button")
            return
        ticket = await load_own_ticket(ctx, "split", ticket_id)
        if ticket is None:
            return
        text = await tickets.move_message_out(ctx.s, ticket, int(last["message"]), ctx.person_id, ctx.now,
                                              restore_status=last.get("status"))
        if text is None:
            ctx.reply("stale_button")
            return
        name, n = ctx.person.name, ticket.id
        if ticket.assignee_id is not None:
            await ctx.to_person(ticket.assignee_id, lambda t: Reply(t("message_moved_out", n=n, name=name), ticket_id=n))
        await self._start(ctx, conv, text, carry={})

    async def compose(self, ctx: Context, conv: Conversation, ticket_id: int) -> None:
        await self._go(ctx, conv, COMPOSE, {"ticket": ticket_id})
        ctx.reply("reply_prompt", n=ticket_id)

    async def ask_line(self, ctx: Context, conv: Conversation, state: str, ticket_id: int) -> None:
        """Ask the agent for an optional one line (``ESCALATE_REASON`` / ``RESOLVE_NOTE``);
        the next text, or Skip, completes the action."""
        prompt, skip = {ESCALATE_REASON: ("ask_escalate_reason", "esc_skip"),
                        RESOLVE_NOTE: ("ask_resolve_note", "note_skip")}[state]
        await self._go(ctx, conv, state, {"ticket": ticket_id})
        ctx.here(Reply(ctx.t(prompt, n=ticket_id), ((Button(ctx.t("btn_skip"), skip, ticket_id),),)))

    async def ask_csat_comment(self, ctx: Context, conv: Conversation, ticket_id: int) -> None:
        """After a rating, ask for an optional comment, unless the requester is mid-flow."""
        if conv.state != IDLE:
            return
        await self._go(ctx, conv, CSAT_COMMENT, {"ticket": ticket_id})
        ctx.here(Reply(ctx.t("ask_csat_comment", n=ticket_id), ((Button(ctx.t("btn_skip"), "csat_skip", ticket_id),),)))

    # --- steps ----------------------------------------------------------------------

    async def _go(self, ctx: Context, conv: Conversation, state: str, data: dict[str, Any]) -> None:
        await conversations.save(ctx.s, conv, state, data, ctx.now)

    async def _start(self, ctx: Context, conv: Conversation, text: str, *, carry: dict[str, Any] | None = None,
                     category: str | None = None) -> None:
        """Begin a new request from ``text``. ``carry``: the files and message ids of a text that
        waited (None: the event's own); ``category``: chosen already (a /start deep link)."""
        query = text.strip()[:MAX_TEXT]
        bits = carry if carry is not None else _incoming_bits(ctx, query)
        if not query and not bits.get("files"):
            ctx.reply("empty_text")
            return
        data: dict[str, Any] = {"query": query, **bits}
        if category in ctx.config.categories:
            data["category"] = category
            data["fixed_category"] = True
        if not query:  # only files: nothing to look up in the knowledge base
            await self._ask_category(ctx, conv, data)
            return
        found = list(self.kb.search(query, ctx.config.desk.kb_suggestions, lang=ctx.locale))
        if not found:
            data["gap"] = True
            await self._ask_category(ctx, conv, data)
            return
        data["slugs"] = [s.slug for s in found]
        await feedback.record_shown(ctx.s, data["slugs"], query=query, now=ctx.now, person_id=ctx.person_id)
        rows = [(Button(s.title, "kb_open", None, s.slug),) for s in found]
        rows.append((Button(ctx.t("btn_open_ticket"), "open_ticket"),))
        previews = []
        for s in found:  # title and the first sentence of each article, Markdown stripped
            article = self.kb.article(s.slug)
            previews.append((s.title, richtext.preview(article.body) if article else ""))
        rich = richtext.suggestions(ctx.t("suggest_intro"), previews)
        ctx.here(Reply(richtext.to_plain(rich), tuple(rows), rich=rich))
        await self._go(ctx, conv, SUGGEST, data)

    async def _open_article(self, ctx: Context, conv: Conversation, data: dict[str, Any], slug: str | None) -> None:
        article = self.kb.article(slug) if slug else None
        if article is None:
            ctx.reply("unknown_article")
            return
        data["slug"] = article.slug
        await feedback.record(ctx.s, slug=article.slug, query=data["query"], outcome="opened", now=ctx.now, person_id=ctx.person_id)
        buttons = ((Button(ctx.t("btn_solved"), "kb_solved"), Button(ctx.t("btn_still_need"), "kb_more")),)
        rich = richtext.article(article.title, article.body)
        ctx.here(Reply(richtext.to_plain(rich), buttons, rich=rich))
        await self._go(ctx, conv, ARTICLE, data)

    async def _solved(self, ctx: Context, conv: Conversation, data: dict[str, Any]) -> None:
        slug, query = data.get("slug"), data["query"]
        await feedback.record(ctx.s, slug=slug, query=query, outcome="solved", now=ctx.now, person_id=ctx.person_id)
        if slug:
            ctx.after_commit.append(lambda: self.kb.record_feedback(query, slug, True))
        ctx.reply("deflected")
        await self._go(ctx, conv, IDLE, {})

    async def _ask_category(self, ctx: Context, conv: Conversation, data: dict[str, Any]) -> None:
        if data.get("fixed_category") and data.get("category") in ctx.config.categories:
            await self._after_category(ctx, conv, data, data["category"])
            return
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
        # The fallback category is always offered, last, so any request can be filed.
        fallback = ctx.config.desk.fallback_category
        keys = [k for k in ctx.config.categories if k != fallback] + ([fallback] if fallback in ctx.config.categories else [])
        cats = [Button(ctx.config.categories[key].title.get(ctx.locale), "cat", None, key) for key in keys]
        rows = tuple(tuple(cats[i : i + 2]) for i in range(0, len(cats), 2))
        ctx.here(Reply(ctx.t("ask_category"), rows))
        await self._go(ctx, conv, CATEGORY_CHOOSE, data)

    async def _after_category(self, ctx: Context, conv: Conversation, data: dict[str, Any], category: str | None) -> None:
        if category not in ctx.config.categories:
            ctx.reply("unknown_category")
            return
        data["category"] = category
        if ctx.config.desk.ask_priority and data.get("fixed_priority"):
            await self._start_form(ctx, conv, data)  # chosen in the form already
            return
        if ctx.config.desk.ask_priority:
            rows = tuple((Button(p.title.get(ctx.locale), "prio", None, key),) for key, p in ctx.config.priorities.items())
            ctx.here(Reply(ctx.t("ask_priority"), rows))
            await self._go(ctx, conv, PRIORITY, data)
            return
        data["priority"] = infer_priority(data["query"], ctx.config)
        await self._start_form(ctx, conv, data)

    # --- request form (categories.X.ask) ------------------------------------------------

    async def _start_form(self, ctx: Context, conv: Conversation, data: dict[str, Any]) -> None:
        """Ask the category's form questions one by one, then go on to the duplicate check.
        Questions already answered in a form (``data["answered"]``) are not asked again."""
        data["form_i"] = 0
        answered = set(data.get("answered") or ())
        data["fields"] = {k: v for k, v in (data.get("fields") or {}).items() if k in answered}
        await self._form_next(ctx, conv, data)

    async def _form_next(self, ctx: Context, conv: Conversation, data: dict[str, Any], *, again: bool = False) -> None:
        questions = ctx.config.categories[data["category"]].ask
        i = int(data.get("form_i", 0))
        answered = set(data.get("answered") or ())
        while i < len(questions) and questions[i].key in answered:
            i += 1
        data["form_i"] = i
        if i >= len(questions):
            data.pop("form_i", None)
            await self._check_duplicate(ctx, conv, data)
            return
        q = questions[i]
        question = q.text.get(ctx.locale)
        text = (ctx.t("form_required", question=question) if again
                else ctx.t("form_question", question=question, step=i + 1, total=len(questions)))
        buttons = () if q.required else ((Button(ctx.t("btn_form_skip"), "form_skip"),),)
        ctx.here(Reply(text, buttons))
        await self._go(ctx, conv, FORM, data)

    async def _form_answer(self, ctx: Context, conv: Conversation, data: dict[str, Any], text: str) -> None:
        questions = ctx.config.categories[data["category"]].ask
        i = int(data.get("form_i", 0))
        if i >= len(questions):  # the config changed under a running form
            await self._form_next(ctx, conv, data)
            return
        answer, problem = forms.check_answer(questions[i], text)
        if answer is None:
            if problem is not None:
                await self._form_next(ctx, conv, data, again=True)
            else:
                ctx.reply("form_use_text")
            return
        data.setdefault("fields", {})[questions[i].key] = answer
        data["form_i"] = i + 1
        await self._form_next(ctx, conv, data)

    async def _form_skip(self, ctx: Context, conv: Conversation, data: dict[str, Any]) -> None:
        questions = ctx.config.categories[data["category"]].ask
        i = int(data.get("form_i", 0))
        if i < len(questions) and questions[i].required:
            ctx.reply("stale_button")
            return
        data["form_i"] = i + 1
        await self._form_next(ctx, conv, data)

    async def _check_duplicate(self, ctx: Context, conv: Conversation, data: dict[str, Any]) -> None:
        since = ctx.now - timedelta(days=ctx.config.desk.duplicate_window_days)
        candidates = await tickets.open_tickets_of_requester(ctx.s, ctx.person_id, since=since)
        # Compare like with like (a subject is the trimmed first line). token_sort, not
        # token_set: token_set scores a shared phrase ("не работает …") as a near match.
        subject = tickets.make_subject(_subject(ctx, data)).lower()
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
        files = filing.as_attachments(data.get("files"))
        await add_own_message(ctx, ticket, MessageKind.REQUESTER, data["query"], files, message_id=data.get("msg"))
        ctx.reply("added_to_ticket", n=ticket.id)
        filing.tell_sender_too_big(ctx, files)
        await relay_to_staff(ctx, ticket, data["query"], files)
        await self._go(ctx, conv, IDLE, {})

    async def _create(self, ctx: Context, conv: Conversation, data: dict[str, Any], *,
                      keep_step: bool = False, first_message_at: tuple[str, str] | None = None) -> Ticket:
        """File the request in ``data``; the conversation goes back to idle (``keep_step``:
        left as it was — the request did not come from it). ``first_message_at``: the chat
        and platform message id of the request's message, when it is not this chat's."""
        category = ctx.config.categories[data["category"]]
        priority_key = data.get("priority") or ctx.config.default_priority
        first_due, resolution_due = due_times(ctx.now, ctx.config.priorities[priority_key],
                                              for_team(ctx.config, category.team))
        ticket = await tickets.create_ticket(
            ctx.s, team=category.team, category=data["category"], priority=priority_key,
            requester_id=ctx.person_id, text=data["query"], platform=ctx.inc.platform, now=ctx.now,
            first_response_due=first_due, resolution_due=resolution_due, kb_query=data["query"],
            fields=dict(data.get("fields") or {}), subject=_subject(ctx, data),
            attachments=list(data.get("files") or []),
            chat_id=first_message_at[0] if first_message_at else ctx.inc.chat_id,
            message_id=first_message_at[1] if first_message_at else data.get("msg"),
        )
        if data.get("gap"):
            await feedback.record(ctx.s, slug=None, query=data["query"], outcome="gap", now=ctx.now,
                                  person_id=ctx.person_id, ticket_id=ticket.id)
        # Bound to the ticket: where the chat has topics, this opens the ticket's own topic.
        ctx.here(Reply(ctx.t(
            "ticket_created", n=ticket.id, subject=ticket.subject,
            team=ctx.config.teams[ticket.team].title.get(ctx.locale),
            priority=ctx.config.priorities[priority_key].title.get(ctx.locale),
            due=format_time(first_due, ctx.config, ctx.locale, team=ticket.team, zone=await ctx.reader_zone()),
        ), ticket_id=ticket.id))
        files = filing.as_attachments(data.get("files"))
        filing.tell_sender_too_big(ctx, files)
        await auto_assign(ctx, ticket)
        await agent.refresh_card(ctx, ticket)
        if files:  # the card shows the text; the files follow it into the ticket's thread
            await relay_to_staff(ctx, ticket, "", files)
        if not keep_step:
            await self._go(ctx, conv, IDLE, {})
        return ticket


def _tell_origin(ctx: Context, origin: Origin, key: str, **values: Any) -> None:
    """Tell whoever made a gesture (in their language) what became of the message: in its
    thread through the outbox when announced, else in place (``Outcome.alert``, which the
    frontend shows to that person only)."""
    locale = origin.locale or ctx.config.desk.default_locale
    if not origin.announce:
        ctx.alert = translator(locale)(key, **values)
        return
    dest = Destination(ctx.inc.platform, origin.chat_id, thread_id=origin.thread_id or origin.message_id)
    ticket_id = values.get("n")
    ctx.to_destination(dest, lambda t: Reply(t(key, **values), ticket_id=ticket_id), locale)


def _joined(before: str | None, text: str) -> str:
    if not text:
        return before or ""
    return f"{before}\n{text}"[:MAX_TEXT] if before else text


# A request in progress keeps, next to its text, the files sent with it ("files", as
# Attachment dicts), the platform id of its first message ("msg", recorded on the ticket's
# message so a later edit finds it) and the text of each message by id ("parts", so an edit
# before filing changes the draft).

def _compact(bits: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in bits.items() if v}


def _incoming_bits(ctx: Context, text: str) -> dict[str, Any]:
    mid = ctx.inc.message_id
    return _compact({"files": filing.as_data(ctx.inc.attachments), "msg": mid,
                     "parts": {mid: text.strip()} if mid else {}})


def _bits(data: dict[str, Any]) -> dict[str, Any]:
    return _compact({"files": list(data.get("files") or []), "msg": data.get("msg"),
                     "parts": dict(data.get("parts") or {})})


def _add_files(ctx: Context, data: dict[str, Any]) -> None:
    data["files"] = list(data.get("files") or []) + filing.as_data(ctx.inc.attachments)


def _add_part(ctx: Context, data: dict[str, Any], key: str, text: str) -> None:
    """Add the event's text and files to the draft text ``data[key]``."""
    data[key] = _joined(data.get(key), text.strip())
    if ctx.inc.attachments:
        _add_files(ctx, data)
    mid = ctx.inc.message_id
    if mid:
        data.setdefault("msg", mid)
        data["msg"] = data["msg"] or mid
        data["parts"] = {**(data.get("parts") or {}), mid: text.strip()}


def _subject(ctx: Context, data: dict[str, Any]) -> str:
    """The request's text, or the names of its files when it is only files."""
    query = data.get("query") or ""
    if query.strip():
        return query
    return filing.file_names(filing.as_attachments(data.get("files")), ctx.t) or "—"


async def auto_assign(ctx: Context, ticket: Ticket) -> None:
    """Assign per the team's policy among available agents of the ticket's tier."""
    policy = ctx.config.teams[ticket.team].assignment
    if policy == "manual":
        return
    members = await people.team_members(ctx.s, ticket.team)
    candidates = on_shift(
        [(p.id, for_person(ctx.config, p.key, ticket.team)) for p, m in members
         if m.tier == ticket.tier and not p.away and p.id is not None],
        ctx.now,
    )
    load = await tickets.open_load(ctx.s, candidates)
    last = await tickets.last_auto_assignee(ctx.s, ticket.team)
    chosen = choose_assignee(policy, candidates, load=load, last_assigned=last)
    if chosen is None:
        return
    await tickets.assign_ticket(ctx.s, ticket, chosen, None, ctx.now, detail="auto")
    await ctx.to_person(chosen, lambda t: agent.assignment_notice(t, ticket))


async def load_own_ticket(ctx: Context, action: str, number: int | None) -> Ticket | None:
    """The requester's own ticket, or ``None`` after refusing (no such ticket / not theirs)."""
    ticket = await agent.load_ticket(ctx, action, number)
    if ticket is None:
        return None
    if ticket.requester_id != ctx.person_id:
        shown = None if await agent.is_staff(ctx, ticket) else "no_ticket"  # strangers: as if missing
        await ctx.deny(action, "reason_not_requester", ticket.id, shown=shown, n=ticket.id)
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
    notice = lambda t: Reply(t("csat_comment_staff", n=n, score=score, name=name, comment=comment), ticket_id=n)  # noqa: E731
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
        await ctx.to_person(ticket.assignee_id,
                            lambda t: Reply(t("rated_agent", n=n, score=score, name=name), ticket_id=n))
    if score <= 2:
        owner = await agent.display_name(ctx, ticket.assignee_id) or "—"
        await ctx.to_leads(ticket.team, lambda t: Reply(
            t("low_csat_lead", n=n, score=score, subject=subject, agent=owner), ticket_id=n))
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
    resolved_at = ticket.resolved_at
    # A pause left open by a resolve outside the engine (a sweep) ends when it was resolved.
    pause_or_resume(ticket, for_team(ctx.config, ticket.team), resolved_at or ctx.now)
    await tickets.reopen_ticket(ctx.s, ticket, ctx.person_id, ctx.now,
                                due=reopened_due_times(ctx.config, ticket, resolved_at, ctx.now))
    ctx.reply("reopened_requester", n=ticket.id)
    name, n = ctx.person.name, ticket.id
    if ticket.assignee_id is not None:
        await ctx.to_person(ticket.assignee_id, lambda t: Reply(t("reopened_agent", n=n, name=name), ticket_id=n))
    await agent.refresh_card(ctx, ticket)
