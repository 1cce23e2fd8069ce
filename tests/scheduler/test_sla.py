"""scheduler.sla: due times in business time, and the pause while waiting on the requester."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.config import CalendarConfig, PriorityConfig
from scheduler.calendar import ALWAYS, from_config
from scheduler.sla import due_times, pause_or_resume
from store.models import Status, Ticket

MOSCOW = ZoneInfo("Europe/Moscow")
CAL = from_config(CalendarConfig(timezone="Europe/Moscow", hours="09:00-18:00"))
NORMAL = PriorityConfig(title={"en": "Normal", "ru": "Обычный"}, first_response=timedelta(hours=4),
                        resolution=timedelta(hours=16))


def msk(*args: int) -> datetime:
    return datetime(*args, tzinfo=MOSCOW)


def test_due_times_of_the_issue_example() -> None:
    first, resolution = due_times(msk(2026, 12, 1, 23, 15), NORMAL, CAL)
    assert first == msk(2026, 12, 2, 13, 0)
    assert resolution == msk(2026, 12, 3, 16, 0)  # 9h on Wednesday, 7h on Thursday


def test_without_a_calendar_due_times_are_wall_clock() -> None:
    filed = msk(2026, 12, 1, 23, 15)
    assert due_times(filed, NORMAL, ALWAYS) == (filed + timedelta(hours=4), filed + timedelta(hours=16))


def test_paused_minutes_push_only_the_resolution() -> None:
    first, resolution = due_times(msk(2026, 12, 1, 23, 15), NORMAL, CAL, paused_minutes=120)
    assert (first, resolution) == (msk(2026, 12, 2, 13, 0), msk(2026, 12, 3, 18, 0))  # 18h: Wed and Thu


def ticket(status: str, **fields: object) -> Ticket:
    return Ticket(id=1, team="it", category="network", priority="normal", requester_id=1, subject="s",
                  platform="console", status=status, **fields)


def test_waiting_pauses_and_the_answer_resumes_with_the_business_minutes() -> None:
    tk = ticket(Status.WAITING, resolution_due=msk(2026, 12, 3, 16, 0))
    assert pause_or_resume(tk, CAL, msk(2026, 12, 2, 17, 0)) is not None
    assert tk.sla_paused_at == msk(2026, 12, 2, 17, 0)
    assert pause_or_resume(tk, CAL, msk(2026, 12, 2, 17, 30)) is None  # still waiting: nothing new

    tk.status = Status.CLAIMED
    change = pause_or_resume(tk, CAL, msk(2026, 12, 3, 10, 0))  # Wed 17–18 and Thu 09–10
    assert change is not None and change.minutes == 120
    assert (tk.sla_paused_at, tk.sla_paused_minutes) == (None, 120)
    assert tk.resolution_due == msk(2026, 12, 3, 18, 0)  # Thu 16:00 + 2h: the end of Thursday
    assert pause_or_resume(tk, CAL, msk(2026, 12, 3, 11, 0)) is None
