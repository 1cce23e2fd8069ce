"""The conversation engine: one incoming event in, replies out, in one transaction.

``Engine.handle`` records the event key, resolves who is speaking, runs the
requester flow / agent action / command, and writes every reply to the outbox —
all in one transaction. A redelivered event (same key) hits the unique inbox key,
the transaction rolls back, and nothing changes: one ticket, one set of replies.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlmodel import col, select

from bot.config import LOCALES, Config
from handlers import agent, home, kb_learning, lead, linking, requester
from handlers.context import Context, pick_locale
from handlers.events import MAX_TEXT, Incoming, Outcome, Reply
from handlers.ports import Clock, KnowledgeBase
from handlers.relay import post_message, relay_to_requester, relay_to_staff
from handlers.requester import REQUESTER_ACTIONS, RequesterFlow
from handlers.sanitize import clean_incoming, cut_text
from store import conversations, outbox, people, tickets
from store.db import Database
from store.inbox import record_event, stored_key
from store.models import OPEN_STATUSES, Conversation, InboxEvent, MessageKind

log = logging.getLogger("deskbot.engine")

MAX_ATTEMPTS = 5


def utc_clock() -> datetime:
    return datetime.now(UTC)


RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock detected


def _retryable(exc: DBAPIError) -> bool:
    """SQLite busy beyond its timeout, or a PostgreSQL deadlock / serialization failure."""
    if isinstance(exc, OperationalError) and "locked" in str(exc.orig):
        return True
    return getattr(exc.orig, "sqlstate", None) in RETRYABLE_SQLSTATES


# Commands that, typed in a ticket's thread without a number, act on that ticket.
THREAD_COMMANDS = frozenset({"/note", "/resolve", "/escalate", "/take", "/release", "/ticket", "/answered"})
TEXT_COMMANDS = frozenset({"/note", "/resolve", "/escalate", "/answered"})  # the rest of the line is text


def _in_thread(name: str, thread: int, arg: str) -> str:
    """The argument of a thread command with the thread's ticket number put first.

    A text command's words are all text ("/note 5 users affected" is a note on the thread's
    ticket), except a leading number that is the thread's own; the others take the number
    given, if any."""
    first, _, rest = arg.partition(" ")
    if name in TEXT_COMMANDS:
        return f"{thread} {rest if _ticket_number(first) == thread else arg}".strip()
    return arg if _ticket_number(first) is not None else str(thread)


def _ticket_number(arg: str) -> int | None:
    arg = arg.strip().lstrip("#")
    # str.isdigit accepts "²", "①", "١", "１": only ASCII digits are ticket numbers.
    return int(arg) if arg.isascii() and arg.isdigit() and len(arg) < 12 else None


class Engine:
    """Platform-neutral heart of the desk. Frontends call :meth:`handle`."""

    def __init__(
        self,
        db: Database,
        config: Config,
        kb: KnowledgeBase,
        *,
        platforms: tuple[str, ...],
        clock: Clock | None = None,
        on_handled: Callable[[Incoming, Outcome, float], None] | None = None,
    ) -> None:
        self.db = db
        # Told after every handled event (duplicates too) with the seconds it took: metrics,
        # waking the outbox worker. It must not raise; if it does, the event still counts.
        self.on_handled = on_handled
        self.config = config
        self.kb = kb
        self.platforms = platforms
        self.clock: Clock = clock or utc_clock
        self.flow = RequesterFlow(kb)
        self._commands: dict[str, Callable[[Context, Conversation, str], Awaitable[None]]] = {
            "/start": self._cmd_start,
            "/help": self._cmd_help,
            "/new": self._cmd_new,
            "/cancel": self._cmd_cancel,
            "/my": self._cmd_my,
            "/lang": self._cmd_lang,
            "/link": lambda ctx, conv, arg: linking.link(ctx, arg),
            "/reply": self._cmd_reply,
            "/queue": lambda ctx, conv, arg: agent.list_queue(ctx),
            "/mine": lambda ctx, conv, arg: agent.list_mine(ctx),
            "/ticket": lambda ctx, conv, arg: agent.show_ticket(ctx, _ticket_number(arg)),
            "/take": lambda ctx, conv, arg: self._numbered(ctx, arg, "/take N", agent.claim),
            "/resolve": self._cmd_resolve,
            "/escalate": self._cmd_escalate,
            "/find": self._cmd_find,
            "/release": lambda ctx, conv, arg: self._numbered(ctx, arg, "/release N", agent.release),
            "/assign": self._cmd_assign,
            "/note": self._cmd_note,
            "/answered": self._cmd_answered,
            "/canned": self._cmd_canned,
            "/away": self._cmd_away,
            "/back": self._cmd_back,
            "/stats": lambda ctx, conv, arg: lead.show_stats(ctx, arg),
            "/priority": self._cmd_priority,
        }

    # --- entry point ------------------------------------------------------------

    async def handle(self, inc: Incoming) -> Outcome:
        """Handle one event exactly once. Safe to call again with the same event key."""
        started = time.perf_counter()
        inc, dropped = cut_text(clean_incoming(inc), MAX_TEXT)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return self._handled(inc, await self._handle_once(inc, dropped), started)
            except IntegrityError:
                # Only a repeated event key is a duplicate; any other unique violation (two
                # first messages of a new person racing to create them) is retried.
                if await self._seen(inc.event_key):
                    log.info("duplicate event ignored", extra={"event_key": inc.event_key, "platform": inc.platform})
                    return self._handled(inc, Outcome(duplicate=True), started)
                if attempt == MAX_ATTEMPTS:
                    raise
            except DBAPIError as exc:
                if not _retryable(exc) or attempt == MAX_ATTEMPTS:
                    raise
                log.warning("retrying event after database error: %s", type(exc.orig).__name__)
        raise AssertionError("unreachable")

    def _handled(self, inc: Incoming, outcome: Outcome, started: float) -> Outcome:
        if self.on_handled is not None:
            try:
                self.on_handled(inc, outcome, time.perf_counter() - started)
            except Exception:  # noqa: BLE001 — an observer's bug must not undo a committed event
                log.exception("on_handled hook failed")
        return outcome

    async def _seen(self, event_key: str) -> bool:
        async with self.db.transaction() as s:
            row = (await s.exec(select(col(InboxEvent.id)).where(col(InboxEvent.event_key) == stored_key(event_key)))).first()
            return row is not None

    async def _handle_once(self, inc: Incoming, dropped: int = 0) -> Outcome:
        now = self.clock()
        async with self.db.transaction() as s:
            await record_event(s, inc.event_key, now)
            person, identity = await people.resolve_sender(
                s, inc.platform, inc.user_id, display_name=inc.display_name, locale=inc.locale,
                timezone=inc.timezone, chat_id=inc.chat_id, private=inc.is_private, now=now,
                seen=inc.signal not in ("blocked", "unblocked", home.HOME_SIGNAL),  # not the person writing
            )
            ctx = Context(s=s, config=self.config, inc=inc, person=person, identity=identity,
                          now=now, platforms=self.platforms, kb=self.kb)
            if inc.forwarded_from and not inc.is_button:
                # Kept as text (never a command), with who wrote it, in the sender's language.
                line = ctx.t("forwarded_from", name=inc.forwarded_from)
                ctx.inc = dataclasses.replace(inc, text=f"{inc.text}\n{line}" if inc.text.strip() else line)
            conv = await conversations.load(s, inc.platform, inc.chat_id, inc.user_id)
            if dropped:  # told first, so the flow's answer (with its buttons) stays the last word
                ctx.reply("text_cut", limit=f"{MAX_TEXT:,}", rest=f"{dropped:,}")
            await self._dispatch(ctx, conv)
            await home.refresh(ctx)  # the Homes this event changed (and an opened one)
            outgoing = await ctx.flush()
        for callback in ctx.after_commit:
            callback()
        ticket_ids = sorted({o.reply.ticket_id for o in outgoing if o.reply.ticket_id} | (
            {inc.ticket_id} if inc.ticket_id else set()))
        log.info(
            "event handled",
            extra={
                "platform": inc.platform, "event_key": inc.event_key, "person": ctx.person.key,
                "action": inc.action or ("command" if inc.is_command else "text"),
                "ticket": ticket_ids[0] if len(ticket_ids) == 1 else (ticket_ids or None),
                "replies": len(outgoing),
            },
        )
        return Outcome(outgoing=outgoing, alert=ctx.alert)

    # --- dispatch -----------------------------------------------------------------

    async def _dispatch(self, ctx: Context, conv: Conversation) -> None:
        inc = ctx.inc
        if inc.signal is not None:
            await self._signal(ctx, inc.signal)
            return
        if inc.edit_of is not None:
            await self._edit(ctx, conv, inc.edit_of)
            return
        if inc.is_button:
            await self._button(ctx, conv, inc.action or "", inc.ticket_id, inc.value)
            return
        text = inc.text.strip()[:MAX_TEXT]
        thread = await self._thread_ticket(ctx)
        if inc.is_command:
            name, _, arg = text.partition(" ")
            name = name.split("@", 1)[0].lower()  # Telegram's /cmd@botname
            command = self._commands.get(name)
            if command is not None:
                if thread is not None and name in THREAD_COMMANDS:
                    arg = _in_thread(name, thread, arg.strip())
                await command(ctx, conv, arg.strip())
                return
            if thread is None:
                ctx.reply("unknown_command", command=name)
                return
            # "/etc/hosts has a wrong entry" in a ticket's thread is text, not a command.
        if thread is not None:
            await self._to_ticket(ctx, conv, thread, text)
            return
        if not inc.is_private:
            return  # chatter in a team chat that is not about a ticket
        if not text and not inc.attachments and conv.state != requester.FORM:  # the form re-asks its own question
            ctx.reply("empty_text")
            return
        await self.flow.on_text(ctx, conv, text)

    async def _signal(self, ctx: Context, signal: str) -> None:
        """Something that is neither text nor a button (recorded in the inbox like any event)."""
        inc = ctx.inc
        if signal in ("blocked", "unblocked"):
            # Blocked: stop writing there until they come back; the cards of their open
            # tickets say so (nothing is sent to them either way).
            if signal == "blocked":
                await people.mark_unreachable(ctx.s, inc.platform, inc.chat_id, ctx.now)
                ctx.identity.unreachable_at = ctx.now
                ctx.s.add(ctx.identity)
            else:
                await people.mark_reachable(ctx.s, inc.platform, inc.chat_id)
            for ticket in await tickets.open_tickets_of_requester(ctx.s, ctx.person_id):
                await agent.refresh_card(ctx, ticket)
        elif signal == home.HOME_SIGNAL:
            await home.opened(ctx)
        elif signal == "unsupported":
            if inc.is_private or await self._thread_ticket(ctx) is not None:
                ctx.reply("unsupported_content")
        else:
            log.warning("unknown signal %r ignored", signal)

    async def _edit(self, ctx: Context, conv: Conversation, message_id: str) -> None:
        """The author changed an earlier message: recorded on its ticket (the original kept)
        and shown to the other side; a message still in a draft changes the draft; any other
        edit changes nothing and is not answered."""
        inc = ctx.inc
        original = await tickets.find_message(ctx.s, inc.platform, inc.chat_id, message_id)
        if original is None:
            await self.flow.edit_draft(ctx, conv, message_id, inc.text)
            return
        if original.author_id != ctx.person_id or not inc.text.strip():
            return
        ticket = await tickets.get_ticket(ctx.s, original.ticket_id, for_update=True)
        if ticket is None:
            return
        text = inc.text.strip()[:MAX_TEXT]
        await tickets.record_edit(ctx.s, original, author_id=ctx.person_id, text=text, now=ctx.now,
                                  attachments=[f.to_dict() for f in inc.attachments])
        if ticket.status not in OPEN_STATUSES:
            return
        if original.kind == MessageKind.REQUESTER:
            await relay_to_staff(ctx, ticket, text, key="relay_edited")
        elif original.kind == MessageKind.AGENT:
            await relay_to_requester(ctx, ticket, text, key="relay_edited")

    async def _thread_ticket(self, ctx: Context) -> int | None:
        """Conversation routing, rule 1: the ticket whose thread this message is in.

        Frontends pass the platform's reference (a topic / thread id, the id of the message
        replied to); the store knows which ticket each posted message belongs to."""
        inc = ctx.inc
        if inc.ticket_id is not None:
            return inc.ticket_id
        for ref in (inc.thread_id, inc.reply_to):
            if ref:
                found = await outbox.ticket_for_message(ctx.s, inc.platform, inc.chat_id, ref)
                if found is not None:
                    return found
        return None

    async def _to_ticket(self, ctx: Context, conv: Conversation, number: int, text: str) -> None:
        """Text addressed to ticket ``number`` (its thread, ``/reply N``): a requester's own
        resolved ticket offers a reopen with the text kept; everything else is a message."""
        ticket = await tickets.get_ticket(ctx.s, number)
        if ticket is not None and ticket.requester_id == ctx.person_id and (text or ctx.inc.attachments):
            await self.flow.in_thread(ctx, conv, ticket, text)
            return
        await post_message(ctx, number, text)

    async def _button(self, ctx: Context, conv: Conversation, action: str, ticket_id: int | None, value: str | None) -> None:
        if action in REQUESTER_ACTIONS:
            await self.flow.on_button(ctx, conv, action, value, ticket_id)
        elif action == "claim":
            await agent.claim(ctx, ticket_id)
        elif action == "assign":
            await agent.assign(ctx, ticket_id, value)
        elif action == "reply":
            number = await agent.start_reply(ctx, ticket_id)
            if number is not None:
                await self.flow.compose(ctx, conv, number)
        elif action in ("resolve", "escalate"):
            await self._ask_line(ctx, conv, action, ticket_id)
        elif action == "release":
            await agent.release(ctx, ticket_id)
        elif action == "rate":
            if await requester.rate(ctx, ticket_id, value) and ctx.inc.is_private and ticket_id is not None:
                await self.flow.ask_csat_comment(ctx, conv, ticket_id)
        elif action == "reopen":
            await requester.reopen(ctx, ticket_id)
        elif action in kb_learning.ACTIONS:  # the resolved card's "Answered by" / "Save as article"
            await kb_learning.on_button(ctx, action, ticket_id, value)
        elif action == "stale":  # the frontend could not read the button (garbage, an old version)
            ctx.reply("button_outdated")
        else:
            log.warning("unknown button action %r", action)
            ctx.reply("stale_button")

    # --- commands -------------------------------------------------------------------

    async def _numbered(
        self, ctx: Context, arg: str, usage: str, action: Callable[[Context, int | None], Awaitable[None]]
    ) -> None:
        number = _ticket_number(arg)
        if number is None:
            ctx.reply("usage", usage=usage)
            return
        await action(ctx, number)

    async def _cmd_start(self, ctx: Context, conv: Conversation, arg: str) -> None:
        """``/start [payload]``: a deep link ``cat_<key>`` starts a request in that category
        (the next message describes it); anything else is the usual help."""
        key = arg.strip().removeprefix("cat_") if arg.strip().startswith("cat_") else None
        category = self.config.categories.get(key) if key else None
        if category is None or not ctx.inc.is_private:
            await self._cmd_help(ctx, conv, "")
            return
        await conversations.save(ctx.s, conv, requester.IDLE, {"prefill": key}, ctx.now)
        ctx.reply("start_category", category=category.title.get(ctx.locale))

    async def _cmd_help(self, ctx: Context, conv: Conversation, arg: str) -> None:
        text = ctx.t("help_requester")
        if await people.memberships_of(ctx.s, ctx.person_id):
            text += "\n\n" + ctx.t("help_agent")
        ctx.here(Reply(text))

    async def _cmd_new(self, ctx: Context, conv: Conversation, arg: str) -> None:
        await self.flow.new_request(ctx, conv, arg)

    async def _cmd_cancel(self, ctx: Context, conv: Conversation, arg: str) -> None:
        await self.flow.cancel(ctx, conv)

    async def _cmd_my(self, ctx: Context, conv: Conversation, arg: str) -> None:
        rows = await tickets.tickets_of_requester(ctx.s, ctx.person_id)
        if not rows:
            ctx.reply("my_none")
            return
        lines = [ctx.t("my_tickets")]
        for tk in rows:
            owner = await agent.display_name(ctx, tk.assignee_id)
            lines.append(f"#{tk.id} {tk.subject} — {ctx.t(f'status_{tk.status}', owner=owner or '—')}")
        ctx.here(Reply("\n".join(lines)))

    async def _cmd_lang(self, ctx: Context, conv: Conversation, arg: str) -> None:
        choice = arg.strip().lower()
        if choice not in LOCALES:
            ctx.reply("lang_usage")
            return
        await people.set_locale(ctx.s, ctx.person, choice)
        ctx.locale = choice
        ctx.reply("lang_set")

    async def _cmd_reply(self, ctx: Context, conv: Conversation, arg: str) -> None:
        num, _, text = arg.partition(" ")
        number = _ticket_number(num)
        if number is None:
            ctx.reply("usage", usage="/reply N text")
            return
        if not text.strip():
            checked = await agent.start_reply(ctx, number)
            if checked is not None:
                await self.flow.compose(ctx, conv, checked)
            return
        await self._to_ticket(ctx, conv, number, text.strip())

    async def _cmd_assign(self, ctx: Context, conv: Conversation, arg: str) -> None:
        num, _, who = arg.partition(" ")
        number = _ticket_number(num)
        if number is None:
            ctx.reply("usage", usage="/assign N who")
            return
        await agent.assign(ctx, number, who.strip() or None)

    async def _cmd_note(self, ctx: Context, conv: Conversation, arg: str) -> None:
        num, _, text = arg.partition(" ")
        number = _ticket_number(num)
        if number is None or not text.strip():
            ctx.reply("usage", usage="/note N text")
            return
        await agent.note(ctx, number, text.strip())

    async def _cmd_answered(self, ctx: Context, conv: Conversation, arg: str) -> None:
        num, _, words = arg.partition(" ")
        number = _ticket_number(num)
        if number is None or not words.strip():
            ctx.reply("usage", usage="/answered N words")
            return
        await kb_learning.find(ctx, number, words)

    async def _cmd_canned(self, ctx: Context, conv: Conversation, arg: str) -> None:
        parts = arg.split()
        number: int | None = None
        if parts and _ticket_number(parts[0]) is not None:
            number = _ticket_number(parts.pop(0))
        elif conv.state == requester.COMPOSE:
            number = conv.data.get("ticket")
        if not parts or number is None:
            names = ", ".join(sorted(self.config.canned)) or "—"
            ctx.reply("canned_list", names=names)
            ctx.reply("usage", usage="/canned N name")
            return
        canned = self.config.canned.get(parts[0])
        if canned is None:
            ctx.reply("canned_unknown", name=parts[0])
            return
        ticket_locale = await self._requester_locale(ctx, number)
        if await post_message(ctx, number, canned.get(ticket_locale)) and conv.state == requester.COMPOSE:
            await conversations.save(ctx.s, conv, requester.IDLE, {}, ctx.now)

    async def _requester_locale(self, ctx: Context, number: int) -> str:
        ticket = await tickets.get_ticket(ctx.s, number)
        if ticket is None:
            return ctx.locale
        person = await people.get_person(ctx.s, ticket.requester_id)
        return pick_locale(person, self.config, None) if person else ctx.locale

    async def _cmd_away(self, ctx: Context, conv: Conversation, arg: str) -> None:
        await people.set_away(ctx.s, ctx.person, True)
        # Audited: the sweep tells the leads once per away period (keyed by this event).
        await tickets.audit(ctx.s, ticket_id=None, actor_id=ctx.person_id, action="away", now=ctx.now)
        ctx.reply("away_on")

    async def _cmd_back(self, ctx: Context, conv: Conversation, arg: str) -> None:
        await people.set_away(ctx.s, ctx.person, False)
        await tickets.audit(ctx.s, ticket_id=None, actor_id=ctx.person_id, action="back", now=ctx.now)
        ctx.reply("away_off")

    async def _ask_line(self, ctx: Context, conv: Conversation, action: str, number: int | None) -> None:
        """Escalate / resolve from a button: ask for the optional reason or note first (the
        next text, or Skip, does it). Text in a team chat is not read: act at once there."""
        act, check, state = {
            "escalate": (agent.escalate, agent.check_escalate, requester.ESCALATE_REASON),
            "resolve": (agent.resolve, agent.check_resolve, requester.RESOLVE_NOTE),
        }[action]
        if not ctx.inc.is_private:
            await act(ctx, number)
            return
        checked = await check(ctx, number)
        if checked is not None:
            await self.flow.ask_line(ctx, conv, state, checked)

    async def _cmd_escalate(self, ctx: Context, conv: Conversation, arg: str) -> None:
        num, _, reason = arg.partition(" ")
        number = _ticket_number(num)
        if number is None:
            ctx.reply("usage", usage="/escalate N [reason]")
        elif reason.strip():
            await agent.escalate(ctx, number, reason)
        else:
            await self._ask_line(ctx, conv, "escalate", number)

    async def _cmd_resolve(self, ctx: Context, conv: Conversation, arg: str) -> None:
        num, _, note = arg.partition(" ")
        number = _ticket_number(num)
        if number is None:
            ctx.reply("usage", usage="/resolve N [note]")
        else:  # typed: resolves at once (scripts and other flows rely on it); the button asks
            await agent.resolve(ctx, number, note)

    async def _cmd_priority(self, ctx: Context, conv: Conversation, arg: str) -> None:
        num, _, key = arg.partition(" ")
        number = _ticket_number(num)
        if number is None or not key.strip():
            ctx.reply("usage", usage="/priority N " + "|".join(self.config.priorities))
            return
        await agent.change_priority(ctx, number, key.strip().lower())

    async def _cmd_find(self, ctx: Context, conv: Conversation, arg: str) -> None:
        if not arg.strip():
            ctx.reply("usage", usage="/find TEXT")
            return
        await agent.find(ctx, arg)
