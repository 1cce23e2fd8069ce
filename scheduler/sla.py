"""SLA due times in the business time of the team's calendar.

``due_times`` is the one place that decides: the first response is due ``first_response``
business minutes after filing, the resolution ``resolution`` business minutes after it,
plus the business minutes the ticket spent waiting on the requester (or resolved before a
reopen), which do not count. A ticket filed on Tuesday 23:15 in Moscow (09:00–18:00,
first response 4h) is due on Wednesday at 13:00.

The pause is kept on the ticket: ``sla_paused_at`` while it waits on the requester,
``sla_paused_minutes`` the business minutes of the pauses that ended. :func:`settle`
brings both in line with the ticket's status at the end of a transaction, so every path
that moves a ticket into or out of ``waiting`` (a reply, a follow-up, a release, an
escalation, a resolve, a sweep) pauses and resumes the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import BusinessSpan, Config, PriorityConfig
from scheduler.calendar import ALWAYS, BusinessCalendar, day_minutes, for_team
from store.models import Status, Ticket
from store.tickets import DueTimes


def _minutes(span: BusinessSpan, calendar: BusinessCalendar) -> float:
    """A target in business minutes: ``2d`` is two of the calendar's working days."""
    return span.minutes + (span.days * day_minutes(calendar) if span.days else 0.0)


def due_times(
    created_at: datetime, priority: PriorityConfig, calendar: BusinessCalendar = ALWAYS, *, paused_minutes: float = 0,
) -> tuple[datetime, datetime]:
    """(first response due, resolution due) for a ticket created at ``created_at``.

    Durations are business time in ``calendar`` (the default, :data:`ALWAYS`, is wall-clock
    time); ``paused_minutes`` of business time do not count toward the resolution."""
    return (calendar.add(created_at, _minutes(priority.first_response, calendar)),
            calendar.add(created_at, _minutes(priority.resolution, calendar) + paused_minutes))


def ticket_due_times(config: Config, ticket: Ticket, priority: str | None = None) -> DueTimes:
    """The due times ``ticket`` should have now (with ``priority`` instead of its own)."""
    first_due, resolution_due = due_times(ticket.created_at, config.priorities[priority or ticket.priority],
                                          for_team(config, ticket.team), paused_minutes=ticket.sla_paused_minutes)
    return DueTimes(first_due, resolution_due, ticket.sla_paused_minutes)


@dataclass(frozen=True)
class PauseChange:
    ticket_id: int
    action: str  # "sla_pause" | "sla_resume"
    minutes: int  # business minutes of the pause that ended (0 for a pause)


def pause_or_resume(ticket: Ticket, calendar: BusinessCalendar, now: datetime) -> PauseChange | None:
    """Pause the SLA of a ticket that waits on the requester; resume one that no longer does.

    A resume adds the pause's business minutes (whole minutes) to ``sla_paused_minutes``
    and pushes ``resolution_due`` by them. Pure apart from changing ``ticket``."""
    assert ticket.id is not None
    waiting = ticket.status == Status.WAITING
    if waiting and ticket.sla_paused_at is None:
        ticket.sla_paused_at = now
        return PauseChange(ticket.id, "sla_pause", 0)
    if waiting or ticket.sla_paused_at is None:
        return None
    minutes = round(calendar.between(ticket.sla_paused_at, now))
    ticket.sla_paused_at = None
    ticket.sla_paused_minutes += minutes
    if minutes and ticket.resolution_due is not None:
        ticket.resolution_due = calendar.add(ticket.resolution_due, minutes)
    return PauseChange(ticket.id, "sla_resume", minutes)


_TOUCHED = "sla_touched_tickets"


def track(s: AsyncSession) -> None:
    """Remember every ticket this session writes (for :func:`settle`): the identity map
    alone forgets objects nobody references any more once they are flushed."""

    def collect(session: Session, _context: object, _instances: object) -> None:
        touched = session.info.setdefault(_TOUCHED, {})
        for obj in [*session.new, *session.dirty]:
            if isinstance(obj, Ticket):
                touched[id(obj)] = obj

    if _TOUCHED not in s.sync_session.info:
        s.sync_session.info[_TOUCHED] = {}
        event.listen(s.sync_session, "before_flush", collect)


async def settle(s: AsyncSession, config: Config, now: datetime, tickets: Iterable[Ticket] = ()) -> list[PauseChange]:
    """Pause or resume the SLA of the tickets written in this transaction (since
    :func:`track`) and of ``tickets``, as their status asks. Call it before the commit of
    any transaction that may change ticket statuses (``Context`` does both for every
    engine event)."""
    await s.flush()
    found = {id(t): t for t in [*s.sync_session.info.get(_TOUCHED, {}).values(), *tickets]}
    changes: list[PauseChange] = []
    for ticket in found.values():
        if ticket.id is None:
            continue
        change = pause_or_resume(ticket, for_team(config, ticket.team), now)
        if change is not None:
            s.add(ticket)
            changes.append(change)
    if changes:
        await s.flush()
    return changes


def reopened_due_times(config: Config, ticket: Ticket, resolved_at: datetime | None, now: datetime) -> DueTimes:
    """The due times of a ticket reopened at ``now``: the business time it spent resolved
    does not count (it joins the paused minutes)."""
    calendar = for_team(config, ticket.team)
    paused = ticket.sla_paused_minutes + (round(calendar.between(resolved_at, now)) if resolved_at else 0)
    first_due, resolution_due = due_times(ticket.created_at, config.priorities[ticket.priority], calendar,
                                          paused_minutes=paused)
    return DueTimes(first_due, resolution_due, paused)
