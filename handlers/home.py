"""A person's Home screen (Slack's App Home), decided here and drawn by the frontend.

Everybody sees "My requests" with each one's status; agents and leads also see "My
tickets" (the open tickets they hold) and "Team queue" (their teams' tickets nobody holds,
each with a Claim button — an ordinary :class:`Button`, re-authorised on press like any
other). The screen is a :class:`HomeView`: neutral data, in the reader's language.

When it is sent:

- the person opens their Home (``Incoming.signal == "home"``): it is remembered
  (:func:`store.home.mark_opened`) and the Home is published;
- an event changes tickets (the audit events of its transaction,
  :func:`store.tickets.changes_in`): the Homes of everyone whose screen changed are
  published again — the requester, the holder (and a previous one), and the team's agents
  and leads when the ticket entered or left the queue. Only for people who opened their
  Home, at most once per person and event; a Home still waiting in the outbox is
  superseded by the new one (only the latest is published).

A Home goes out as an outbox row addressed to the account itself (chat = platform user
id) with ``card="home"`` and the view in the payload; only platforms in
:data:`HOME_PLATFORMS` ever get one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from handlers.cards import status_text
from handlers.context import Context, pick_locale
from handlers.events import Button, Destination, Reply
from handlers.texts import Translator, translator
from store import home as store_home
from store import outbox, people, tickets
from store.models import OPEN_STATUSES, Status, Ticket, TicketEvent

HOME_SIGNAL = "home"
HOME_CARD = "home"
HOME_PLATFORMS = frozenset({"slack"})
# Rows per section (the rest is "… and N more"): three full sections stay far below
# Slack's 100 blocks of a Home view.
MAX_ROWS = 15


@dataclass(frozen=True)
class HomeRow:
    """One ticket: its line ("#12 Printer"), its status line, and at most one button."""

    ticket_id: int
    text: str
    detail: str
    button: Button | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"ticket_id": self.ticket_id, "text": self.text, "detail": self.detail,
                "button": self.button.to_dict() if self.button else None}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HomeRow:
        button = Button.from_dict(d["button"]) if d.get("button") else None
        return cls(ticket_id=int(d["ticket_id"]), text=str(d["text"]), detail=str(d.get("detail") or ""),
                   button=button)


@dataclass(frozen=True)
class HomeSection:
    """A titled list; ``empty`` is shown when it has no rows, ``more`` after cut rows."""

    key: str  # requests | tickets | queue
    title: str
    rows: tuple[HomeRow, ...]
    empty: str
    more: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "title": self.title, "rows": [r.to_dict() for r in self.rows],
                "empty": self.empty, "more": self.more}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HomeSection:
        return cls(key=str(d["key"]), title=str(d["title"]), rows=tuple(HomeRow.from_dict(r) for r in d["rows"]),
                   empty=str(d.get("empty") or ""), more=d.get("more"))


@dataclass(frozen=True)
class HomeView:
    """``reply_chat``: the person's direct chat, where answers to presses on the Home go."""

    title: str
    intro: str
    sections: tuple[HomeSection, ...]
    reply_chat: str | None = None

    def section(self, key: str) -> HomeSection | None:
        return next((s for s in self.sections if s.key == key), None)

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "intro": self.intro, "sections": [s.to_dict() for s in self.sections],
                "reply_chat": self.reply_chat}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HomeView:
        return cls(title=str(d["title"]), intro=str(d.get("intro") or ""),
                   sections=tuple(HomeSection.from_dict(s) for s in d["sections"]), reply_chat=d.get("reply_chat"))


# --- building -----------------------------------------------------------------------------

async def build_view(ctx: Context, person_id: int, locale: str, reply_chat: str | None = None) -> HomeView:
    """The Home of ``person_id`` as it is now, in ``locale``."""
    t = translator(locale)
    requests, total = await store_home.requests_of(ctx.s, person_id, MAX_ROWS)
    sections = [await _section(ctx, t, "requests", requests, total, "home_my_requests", "home_my_requests_none")]
    teams = sorted({m.team for m in await people.memberships_of(ctx.s, person_id)})
    if teams:
        held, held_total = await store_home.held_by(ctx.s, person_id, MAX_ROWS)
        sections.append(await _section(ctx, t, "tickets", held, held_total, "home_my_tickets", "home_my_tickets_none"))
        urgent_first = list(reversed(ctx.config.priorities))
        queue = await tickets.team_queue(ctx.s, teams, MAX_ROWS, priorities=urgent_first, unclaimed=True)
        waiting = await store_home.unclaimed_count(ctx.s, teams)
        sections.append(await _section(ctx, t, "queue", queue, waiting, "home_team_queue", "home_team_queue_none"))
    return HomeView(title=t("home_title"), intro=t("home_intro"), sections=tuple(sections), reply_chat=reply_chat)


async def _section(ctx: Context, t: Translator, key: str, rows: list[Ticket], total: int, title: str,
                   empty: str) -> HomeSection:
    built = tuple([await _row(ctx, t, key, tk) for tk in rows])
    left = total - len(built)
    return HomeSection(key=key, title=t(title), rows=built, empty=t(empty),
                       more=t("home_more", n=left) if left > 0 else None)


async def _row(ctx: Context, t: Translator, key: str, ticket: Ticket) -> HomeRow:
    assert ticket.id is not None
    owner = await people.get_person(ctx.s, ticket.assignee_id) if ticket.assignee_id else None
    team = ctx.config.teams.get(ticket.team)
    detail = t("home_row_detail", status=status_text(t, ticket, owner.name if owner else None),
               team=team.title.get(t.locale) if team else ticket.team)
    if key != "queue":
        return HomeRow(ticket.id, t("home_row", n=ticket.id, subject=ticket.subject), detail)
    prio = ctx.config.priorities.get(ticket.priority)
    text = t("home_row_queue", n=ticket.id, subject=ticket.subject,
             priority=prio.title.get(t.locale) if prio else ticket.priority)
    return HomeRow(ticket.id, text, detail, Button(t("btn_claim"), "claim", ticket.id))


# --- when -----------------------------------------------------------------------------------

async def opened(ctx: Context) -> None:
    """The person opened their Home: remember it (the refresh at the end of the event
    then publishes it)."""
    inc = ctx.inc
    if inc.platform in HOME_PLATFORMS:
        await store_home.mark_opened(ctx.s, inc.platform, inc.user_id, ctx.now)


async def refresh(ctx: Context) -> None:
    """Queue a fresh Home for everyone this event concerns who has one (see the module
    docstring); called once per event, just before its replies are written."""
    platforms = [p for p in ctx.platforms if p in HOME_PLATFORMS]
    if not platforms:
        return
    who = await concerned(ctx)
    if ctx.inc.signal == HOME_SIGNAL and ctx.inc.platform in HOME_PLATFORMS:
        who.add(ctx.person_id)
    for ident in await store_home.home_identities(ctx.s, who, platforms):
        person = await people.get_person(ctx.s, ident.person_id)
        if person is None:
            continue
        locale = pick_locale(person, ctx.config, ident.locale)
        view = await build_view(ctx, ident.person_id, locale, ident.dm_chat_id)
        reply = Reply(view.title, card=HOME_CARD, view=view.to_dict())
        await outbox.supersede(ctx.s, ident.platform, ident.platform_user_id, HOME_CARD)  # not sent yet: stale
        ctx.to_destination(Destination(ident.platform, ident.platform_user_id, ident.person_id),
                           lambda _t, reply=reply: reply, locale)


async def concerned(ctx: Context) -> set[int]:
    """People whose Home the ticket changes of this transaction change."""
    by_ticket: dict[int, list[TicketEvent]] = {}
    for ev in tickets.changes_in(ctx.s):
        if ev.ticket_id is not None and (ev.from_value is not None or ev.to_value is not None):
            by_ticket.setdefault(ev.ticket_id, []).append(ev)
    who: set[int] = set()
    for ticket_id, events in by_ticket.items():
        ticket = await ctx.s.get(Ticket, ticket_id)
        if ticket is None:
            continue
        who.add(ticket.requester_id)
        was_open = any(e.from_value in OPEN_STATUSES for e in events)
        if ticket.assignee_id is not None and (ticket.status in OPEN_STATUSES or was_open):
            who.add(ticket.assignee_id)  # "My tickets" lists open tickets only
        who |= {int(e.from_value) for e in events
                if e.action in ("assign", "release") and e.from_value and e.from_value.isdigit()}
        if ticket.status == Status.NEW or any(e.from_value == Status.NEW or e.action == "assign" for e in events):
            for role in (people.ROLE_AGENT, people.ROLE_LEAD):
                who |= {p.id for p, _ in await people.team_members(ctx.s, ticket.team, role) if p.id is not None}
    return who
