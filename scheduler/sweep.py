"""The sweep: what is due now about tickets that wait, decided by a pure policy.

- :func:`plan` is pure: ``(tickets, now, rules) -> actions`` (plus the agents holding
  tickets, and the actions already done). Nothing here reads the clock or the database.
- :func:`sweep_once` is the thin job: it loads the state, calls :func:`plan`, and applies
  each action through the engine's code (``handlers.scheduled``) in its own transaction,
  together with its row in ``scheduled_action``.

Every action has a **key** naming the rule's stage for one occasion — the ticket's wait
that started at an instant, an SLA due time, an agent's shift that ended at an instant —
never the sweep's tick (``unclaimed:12:20261130T070000Z:repost``). The key is unique in
the database and written with the action's effects, so a restart, a second sweep or a
second process never repeats an action; after a long outage the next sweep finds each
stage due once, and a later stage that is due already stands for the earlier ones
(``covers``): one catch-up, not one per missed minute.

All waiting is measured in business time of the team's calendar
(:func:`scheduler.calendar.for_team`; an agent's shift: :func:`scheduler.calendar.for_person`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import BusinessSpan, Config, SweepRuleSet
from handlers import home
from handlers import scheduled as do
from handlers.context import Context, system_context
from scheduler.calendar import BusinessCalendar, day_minutes, for_person, for_team
from store import people
from store import scheduled as store
from store.models import OPEN_STATUSES, Status, Ticket

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger("deskbot.sweep")

# Action kinds (``scheduled_action.kind``).
REPOST = "unclaimed_repost"
LEAD = "unclaimed_lead"
NEAR = "response_near"
OVERDUE = "response_overdue"
BREACH = "sla_breach"
REMIND = "waiting_remind"
AUTO_RESOLVE = "waiting_resolve"
CLOSE = "unrated_close"
OFF_SHIFT = "off_shift"
AWAY = "away"
COVERED = "covered"  # a stage a later one stood for (after an outage): recorded, not acted on

SHIFT_LOOKBACK_DAYS = 14  # how far back an agent's last shift end is looked for


# --- the state the policy reads ---------------------------------------------------------


@dataclass(frozen=True)
class TicketState:
    """What the policy needs to know about one ticket."""

    id: int
    team: str
    priority: str
    status: str
    tier: str
    created_at: datetime
    assignee_id: int | None = None
    first_response_due: datetime | None = None
    resolution_due: datetime | None = None
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    csat: int | None = None
    sla_paused_at: datetime | None = None
    unclaimed_since: datetime | None = None  # back in the queue since (default: filed)
    waiting_since: datetime | None = None  # waiting on the requester since (the last agent reply)

    @classmethod
    def of(cls, ticket: Ticket, *, unclaimed_since: datetime | None = None,
           waiting_since: datetime | None = None) -> TicketState:
        assert ticket.id is not None
        return cls(
            id=ticket.id, team=ticket.team, priority=ticket.priority, status=ticket.status, tier=ticket.tier,
            created_at=ticket.created_at, assignee_id=ticket.assignee_id,
            first_response_due=ticket.first_response_due, resolution_due=ticket.resolution_due,
            first_response_at=ticket.first_response_at, resolved_at=ticket.resolved_at, csat=ticket.csat,
            sla_paused_at=ticket.sla_paused_at, unclaimed_since=unclaimed_since, waiting_since=waiting_since,
        )


@dataclass(frozen=True)
class AgentState:
    """An agent holding open tickets in one team."""

    person_id: int
    key: str
    team: str
    tickets: tuple[int, ...]
    away: bool = False
    away_since: datetime | None = None  # their latest /away (None: not recorded)


@dataclass(frozen=True)
class Action:
    """One thing to do now. ``covers``: (key, kind) of earlier stages this one stands for."""

    key: str
    kind: str
    team: str
    due_at: datetime
    ticket_id: int | None = None
    person_id: int | None = None
    covers: tuple[tuple[str, str], ...] = ()
    detail: Mapping[str, Any] = field(default_factory=dict)


class Rules:
    """The sweep's configuration as the policy asks for it (pure; caches per team)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._rules: dict[tuple[str, str | None], SweepRuleSet] = {}
        self._day: dict[str, float] = {}

    def of(self, team: str, priority: str | None) -> SweepRuleSet:
        key = (team, priority)
        if key not in self._rules:
            self._rules[key] = self.config.sweep.rules(team, priority)
        return self._rules[key]

    def calendar(self, team: str) -> BusinessCalendar:
        return for_team(self.config, team)

    def shift(self, person: str, team: str) -> BusinessCalendar:
        return for_person(self.config, person, team)

    def minutes(self, team: str, span: BusinessSpan) -> float:
        """A span in business minutes: a working day is as long as the calendar's longest day."""
        if span.days and team not in self._day:
            self._day[team] = day_minutes(self.calendar(team))
        return span.minutes + span.days * self._day.get(team, 0.0)

    def after(self, team: str, start: datetime, span: BusinessSpan) -> datetime:
        """The instant ``span`` of ``team``'s business time after ``start``."""
        return self.calendar(team).add(start, self.minutes(team, span))


def last_shift_end(shift: BusinessCalendar, now: datetime) -> datetime | None:
    """The end of the latest working window before ``now`` (``now`` is off shift), to the minute;
    ``None`` when there was none in :data:`SHIFT_LOOKBACK_DAYS` days."""
    base = now.astimezone(UTC).replace(second=0, microsecond=0)
    reach = SHIFT_LOOKBACK_DAYS * 24 * 60

    def worked_since(k: int) -> bool:
        return shift.between(base - timedelta(minutes=k), now) > 0

    if not worked_since(reach):
        return None
    lo, hi = 0, reach  # worked_since(lo) is false (off shift), worked_since(hi) true
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if worked_since(mid) else (mid, hi)
    return base - timedelta(minutes=lo)


def stamp(instant: datetime) -> str:
    """An instant as it appears in keys: ``20261130T070000Z``."""
    return instant.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


# --- the policy -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Stage:
    kind: str
    key: str
    at: datetime
    detail: Mapping[str, Any] = field(default_factory=dict)


def _latest(ticket: TicketState, stages: Iterable[_Stage], now: datetime, done: Mapping[str, datetime]) -> list[Action]:
    """The latest stage that is due (once), standing for the earlier due ones not done."""
    due = sorted((st for st in stages if st.at <= now), key=lambda st: st.at)
    if not due or due[-1].key in done:
        return []
    last = due[-1]
    covers = tuple((st.key, COVERED) for st in due[:-1] if st.key not in done)
    return [Action(key=last.key, kind=last.kind, team=ticket.team, due_at=last.at, ticket_id=ticket.id,
                   person_id=ticket.assignee_id, covers=covers, detail=dict(last.detail))]


def _unclaimed(t: TicketState, r: SweepRuleSet, rules: Rules) -> list[_Stage]:
    if t.status != Status.NEW:
        return []
    since = t.unclaimed_since or t.created_at
    base = f"unclaimed:{t.id}:{stamp(since)}"
    stages = []
    for kind, span, suffix in ((REPOST, r.unclaimed_repost, "repost"), (LEAD, r.unclaimed_lead, "lead")):
        if span is not None:
            stages.append(_Stage(kind, f"{base}:{suffix}", rules.after(t.team, since, span),
                                 {"since": since.isoformat(), "tier": t.tier}))
    return stages


def _no_response(t: TicketState, r: SweepRuleSet, rules: Rules) -> list[_Stage]:
    if t.status != Status.CLAIMED or t.first_response_at is not None or t.assignee_id is None:
        return []
    due = t.first_response_due
    if due is None:
        return []
    base = f"response:{t.id}:{t.assignee_id}:{stamp(due)}"
    stages = []
    if r.response_warn is not None:
        cal = rules.calendar(t.team)
        at = cal.add(t.created_at, r.response_warn * cal.between(t.created_at, due))
        stages.append(_Stage(NEAR, f"{base}:near", at))
    if r.response_overdue is not None:
        stages.append(_Stage(OVERDUE, f"{base}:overdue", rules.after(t.team, due, r.response_overdue)))
    return stages


def _breaches(t: TicketState, r: SweepRuleSet, rules: Rules) -> list[_Stage]:
    """SLA dues passed (plus the grace): the first response while there is none; the resolution
    while the SLA clock runs (not while the ticket waits on the requester)."""
    if r.escalate_after is None or t.status not in OPEN_STATUSES:
        return []
    dues: list[tuple[str, datetime]] = []
    if t.first_response_at is None and t.first_response_due is not None:
        dues.append(("first_response", t.first_response_due))
    if t.status != Status.WAITING and t.sla_paused_at is None and t.resolution_due is not None:
        dues.append(("resolution", t.resolution_due))
    return [_Stage(BREACH, f"breach:{t.id}:{what}:{stamp(due)}", rules.after(t.team, due, r.escalate_after),
                   {"what": what, "due": due.isoformat()}) for what, due in dues]


def _waiting(t: TicketState, r: SweepRuleSet, rules: Rules, now: datetime, done: Mapping[str, datetime]) -> list[Action]:
    """Remind the requester once; resolve ``waiting_resolve`` after the reminder (never before
    they were reminded, even after an outage)."""
    if t.status != Status.WAITING:
        return []
    since = t.waiting_since or t.created_at
    base = f"waiting:{t.id}:{stamp(since)}"
    remind_key, resolve_key = f"{base}:remind", f"{base}:resolve"
    if r.waiting_remind is not None and remind_key not in done:
        at = rules.after(t.team, since, r.waiting_remind)
        after = str(r.waiting_resolve) if r.waiting_resolve is not None else None
        return _latest(t, [_Stage(REMIND, remind_key, at, {"resolve_after": after})], now, done)
    if r.waiting_resolve is None:
        return []
    start = done[remind_key] if r.waiting_remind is not None else since
    return _latest(t, [_Stage(AUTO_RESOLVE, resolve_key, rules.after(t.team, start, r.waiting_resolve))], now, done)


def _unrated(t: TicketState, r: SweepRuleSet, rules: Rules) -> list[_Stage]:
    if t.status != Status.RESOLVED or t.csat is not None or t.resolved_at is None or r.unrated_close is None:
        return []
    return [_Stage(CLOSE, f"unrated:{t.id}:{stamp(t.resolved_at)}:close",
                   rules.after(t.team, t.resolved_at, r.unrated_close))]


def ticket_actions(t: TicketState, now: datetime, rules: Rules, done: Mapping[str, datetime]) -> list[Action]:
    """What is due about one ticket. A breach escalation stands for the queue and assignee pings
    due at the same time (the escalation tells the new tier and the lead)."""
    r = rules.of(t.team, t.priority)
    pings = _latest(t, _unclaimed(t, r, rules), now, done) + _latest(t, _no_response(t, r, rules), now, done)
    breach = _latest(t, _breaches(t, r, rules), now, done)
    if breach:
        covered = tuple((p.key, COVERED) for p in pings) + tuple(c for p in pings for c in p.covers)
        return [replace(breach[0], covers=breach[0].covers + covered)]
    return pings + _waiting(t, r, rules, now, done) + _latest(t, _unrated(t, r, rules), now, done)


def agent_actions(a: AgentState, now: datetime, rules: Rules, done: Mapping[str, datetime]) -> list[Action]:
    """An agent holding tickets who is ``/away`` or off shift: their team's lead is told, once
    per away period (keyed by the ``/away``) or off-shift period (keyed by the shift's end)."""
    if not a.tickets or not rules.of(a.team, None).off_shift_notice:
        return []
    if a.away:
        since = a.away_since
        key, kind, due = f"away:{a.team}:{a.key}:{stamp(since) if since else '-'}", AWAY, since or now
    else:
        shift = rules.shift(a.key, a.team)
        if shift.is_working(now):
            return []
        end = last_shift_end(shift, now)
        if end is None:
            return []
        key, kind, due = f"off_shift:{a.team}:{a.key}:{stamp(end)}", OFF_SHIFT, end
    if key in done:
        return []
    return [Action(key=key, kind=kind, team=a.team, due_at=due, person_id=a.person_id,
                   detail={"tickets": list(a.tickets)})]


def plan(tickets: Iterable[TicketState], now: datetime, rules: Rules, *, agents: Iterable[AgentState] = (),
         done: Mapping[str, datetime] | None = None) -> list[Action]:
    """Every action due at ``now``, each once: keys in ``done`` (key → when done) are not repeated."""
    done = done or {}
    out: list[Action] = []
    for t in tickets:
        out += ticket_actions(t, now, rules, done)
    for a in agents:
        out += agent_actions(a, now, rules, done)
    return out


# --- the job ----------------------------------------------------------------------------


@dataclass
class Snapshot:
    tickets: list[TicketState]
    agents: list[AgentState]
    done: dict[str, datetime]
    rows: dict[int, Ticket]


async def load(s: AsyncSession, config: Config, *, ticket_id: int | None = None, assignee_id: int | None = None,
               for_update: bool = False) -> Snapshot:
    """The state :func:`plan` reads (all candidates, or one ticket's / one agent's)."""
    rows = [t for t in await store.candidates(s, ticket_id=ticket_id, assignee_id=assignee_id, for_update=for_update)
            if t.team in config.teams]  # a team taken out of the config has no queue to ping
    ids = [t.id for t in rows if t.id is not None]
    back = await store.unclaimed_since(s, [t.id for t in rows if t.status == Status.NEW and t.id])
    replied = await store.last_agent_reply(s, [t.id for t in rows if t.status == Status.WAITING and t.id])
    states = [TicketState.of(t, unclaimed_since=back.get(t.id), waiting_since=replied.get(t.id))  # type: ignore[arg-type]
              for t in rows]
    held: dict[tuple[int, str], list[int]] = {}
    for t in rows:
        if t.assignee_id is not None and t.status in (Status.CLAIMED, Status.WAITING) and t.id is not None:
            held.setdefault((t.assignee_id, t.team), []).append(t.id)
    persons = await store.persons(s, sorted({pid for pid, _ in held}))
    away = await store.away_since(s, [p for p, person in persons.items() if person.away])
    agents = [AgentState(person_id=pid, key=persons[pid].key, team=team, tickets=tuple(ids_),
                         away=persons[pid].away, away_since=away.get(pid))
              for (pid, team), ids_ in sorted(held.items()) if pid in persons and team in config.teams]
    done = await store.done_for_tickets(s, ids)
    return Snapshot(states, agents, done, {t.id: t for t in rows if t.id is not None})


async def sweep_once(app: App, now: datetime | None = None) -> list[Action]:
    """Load, plan, apply: returns the actions taken now (an action another sweep took first,
    or no longer due when its turn came, is left out)."""
    now = now or app.engine.clock()
    rules = Rules(app.config)
    async with app.db.transaction() as s:
        snap = await load(s, app.config)
        actions = plan(snap.tickets, now, rules, agents=snap.agents, done=snap.done)
        taken = await store.existing_keys(s, [a.key for a in actions if a.ticket_id is None])
    taken_now = [a for a in actions if a.key not in taken]
    applied = [a for a in taken_now if await _apply(app, rules, a, now)]
    if applied:
        log.info("sweep took %d action(s)", len(applied), extra={"actions": [a.key for a in applied]})
    return applied


async def _apply(app: App, rules: Rules, action: Action, now: datetime) -> bool:
    """One action in one transaction with its ``scheduled_action`` row(s); re-planned on the
    locked, current state first (a ticket claimed meanwhile is not pinged)."""
    try:
        async with app.db.transaction() as s:
            fresh = await load(s, app.config, ticket_id=action.ticket_id, assignee_id=action.person_id
                               if action.ticket_id is None else None, for_update=True)
            if action.ticket_id is None:
                fresh.done.update({k: now for k in await store.existing_keys(s, [action.key])})
                fresh.agents = [a for a in fresh.agents if a.team == action.team]
            again = {a.key: a for a in plan(fresh.tickets, now, rules, agents=fresh.agents, done=fresh.done)}
            current = again.get(action.key)
            if current is None:
                return False
            rows = [store.Record(current.key, current.kind, current.ticket_id, current.team, current.due_at,
                                 dict(current.detail))]
            rows += [store.Record(key, kind, current.ticket_id, current.team, current.due_at, {"covered_by": current.key})
                     for key, kind in current.covers]
            await store.record(s, rows, now)
            ctx = system_context(s, app.config, now, app.platforms, occasion=current.key)
            await APPLY[current.kind](ctx, current, fresh, rules)
            await home.refresh(ctx)  # Slack Homes that show these tickets, as after any event
            await ctx.flush()
    except IntegrityError:
        log.info("sweep action already taken elsewhere", extra={"key": action.key})
        return False
    except Exception:  # noqa: BLE001 — one broken action must not stop the others
        log.exception("sweep action failed", extra={"key": action.key, "ticket": action.ticket_id})
        return False
    log.info("sweep action", extra={"key": action.key, "ticket": action.ticket_id, "kind": action.kind})
    return True


# --- applying each kind (through the engine's code) ---------------------------------------

Apply = Callable[[Context, Action, Snapshot, Rules], Awaitable[None]]


def _ticket(snap: Snapshot, action: Action) -> Ticket:
    assert action.ticket_id is not None
    return snap.rows[action.ticket_id]


def _waited(snap: Snapshot, action: Action, rules: Rules, now: datetime) -> float:
    since = datetime.fromisoformat(str(action.detail["since"]))
    return rules.calendar(action.team).between(since, now)


async def _repost(ctx: Context, action: Action, snap: Snapshot, rules: Rules) -> None:
    await do.repost_unclaimed(ctx, _ticket(snap, action), _waited(snap, action, rules, ctx.now))


async def _lead(ctx: Context, action: Action, snap: Snapshot, rules: Rules) -> None:
    await do.ping_lead_unclaimed(ctx, _ticket(snap, action), _waited(snap, action, rules, ctx.now))


async def _near(ctx: Context, action: Action, snap: Snapshot, rules: Rules) -> None:
    await do.remind_assignee(ctx, _ticket(snap, action), overdue=action.kind == OVERDUE)


async def _breach(ctx: Context, action: Action, snap: Snapshot, rules: Rules) -> None:
    await do.escalate_breach(ctx, _ticket(snap, action), str(action.detail["what"]),
                             datetime.fromisoformat(str(action.detail["due"])))


async def _remind(ctx: Context, action: Action, snap: Snapshot, rules: Rules) -> None:
    after = action.detail.get("resolve_after")
    await do.remind_requester(ctx, _ticket(snap, action), BusinessSpan.model_validate(after) if after else None)


async def _resolve(ctx: Context, action: Action, snap: Snapshot, rules: Rules) -> None:
    await do.auto_resolve(ctx, _ticket(snap, action))


async def _close(ctx: Context, action: Action, snap: Snapshot, rules: Rules) -> None:
    await do.close_unrated(ctx, _ticket(snap, action))


async def _absent(ctx: Context, action: Action, snap: Snapshot, rules: Rules) -> None:
    assert action.person_id is not None
    person = await people.get_person(ctx.s, action.person_id)
    ids: Sequence[int] = action.detail["tickets"]
    if person is not None:
        await do.tell_leads_of_absence(ctx, action.team, person, [snap.rows[i] for i in ids if i in snap.rows],
                                       away=action.kind == AWAY)


APPLY: dict[str, Apply] = {
    REPOST: _repost, LEAD: _lead, NEAR: _near, OVERDUE: _near, BREACH: _breach,
    REMIND: _remind, AUTO_RESOLVE: _resolve, CLOSE: _close, OFF_SHIFT: _absent, AWAY: _absent,
}
