"""Where a team has a shared queue chat (Telegram group, Slack channel) instead of DMs."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest

from bot.app import App, build
from bot.config import Config
from handlers.events import Incoming
from tests.support.clock import FakeClock
from tests.support.desk import RecordingSender
from tests.support.scenarios import FakeKb

IT_QUEUE = "-1001000000001"
ANNA, BORIS, VERA = "100001", "100002", "100003"


@pytest.fixture
async def tg(config: Config, sqlite_url: str, clock: FakeClock) -> AsyncIterator[App]:
    app = build(config, senders={"telegram": RecordingSender(platform="telegram")},
                database_url=sqlite_url, clock=clock, kb=FakeKb())
    await app.start()
    yield app
    await app.close()


_keys = itertools.count(1)


async def send(app: App, user: str, *, chat: str | None = None, text: str = "", action: str | None = None,
               ticket: int | None = None, value: str | None = None) -> None:
    await app.engine.handle(Incoming(
        platform="telegram", chat_id=chat or user, user_id=user, event_key=f"tg:{next(_keys)}",
        text=text, action=action, ticket_id=ticket, value=value, is_private=chat is None,
    ))
    while await app.worker.deliver_pending():
        pass


def inbox(app: App, chat: str) -> list:
    sender = app.senders["telegram"]
    assert isinstance(sender, RecordingSender)
    return [m for m in sender.messages if m.chat == chat]


async def file_ticket(app: App) -> None:
    await send(app, ANNA, text="принтер не печатает")
    await send(app, ANNA, action="cat_ok")


async def test_new_ticket_card_goes_to_the_team_chat_not_to_agents(tg: App) -> None:
    await file_ticket(tg)
    cards = inbox(tg, IT_QUEUE)
    assert len(cards) == 1 and cards[0].ticket_id == 1 and "Claim" in cards[0].labels()
    assert inbox(tg, BORIS) == []


async def test_claim_in_the_team_chat_edits_the_card(tg: App) -> None:
    await file_ticket(tg)
    await send(tg, BORIS, chat=IT_QUEUE, action="claim", ticket=1)
    queue = inbox(tg, IT_QUEUE)
    assert queue[-1].edited and "Boris Petrov" in queue[-1].text


async def test_escalation_edits_the_card_and_pings_the_next_tier(tg: App) -> None:
    await file_ticket(tg)
    await send(tg, BORIS, chat=IT_QUEUE, action="claim", ticket=1)
    before = len(inbox(tg, IT_QUEUE))
    await send(tg, BORIS, chat=IT_QUEUE, action="escalate", ticket=1)
    new = inbox(tg, IT_QUEUE)[before:]
    edited = [m for m in new if m.edited]
    notices = [m for m in new if not m.edited and m.ticket_id == 1 and "L2" in m.text and m.buttons]
    assert edited and "L2" in edited[-1].text
    assert len(notices) == 1 and notices[0].buttons[0].action == "claim"
    # The confirmation in the team chat names the ticket too (the sender threads it there).
    assert all(m.ticket_id == 1 for m in new)


async def test_team_chat_chatter_is_ignored(tg: App) -> None:
    await send(tg, BORIS, chat=IT_QUEUE, text="кто-нибудь обедать идёт?")
    assert inbox(tg, IT_QUEUE) == []


async def test_a_rating_out_of_range_is_explained(tg: App) -> None:
    await file_ticket(tg)
    await send(tg, BORIS, chat=IT_QUEUE, action="claim", ticket=1)
    await send(tg, BORIS, chat=IT_QUEUE, action="resolve", ticket=1)
    await send(tg, ANNA, action="rate", ticket=1, value="9")
    assert "от 1 до 5" in inbox(tg, ANNA)[-1].text
