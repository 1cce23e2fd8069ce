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
4. Otherwise a new request (KB first). Chatter ("спасибо", "ok thanks") is acknowledged
   and never filed; "не помогло" / "not fixed" right after a resolve offers the reopen.

This module is the pure part: :func:`decide` looks at the requester's tickets and the
text and returns a :class:`Route`. Nothing here touches the database or sends anything.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from store.models import OPEN_STATUSES, Status, Ticket

_WORDS = re.compile(r"[^\W\d_]+|\d+", re.UNICODE)

# A message made only of these words is chatter: thanks, acknowledgements, greetings.
CHATTER_WORDS = frozenset(
    """
    спасибо спс спасиб пасиб благодарю благодарим большое огромное ок окей хорошо понял поняла
    поняли ясно отлично супер класс принято договорились да ага угу привет здравствуйте добрый
    день утро вечер всё все норм нормально
    ok okay k kk thanks thank you thx ty cheers great cool got it fine perfect nice good
    awesome understood noted sure yes yep hi hello hey morning lot much very so
    """.split()
)
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


_CHATTER = frozenset(w.replace("ё", "е") for w in CHATTER_WORDS)
_NOT_FIXED = tuple(_norm(p) for p in NOT_FIXED_PHRASES)


def is_chatter(text: str) -> bool:
    """True for a short message made only of thanks / acknowledgement words (or only emoji)."""
    words = _WORDS.findall(text.lower().replace("ё", "е"))
    if len(words) > 6:
        return False
    if not words:
        stripped = "".join(ch for ch in text if not ch.isspace())
        # Only punctuation or emoji ("👍", "!!!"): an acknowledgement, not a request.
        return bool(stripped) and not any(ch.isalnum() for ch in stripped)
    return all(w in _CHATTER for w in words)


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
