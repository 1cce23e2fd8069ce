"""Two ticket actions at the same moment, through the real engine, on SQLite and PostgreSQL.

For every pair of claim, resolve, escalate, assign, release and reopen (and each action
twice) both presses go into ``Engine.handle`` concurrently. The end state must be one that
a serial order of the two presses produces, and the audit trail must list exactly the
actions that took effect in that order (a release that "won" while the ticket still shows
the assignee would be a lost update).

The expected outcomes come from a small model of the rules below, not from the code
under test.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import pytest

from bot.config import Config
from handlers.events import Incoming
from store import tickets
from tests.support.clock import FakeClock
from tests.support.desk import PLATFORM, Desk
from tests.support.scenarios import add_agents, make_config, open_desk, open_ticket, person_id, ticket_events

TYPED = {"resolve": "/resolve {n}", "escalate": "/escalate {n} needs L2"}
ACTIONS = ("claim", "resolve", "escalate", "assign", "release", "reopen")
PAIRS = list(itertools.combinations_with_replacement(ACTIONS, 2))
# Who presses, per side: claims by two different agents; owner/lead actions by the lead
# (allowed whoever holds the ticket); reopen by the requester.
ACTOR = {"claim": ("boris", "vera"), "resolve": ("gleb", "gleb"), "escalate": ("gleb", "gleb"),
         "assign": ("gleb", "gleb"), "release": ("gleb", "gleb"), "reopen": ("anna", "anna")}
ASSIGN_TO = "vera"
TIERS = ("L1", "L2", "L3")


@dataclass(frozen=True)
class State:
    status: str
    assignee: str | None
    tier: str


def apply(state: State, action: str, actor: str) -> tuple[State, str | None]:
    """The rules: the state after ``action`` and the audit action it writes (None: refused)."""
    open_ = state.status in ("new", "claimed", "waiting")
    if action == "claim":
        if state.status == "new" and state.assignee is None:
            return replace(state, status="claimed", assignee=actor), "claim"
    elif action == "resolve":
        if open_:
            return replace(state, status="resolved"), "resolve"
    elif action == "escalate":
        if open_ and state.tier != TIERS[-1]:
            return State("new", None, TIERS[TIERS.index(state.tier) + 1]), "escalate"
    elif action == "assign":
        if open_:
            status = "claimed" if state.status == "new" else state.status
            return replace(state, status=status, assignee=ASSIGN_TO), "assign"
    elif action == "release":
        if state.status in ("claimed", "waiting"):
            return replace(state, status="new", assignee=None), "release"
    elif action == "reopen":
        if state.status == "resolved":
            return replace(state, status="claimed" if state.assignee else "new"), "reopen"
    return state, None


def setup_state(pair: tuple[str, str]) -> str:
    """The state the ticket is put in so that at least one of the two presses applies."""
    if "reopen" in pair:
        return "resolved"
    if "claim" in pair:
        return "new"
    return "claimed"


@pytest.fixture
async def desk(db_url: str, clock: FakeClock) -> AsyncIterator[Desk]:
    config: Config = make_config(add_agents("it", "L3", ["lev"]))  # every tier staffed
    async with open_desk(config, db_url, clock) as desk:
        yield desk


@pytest.mark.parametrize("pair", PAIRS, ids=["-".join(p) for p in PAIRS])
async def test_two_concurrent_actions_end_like_a_serial_order(desk: Desk, pair: tuple[str, str]) -> None:
    number = await open_ticket(desk, "anna", "принтер не печатает")
    start = State("new", None, "L1")
    wanted = setup_state(pair)
    if wanted in ("claimed", "resolved"):
        await desk.click("boris", "claim", number)
        start = State("claimed", "boris", "L1")
    if wanted == "resolved":
        await desk.say("gleb", f"/resolve {number}")  # the button asks for a note first
        start = State("resolved", "boris", "L1")
    before = len(await ticket_events(desk, number))
    async with desk.app.db.transaction() as s:
        ticket = await tickets.get_ticket(s, number)
        assert ticket is not None
        version_before = ticket.version
    assert (ticket.status, ticket.tier) == (start.status, start.tier)

    presses = []
    for side, action in enumerate(pair):
        who = ACTOR[action][side]
        if action in TYPED:  # their buttons ask for a note / reason first; the command acts at once
            presses.append(Incoming(
                platform=PLATFORM, chat_id=who, user_id=who, event_key=f"race:{side}:{action}",
                text=TYPED[action].format(n=number),
            ))
            continue
        presses.append(Incoming(
            platform=PLATFORM, chat_id=who, user_id=who, event_key=f"race:{side}:{action}",
            action=action, ticket_id=number, value=ASSIGN_TO if action == "assign" else None,
        ))
    outcomes = await asyncio.gather(*(desk.app.engine.handle(p) for p in presses))
    assert not any(o.duplicate for o in outcomes)

    # Every serial order of the two presses, as the rules say it ends.
    serial: list[tuple[State, list[tuple[str, str]]]] = []
    for order in ((0, 1), (1, 0)):
        state, trail = start, []
        for side in order:
            action = pair[side]
            actor = ACTOR[action][side]
            state, effect = apply(state, action, actor)
            if effect is not None:
                trail.append((effect, actor))
        serial.append((state, trail))

    ids = {key: await person_id(desk, key) for key in ("anna", "boris", "vera", "gleb")}
    names = {v: k for k, v in ids.items()}
    async with desk.app.db.transaction() as s:
        final = await tickets.get_ticket(s, number)
    assert final is not None
    got_state = State(final.status, names.get(final.assignee_id) if final.assignee_id else None, final.tier)
    trail_rows = [e for e in (await ticket_events(desk, number))[before:] if e.action not in ("denied", "system")]  # system: the escalation reason in the history
    got_trail = [(e.action, names[e.actor_id]) for e in trail_rows if e.actor_id is not None]
    assert (got_state, got_trail) in serial, f"got {got_state} {got_trail}; serial orders give {serial}"
    # Each change that took effect bumped the version once: none was overwritten.
    # (An escalation's reason is also written to the history, which touches the ticket once more.)
    escalations = sum(1 for action, _ in got_trail if action == "escalate")
    assert final.version == version_before + len(got_trail) + escalations
    # The resolve audit and the stored resolve time agree.
    assert (final.resolved_at is not None) == (final.status == "resolved")
