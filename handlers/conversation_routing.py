"""Conversation routing: which ticket a requester's plain message belongs to.

One platform-neutral rule, applied by the engine to every text a person sends in a
private chat (docs/architecture.md, "Conversation routing"), in this order:

1. In a ticket's thread (a reply to a message of that ticket, its topic / Slack thread,
   ``/reply N``, the console's reply mode) → that ticket. The engine resolves a thread
   reference to a ticket through ``ticket_post`` / the outbox; frontends only pass the
   platform's reference. A resolved ticket's thread offers a reopen instead.
2. Exactly one open ticket waiting on this requester → that ticket (acknowledged, with a
   one-tap "This is a new request").
3. Several open tickets (two or more) → "Which request is this about?" with one button
   per ticket and "New request". A single open ticket that is not waiting is left to the
   new-request flow's duplicate check ("add to #N or open a new one?").
4. Otherwise a new request (KB first). Chatter ("спасибо", "ok thanks", "👍"; one detector,
   :func:`kb.chatter.is_chatter`, that the KB matcher uses too) is acknowledged and never
   filed; in a ticket's thread (rule 1) it is added to that ticket quietly. "не помогло" /
   "not fixed" right after a resolve offers the reopen.

This module is the pure part: :func:`decide` looks at the requester's tickets and the
text and returns a :class:`Route`. Nothing here touches the database or sends anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from kb.chatter import is_chatter
from store.models import OPEN_STATUSES, Status, Ticket

__all__ = ["Route", "RouteKind", "decide", "is_chatter", "reopenable", "says_not_fixed"]

# Requests that say a solved problem is back.
NOT_FIXED_PHRASES = (
    "не помогло", "не помог", "не решено", "не решена", "не решилось", "не исправлено",
    "всё ещё не", "все еще не", "опять не", "снова не", "проблема осталась",
    "по-прежнему не", "до сих пор не", "опять сломал", "снова сломал",
    "not fixed", "still broken", "still not", "still doesn't", "still does not", "still can't",
    "still cannot", "didn't help", "did not help", "doesn't help", "not solved", "not resolved",
    "broken again", "happening again", "same problem", "still happening", "still failing",
)


def _norm(text: str) -> str:
    return " ".join(text.lower().replace("ё", "е").split())


_NOT_FIXED = tuple(_norm(p) for p in NOT_FIXED_PHRASES)


def says_not_fixed(text: str) -> bool:
    """True when the text says a solved problem is not solved ("не помогло", "still broken")."""
    norm = _norm(text)
    return any(p in norm for p in _NOT_FIXED)


class RouteKind(StrEnum):
    TICKET = "ticket"  # add to ``ticket`` (rule 1 or 2)
    REOPEN = "reopen"  # offer to reopen ``ticket`` with the text
    WHICH = "which"  # ask which of ``candidates``
    CHATTER = "chatter"  # acknowledge, file nothing
    NEW = "new"  # the new-request flow
    CLOSED = "closed"  # the thread's ticket is closed for good: a new request, said so


@dataclass(frozen=True)
class Route:
    kind: RouteKind
    ticket: Ticket | None = None
    candidates: tuple[Ticket, ...] = ()
    auto: bool = False  # rule 2: added without asking (offer the one-tap undo)


def reopenable(ticket: Ticket, now: datetime, window: timedelta) -> bool:
    """A resolved ticket resolved within the reopen window."""
    return (
        ticket.status == Status.RESOLVED
        and ticket.resolved_at is not None
        and now - ticket.resolved_at <= window
    )


def decide(
    text: str,
    *,
    thread: Ticket | None,
    own_tickets: Sequence[Ticket],
    now: datetime,
    reopen_window: timedelta,
) -> Route:
    """Where a requester's message goes. ``thread`` is the ticket whose thread the message
    is in (already checked to be the requester's own); ``own_tickets`` are the requester's
    recent tickets, newest first."""
    if thread is not None:
        if thread.status in OPEN_STATUSES:
            return Route(RouteKind.TICKET, thread)
        if reopenable(thread, now, reopen_window):
            return Route(RouteKind.REOPEN, thread)
        return Route(RouteKind.CLOSED, thread)
    open_tickets = [t for t in own_tickets if t.status in OPEN_STATUSES]
    waiting = [t for t in open_tickets if t.status == Status.WAITING]
    if len(waiting) == 1:
        return Route(RouteKind.TICKET, waiting[0], auto=True)
    if says_not_fixed(text):
        recent = [t for t in own_tickets if reopenable(t, now, reopen_window)]
        if recent and not open_tickets:
            newest = max(recent, key=lambda t: t.resolved_at or now)
            return Route(RouteKind.REOPEN, newest)
    if is_chatter(text):
        return Route(RouteKind.CHATTER)
    # One open ticket that is not waiting on the requester is no candidate by itself: the
    # new-request flow's duplicate check asks "add to #N or open a new one?" if it is similar.
    candidates = waiting if len(waiting) > 1 else open_tickets
    if len(candidates) > 1:
        return Route(RouteKind.WHICH, candidates=tuple(candidates))
    return Route(RouteKind.NEW)
