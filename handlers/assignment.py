"""Automatic assignment policies: pure functions over candidates and their load."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from scheduler.calendar import BusinessCalendar


def on_shift(candidates: Sequence[tuple[int, BusinessCalendar]], now: datetime) -> list[int]:
    """The agents (id, their working time) who are inside their working time at ``now``, in order."""
    return [agent for agent, calendar in candidates if calendar.is_working(now)]


def choose_assignee(
    policy: str,
    candidates: Sequence[int],
    *,
    load: Mapping[int, int],
    last_assigned: int | None,
) -> int | None:
    """Pick an agent id for a new ticket, or ``None`` to leave it in the queue.

    ``candidates`` are the agents of the ticket's tier who are available, in a
    stable order. ``round_robin`` takes the one after ``last_assigned``;
    ``least_loaded`` the one with the fewest open tickets (ties: stable order);
    ``manual`` never assigns.
    """
    if policy == "manual" or not candidates:
        return None
    if policy == "least_loaded":
        return min(candidates, key=lambda a: (load.get(a, 0), candidates.index(a)))
    if policy == "round_robin":
        if last_assigned in candidates:
            return candidates[(candidates.index(last_assigned) + 1) % len(candidates)]  # type: ignore[arg-type]
        return candidates[0]
    raise ValueError(f"unknown assignment policy {policy!r}")
