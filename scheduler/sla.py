"""SLA due times.

For now the clock is wall-clock time (issue #2); business-hours calendars plug in
here with the scheduler: ``due_times`` is the one place that decides.
"""

from __future__ import annotations

from datetime import datetime

from bot.config import PriorityConfig


def due_times(created_at: datetime, priority: PriorityConfig) -> tuple[datetime, datetime]:
    """(first response due, resolution due) for a ticket created at ``created_at``."""
    return created_at + priority.first_response, created_at + priority.resolution
