"""The sweep's pure policy (``scheduler.sweep.plan``), driven by a fake clock: no database.

The sample config's IT team works Mon–Fri 09:00–18:00 Moscow time (UTC+3); the fake
clock starts on Monday 2026-11-30 10:00 MSK. Expected instants are written out by hand
in Moscow time, so a wrong business-time computation fails the test.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.config import Config
from scheduler import sweep
from scheduler.sweep import Action, AgentState, Rules, TicketState, plan
from store.models import Status
from tests.support.clock import START, FakeClock
from tests.support.scenarios import make_config

MSK = ZoneInfo("Europe/Moscow")


def msk(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    """An instant given as Moscow wall time in late 2026 (30 Nov is a Monday)."""
    return datetime(2026, month, day, hour, minute, tzinfo=MSK).astimezone(UTC)


def ticket(**kw: Any) -> TicketState:
    values: dict[str, Any] = {"id": 12, "team": "it", "priority": "normal", "status": Status.NEW, "tier": "L1",
                              "created_at": START}
    values.update(kw)
    return TicketState(**values)


def keys(actions: list[Action]) -> list[str]:
    return [a.key for a in actions]


def done_now(actions: list[Action], at: datetime, done: Mapping[str, datetime] | None = None) -> dict[str, datetime]:
    """The done map after recording ``actions`` (and what they cover) at ``at``."""
    out = dict(done or {})
    for a in actions:
        out[a.key] = at
        out.update({k: at for k, _ in a.covers})
    return out


@pytest.fixture
def rules(config: Config) -> Rules:
    return Rules(config)


def test_the_fake_clock_starts_on_a_monday_morning_in_moscow() -> None:
    assert START == msk(30, 10)


# --- unclaimed ------------------------------------------------------------------------


def test_unclaimed_is_reposted_after_the_threshold_then_the_lead_is_mentioned(rules: Rules) -> None:
    clock, t = FakeClock(), ticket()
    assert plan([t], clock.advance(minutes=29), rules) == []
    first = plan([t], clock.advance(minutes=1), rules)  # 30 business minutes
    assert [(a.kind, a.ticket_id) for a in first] == [(sweep.REPOST, 12)]
    assert first[0].key == "unclaimed:12:20261130T070000Z:repost"
    done = done_now(first, clock.now)
    assert plan([t], clock.advance(minutes=1), rules, done=done) == []  # the next sweep: nothing new
    assert plan([t], clock.advance(minutes=88), rules, done=done) == []  # 1h59m
    second = plan([t], clock.advance(minutes=1), rules, done=done)
    assert [a.kind for a in second] == [sweep.LEAD] and second[0].covers == ()
    assert plan([t], clock.advance(hours=1), rules, done=done_now(second, clock.now, done)) == []


def test_unclaimed_wait_is_business_time_across_the_night(rules: Rules) -> None:
    t = ticket(created_at=msk(30, 17, 50))  # 10 minutes before the end of the day
    assert plan([t], msk(1, 9, 19, month=12), rules) == []
    assert keys(plan([t], msk(1, 9, 20, month=12), rules)) == ["unclaimed:12:20261130T145000Z:repost"]


def test_back_in_the_queue_is_a_new_occasion(rules: Rules) -> None:
    t = ticket(unclaimed_since=START + timedelta(hours=1))  # released an hour after filing
    acts = plan([t], START + timedelta(minutes=45), rules)
    assert acts == []
    acts = plan([t], START + timedelta(minutes=90), rules, done={"unclaimed:12:20261130T070000Z:repost": START})
    assert keys(acts) == ["unclaimed:12:20261130T080000Z:repost"]


def test_per_priority_and_per_team_overrides() -> None:
    config = make_config(lambda d: d.__setitem__("sweep", {
        "defaults": {"unclaimed_repost": "1h", "unclaimed_lead": "3h"},
        "priorities": {"urgent": {"unclaimed_repost": "5m", "unclaimed_lead": "15m"}},
        "teams": {"hr": {"unclaimed_repost": "off"}},
    }))
    rules = Rules(config)
    at = START + timedelta(minutes=10)
    assert [a.kind for a in plan([ticket(priority="urgent")], at, rules)] == [sweep.REPOST]
    assert plan([ticket(priority="normal")], at, rules) == []
    assert plan([ticket(priority="normal")], START + timedelta(hours=1), rules) != []
    # hr switched the repost off (but not the lead mention); urgent tickets there still repost.
    assert plan([ticket(team="hr")], START + timedelta(hours=2), rules) == []
    assert [a.kind for a in plan([ticket(team="hr")], START + timedelta(hours=3), rules)] == [sweep.LEAD]
    assert [a.kind for a in plan([ticket(team="hr", priority="urgent")], at, rules)] == [sweep.REPOST]


# --- claimed without a first response ------------------------------------------------------


def claimed(**kw: Any) -> TicketState:
    return ticket(**{"status": Status.CLAIMED, "assignee_id": 7, "first_response_due": START + timedelta(hours=4), **kw})


def test_assignee_is_told_at_80_percent_and_at_due(rules: Rules) -> None:
    t = claimed()
    assert plan([t], msk(30, 13, 11), rules) == []
    near = plan([t], msk(30, 13, 12), rules)  # 80% of 4h = 3h12m
    assert [(a.kind, a.person_id) for a in near] == [(sweep.NEAR, 7)]
    done = done_now(near, msk(30, 13, 12))
    assert plan([t], msk(30, 13, 59), rules, done=done) == []
    overdue = plan([t], msk(30, 14, 0), rules, done=done)
    assert [a.kind for a in overdue] == [sweep.OVERDUE]
    assert plan([t], msk(30, 14, 10), rules, done=done_now(overdue, msk(30, 14, 0), done)) == []


def test_the_first_response_window_is_measured_in_business_time(rules: Rules) -> None:
    # Filed 17:00 with the first response due 12:00 next day: 4 business hours; 80% = 3h12m.
    t = claimed(created_at=msk(30, 17), first_response_due=msk(1, 12, month=12))
    assert plan([t], msk(1, 11, 11, month=12), rules) == []
    assert [a.kind for a in plan([t], msk(1, 11, 12, month=12), rules)] == [sweep.NEAR]


def test_no_dm_once_the_agent_answered(rules: Rules) -> None:
    t = claimed(first_response_at=START + timedelta(hours=1), status=Status.WAITING,
                waiting_since=START + timedelta(hours=1))
    assert [a.kind for a in plan([t], START + timedelta(hours=3, minutes=30), rules)] == []


# --- SLA breach ----------------------------------------------------------------------------


def test_breach_escalates_once_after_the_grace(rules: Rules) -> None:
    t = ticket(first_response_due=START + timedelta(hours=4))
    early = plan([t], START + timedelta(hours=4, minutes=29), rules)
    assert sweep.BREACH not in [a.kind for a in early]
    acts = plan([t], START + timedelta(hours=4, minutes=30), rules)
    assert [a.kind for a in acts] == [sweep.BREACH]  # the escalation replaces the unclaimed pings
    assert acts[0].detail["what"] == "first_response"
    assert acts[0].key == "breach:12:first_response:20261130T110000Z"
    done = done_now(acts, START + timedelta(hours=4, minutes=30))
    # Escalated: back in the (L2) queue since then; no second escalation for the same due.
    after = ticket(first_response_due=t.first_response_due, tier="L2", unclaimed_since=START + timedelta(hours=4, minutes=30))
    assert sweep.BREACH not in [a.kind for a in plan([after], START + timedelta(hours=6), rules, done=done)]


def test_resolution_breach_counts_only_while_the_sla_clock_runs(rules: Rules) -> None:
    base = {"first_response_due": START + timedelta(hours=4), "first_response_at": START + timedelta(hours=1),
            "resolution_due": START + timedelta(hours=8), "assignee_id": 7}
    late = msk(1, 9, 30, month=12)  # due 18:00, then 30 business minutes: next morning
    running = ticket(status=Status.CLAIMED, **base)
    assert plan([running], late - timedelta(minutes=1), rules) == []
    assert [(a.kind, a.detail["what"]) for a in plan([running], late, rules)] == [(sweep.BREACH, "resolution")]
    waiting = ticket(status=Status.WAITING, waiting_since=START + timedelta(hours=1), **base)
    assert sweep.BREACH not in [a.kind for a in plan([waiting], late, rules)]
    paused = ticket(status=Status.CLAIMED, sla_paused_at=START + timedelta(hours=2), **base)
    assert plan([paused], late, rules) == []


# --- waiting on the requester --------------------------------------------------------------


def test_waiting_reminds_then_resolves_after_the_reminder(rules: Rules) -> None:
    since = msk(30, 12)  # Monday 12:00: two business days → Wednesday 12:00
    t = ticket(status=Status.WAITING, assignee_id=7, first_response_at=since, waiting_since=since)
    assert plan([t], msk(2, 11, 59, month=12), rules) == []
    remind = plan([t], msk(2, 12, month=12), rules)
    assert [a.kind for a in remind] == [sweep.REMIND]
    assert remind[0].detail["resolve_after"] == "3d"  # told to the requester: three working days
    done = done_now(remind, msk(2, 12, month=12))
    # Three business days after the reminder: Wed 12:00 → Mon 7 Dec 12:00 (the weekend does not count).
    assert plan([t], msk(7, 11, 59, month=12), rules, done=done) == []
    resolve = plan([t], msk(7, 12, month=12), rules, done=done)
    assert [a.kind for a in resolve] == [sweep.AUTO_RESOLVE]


def test_a_late_sweep_reminds_first_and_never_resolves_unwarned(rules: Rules) -> None:
    since = msk(30, 12)
    t = ticket(status=Status.WAITING, assignee_id=7, first_response_at=since, waiting_since=since)
    late = msk(14, 12, month=12)  # two weeks later: both stages long past by the clock
    acts = plan([t], late, rules)
    assert [a.kind for a in acts] == [sweep.REMIND]
    assert plan([t], late + timedelta(hours=1), rules, done=done_now(acts, late)) == []


# --- resolved without a rating ---------------------------------------------------------------


def test_unrated_is_closed_after_three_business_days(rules: Rules) -> None:
    t = ticket(status=Status.RESOLVED, resolved_at=msk(4, 17, month=12))  # Friday 17:00
    assert plan([t], msk(9, 16, 59, month=12), rules) == []
    assert [a.kind for a in plan([t], msk(9, 17, month=12), rules)] == [sweep.CLOSE]  # Wednesday 17:00
    assert plan([ticket(status=Status.RESOLVED, resolved_at=msk(4, 17, month=12), csat=4)],
                msk(20, 12, month=12), rules) == []


# --- agents off shift or away -------------------------------------------------------------------


def agent(**kw: Any) -> AgentState:
    values: dict[str, Any] = {"person_id": 7, "key": "boris", "team": "it", "tickets": (12, 13)}
    values.update(kw)
    return AgentState(**values)


def test_off_shift_agent_is_reported_once_per_shift(rules: Rules) -> None:
    assert plan([], msk(30, 17, 59), rules, agents=[agent()]) == []  # on shift
    evening = plan([], msk(30, 18, 1), rules, agents=[agent()])
    assert [(a.kind, a.key, a.detail["tickets"]) for a in evening] == [
        (sweep.OFF_SHIFT, "off_shift:it:boris:20261130T150000Z", [12, 13])]
    done = done_now(evening, msk(30, 18, 1))
    assert plan([], msk(30, 23), rules, agents=[agent()], done=done) == []
    assert plan([], msk(1, 8, 59, month=12), rules, agents=[agent()], done=done) == []
    assert plan([], msk(1, 12, month=12), rules, agents=[agent()], done=done) == []
    nxt = plan([], msk(1, 18, 30, month=12), rules, agents=[agent()], done=done)
    assert keys(nxt) == ["off_shift:it:boris:20261201T150000Z"]
    assert plan([], msk(30, 19), rules, agents=[agent(tickets=())]) == []  # holds nothing: nothing to say


def test_off_shift_at_the_weekend_keys_by_fridays_end(rules: Rules) -> None:
    acts = plan([], msk(6, 11, month=12), rules, agents=[agent()])  # Sunday
    assert keys(acts) == ["off_shift:it:boris:20261204T150000Z"]


def test_away_is_reported_once_per_away_period(rules: Rules) -> None:
    away = agent(away=True, away_since=msk(30, 11))
    acts = plan([], msk(30, 11, 1), rules, agents=[away])  # during the shift
    assert [(a.kind, a.key) for a in acts] == [(sweep.AWAY, "away:it:boris:20261130T080000Z")]
    done = done_now(acts, msk(30, 11, 1))
    assert plan([], msk(30, 19), rules, agents=[away], done=done) == []  # not again when the shift ends
    again = plan([], msk(1, 11, month=12), rules, agents=[agent(away=True, away_since=msk(1, 10, month=12))], done=done)
    assert [a.kind for a in again] == [sweep.AWAY]


# --- catching up after an outage ---------------------------------------------------------------


def test_after_a_three_day_outage_each_ticket_gets_one_catch_up(rules: Rules) -> None:
    due = START + timedelta(hours=4)
    tickets = [
        ticket(id=1),  # unclaimed, SLA breached
        ticket(id=2, first_response_due=None, resolution_due=None),  # unclaimed, no SLA
        ticket(id=3, status=Status.CLAIMED, assignee_id=7, first_response_at=START),  # answered: nothing due
        ticket(id=4, status=Status.WAITING, assignee_id=7, first_response_at=START, waiting_since=START),
        ticket(id=5, status=Status.RESOLVED, resolved_at=START),
    ]
    tickets[0] = ticket(id=1, first_response_due=due)
    later = START + timedelta(days=3, hours=10)  # Thursday 20:00: three days of sweeps missed
    acts = plan(tickets, later, rules, agents=[agent(tickets=(3, 4))])
    per_ticket = [a.ticket_id for a in acts if a.ticket_id is not None]
    assert sorted(per_ticket) == [1, 2, 4, 5]  # one each, not one per missed minute
    kinds = {a.ticket_id: a.kind for a in acts}
    assert kinds[1] == sweep.BREACH and kinds[2] == sweep.LEAD and kinds[4] == sweep.REMIND
    assert kinds[5] == sweep.CLOSE
    assert dict(acts[[a.ticket_id for a in acts].index(2)].covers) == {"unclaimed:2:20261130T070000Z:repost": sweep.COVERED}
    assert [a.kind for a in acts if a.ticket_id is None] == [sweep.OFF_SHIFT]
    done = done_now(acts, later)
    assert [a.kind for a in plan(tickets, later + timedelta(minutes=1), rules, agents=[agent(tickets=(3, 4))],
                                 done=done)] == []


def test_last_shift_end_is_stable_whatever_the_minute_of_the_sweep(rules: Rules) -> None:
    shift = rules.shift("boris", "it")
    for late in (msk(30, 18, 0), msk(30, 18, 0) + timedelta(seconds=37), msk(30, 21, 13), msk(1, 8, 59, month=12)):
        assert sweep.last_shift_end(shift, late) == msk(30, 18)
    assert sweep.last_shift_end(shift, msk(6, 12, month=12)) == msk(4, 18, month=12)  # Sunday: Friday's end


def test_a_working_day_is_the_calendars_length(rules: Rules) -> None:
    from scheduler.calendar import ALWAYS

    assert sweep.day_minutes(rules.calendar("it")) == 9 * 60
    assert sweep.day_minutes(ALWAYS) == 24 * 60


@pytest.mark.parametrize(
    ("span", "en", "ru"),
    [("3d", "3 working days", "3 рабочих дня"), ("1d4h", "1 working day 4h", "1 рабочий день 4 ч"),
     ("5d", "5 working days", "5 рабочих дней"), ("90m", "1h 30m", "1 ч 30 мин")],
)
def test_business_spans_read_as_working_days_and_hours(span: str, en: str, ru: str) -> None:
    from bot.config import BusinessSpan
    from handlers.scheduled import span_text
    from handlers.texts import translator

    assert span_text(translator("en"), BusinessSpan.model_validate(span)) == en
    assert span_text(translator("ru"), BusinessSpan.model_validate(span)) == ru


def test_day_minutes_is_computed_once_per_calendar(monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import time
    from scheduler.calendar import BusinessCalendar

    calendar = BusinessCalendar(intervals=((time(9), time(17)),))
    calls: list[object] = []
    real = BusinessCalendar.between
    monkeypatch.setattr(BusinessCalendar, "between", lambda self, a, b: calls.append(a) or real(self, a, b))
    assert sweep.day_minutes(calendar) == 8 * 60
    first = len(calls)
    assert first > 0
    assert sweep.day_minutes(calendar) == 8 * 60
    assert len(calls) == first  # memoised: the filing path does not recompute it
